using Microsoft.Extensions.Options;

namespace OrleansQueue.Gateway;

/// <summary>Tickets and leases over HTTP: acquire, poll, long-poll, release, renew (claim), cancel.</summary>
internal static class RequestEndpoints
{
    public static RouteGroupBuilder MapRequestEndpoints(this RouteGroupBuilder v1)
    {
        var group = v1.MapGroup("/resources/{resource}").WithTags("Requests");

        group.MapPost("/acquire", Acquire).WithOperationId("acquire")
            .WithJsonBody<AcquireBody>()
            .Produces<RequestView>(200).Produces<RequestView>(202)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(413).ProducesProblem(429)
            .WithSummary("Asks for a slot: 200 with a held lease, or 202 with a waiting ticket.");
        group.MapGet("/requests/{id:long}", Status).WithOperationId("getRequest")
            .Produces<RequestView>().ProducesProblem(404)
            .WithSummary("Where a ticket or lease stands; learning of a grant this way claims it.");
        group.MapGet("/requests/{id:long}/wait", Wait).WithOperationId("waitForRequest").EndsWhenTheSiloStops()
            .Produces<RequestView>().ProducesProblem(400).ProducesProblem(404)
            .WithSummary("Long-poll: answers when the ticket leaves the waitlist, or after timeoutMs with it still waiting.");
        group.MapPost("/requests/{id:long}/release", Release).WithOperationId("releaseRequest")
            .WithJsonBody<ReleaseBody>()
            .Produces<RequestView>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(410)
            .WithSummary("Releases a lease, optionally reporting the load actually used and what the upstream answered (upstream).");
        group.MapPost("/requests/{id:long}/report", Report).WithOperationId("reportUpstream")
            .WithJsonBody<UpstreamBody>()
            .Produces<RequestView>().ProducesProblem(400).ProducesProblem(404)
            .WithSummary("Reports what the upstream answered a call made under the lease: status, retryAfterMs, and requests/load budgets (limit, remaining, resetMs). An adaptive resource learns from it.");
        group.MapPost("/requests/{id:long}/renew", Renew).WithOperationId("renewRequest")
            .Produces<RequestView>().ProducesProblem(404).ProducesProblem(409).ProducesProblem(410)
            .WithSummary("Claims a pushed grant, or extends a held lease by one TTL.");
        group.MapDelete("/requests/{id:long}", Cancel).WithOperationId("cancelRequest")
            .Produces<RequestView>().ProducesProblem(404)
            .WithSummary("Cancels a waiting ticket (or releases a grant that raced the cancel).");
        group.MapGet("/requests/{id:long}/events", ServerSentEvents.Stream).WithOperationId("followRequest").CountsAsTenantStream().EndsWhenTheSiloStops()
            .Produces(200, contentType: "text/event-stream").ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Server-sent events of one ticket or lease: its state now, then every change, until it ends.");
        return v1;
    }

    private static async Task<IResult> Acquire(string resource, HttpContext context, RequestOperations operations, IOptions<GatewayOptions> options)
    {
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new AcquireBody(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        return HttpResults.From(await operations.AcquireAsync(context.Caller(), resource, body.Value!, observer: null, context.RequestAborted), HttpResults.Accepted);
    }

    private static async Task<IResult> Status(string resource, long id, HttpContext context, RequestOperations operations) =>
        HttpResults.From(await operations.StatusAsync(context.Caller(), resource, id, context.RequestAborted));

    private static async Task<IResult> Wait(string resource, long id, long? timeoutMs, HttpContext context, RequestOperations operations)
    {
        long maxMs = (long)operations.MaxLongPoll.TotalMilliseconds;
        if (timeoutMs is < 0 || timeoutMs > maxMs)
            return HttpResults.Problem(Problem.Invalid("timeoutMs", $"timeoutMs must be between 0 and {maxMs}; it is {timeoutMs}."));
        var timeout = TimeSpan.FromMilliseconds(timeoutMs ?? Math.Min(30_000, maxMs));
        return HttpResults.From(await operations.WaitAsync(context.Caller(), resource, id, timeout, context.RequestAborted));
    }

    private static async Task<IResult> Release(string resource, long id, HttpContext context, RequestOperations operations, IOptions<GatewayOptions> options)
    {
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new ReleaseBody(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        return HttpResults.From(await operations.ReleaseAsync(context.Caller(), resource, id, body.Value!, context.RequestAborted));
    }

    private static async Task<IResult> Report(string resource, long id, HttpContext context, RequestOperations operations, IOptions<GatewayOptions> options)
    {
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new UpstreamBody(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        return HttpResults.From(await operations.ReportAsync(context.Caller(), resource, id, body.Value!, context.RequestAborted));
    }

    private static async Task<IResult> Renew(string resource, long id, HttpContext context, RequestOperations operations) =>
        HttpResults.From(await operations.RenewAsync(context.Caller(), resource, id, context.RequestAborted));

    private static async Task<IResult> Cancel(string resource, long id, HttpContext context, RequestOperations operations) =>
        HttpResults.From(await operations.CancelAsync(context.Caller(), resource, id, context.RequestAborted));
}
