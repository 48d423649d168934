using OrleansQueue.Grains;

namespace OrleansQueue.Gateway;

/// <summary>
/// What the dashboard page reads: who the key belongs to, one resource's detail, and a live feed of server-sent events
/// that carries the overview (and a resource's detail) about once a second while the page is open. The page itself is
/// static (<see cref="DashboardPage"/>); everything it shows comes through these, under the caller's own key.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>At most this many leases and jobs in a resource's detail.</summary>
    public const int MaxRows = 200;

    /// <summary>How often the feed sends: the page is live without anyone polling /stats.</summary>
    public static readonly TimeSpan FeedInterval = TimeSpan.FromSeconds(1);

    public static RouteGroupBuilder MapDashboardApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/resources/{resource}/detail", Detail).WithOperationId("getResourceDetail").WithTags("Dashboard").Produces<ResourceDetailView>().ProducesProblem(404)
            .WithSummary("A resource's figures, leases with age and TTL, recent events, a timeline of grants and refusals, and its jobs.");
        var group = v1.MapGroup("/dashboard").WithTags("Dashboard");
        group.MapPost("/session", Session).WithOperationId("openDashboardSession").Produces<DashboardSession>()
            .WithSummary("Who the key belongs to. An admin key also gets a short-lived cookie that opens Orleans' own dashboard at /orleans.");
        group.MapGet("/feed", Feed).WithOperationId("followDashboardFeed").CountsAsTenantStream().EndsWhenTheSiloStops().Produces(200, contentType: "text/event-stream").ProducesProblem(404)
            .WithSummary("Server-sent events about once a second: 'overview' (every resource with its figures) and, with ?resource=, 'detail'.");
        return v1;
    }

    private static async Task<IResult> Detail(string resource, HttpContext context, ResourceGrains grains) =>
        HttpResults.From(await grains.CallAsync(resource, g => g.Administration.Detail(context.Caller(), MaxRows), context.RequestAborted));

    private static IResult Session(HttpContext context)
    {
        var caller = context.Caller();
        // Orleans' own dashboard, where the application serves it behind the gate: an admin gets the cookie that opens it.
        string? orleans = null;
        if (caller.IsAdmin && context.RequestServices.GetService<OrleansDashboardGate>() is { } gate)
        {
            gate.IssueCookie(context);
            orleans = OrleansDashboardGate.Path + "/";
        }
        return Results.Json(new DashboardSession(caller.Tenant, caller.IsAdmin, orleans), ApiJson.Options);
    }

    private static async Task Feed(string? resource, HttpContext context, ResourceCatalog catalog, ResourceGrains grains, TimeProvider time)
    {
        if (resource is not null && !Names.IsValidResource(resource))
        {
            await HttpResults.Problem(Problem.UnknownResource(resource)).ExecuteAsync(context);
            return;
        }
        var caller = context.Caller();
        var ct = context.RequestAborted;
        ServerSentEvents.Begin(context.Response);
        using var timer = new PeriodicTimer(FeedInterval, time);
        try
        {
            do
            {
                var overview = await OverviewAsync(caller, catalog, grains, ct);
                await ServerSentEvents.WriteAsync(context, "overview", new DashboardOverview(time.GetUtcNow(), overview), ct);
                if (resource is not null)
                {
                    var detail = await grains.CallAsync(resource, g => g.Administration.Detail(caller, MaxRows), ct, caller.Tenant);
                    if (detail.Problem is { } problem)
                        await ServerSentEvents.WriteAsync(context, "problem", ProblemBody.Of(problem), ct);
                    else
                        await ServerSentEvents.WriteAsync(context, "detail", detail.Value, ct);
                }
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The page went away.
        }
    }

    /// <summary>Every resource with its definition and figures (or why its figures are missing now).</summary>
    private static async Task<OverviewRow[]> OverviewAsync(Caller caller, ResourceCatalog catalog, ResourceGrains grains, CancellationToken ct)
    {
        var definitions = await catalog.ListAsync(ct);
        return await Task.WhenAll(definitions.OrderBy(d => d.Name, StringComparer.Ordinal).Select(async d =>
        {
            var stats = await grains.CallAsync(d.Name, g => g.Administration.Stats(caller), ct, caller.Tenant);
            return new OverviewRow(PolicyMapping.ToView(d), stats.Value, stats.Problem?.Detail);
        }));
    }
}

/// <summary>Who a key belongs to.</summary>
/// <param name="OrleansDashboard">Where Orleans' own dashboard is, for an admin of a silo that serves it; otherwise null.</param>
internal sealed record DashboardSession(string Tenant, bool Admin, string? OrleansDashboard);

/// <summary>The feed's overview: every resource, and the silo's time (which the page counts "3 s ago" from).</summary>
internal sealed record DashboardOverview(DateTimeOffset Now, OverviewRow[] Resources);

/// <summary>A resource on the dashboard's overview: its definition, and its figures unless they could not be had.</summary>
internal sealed record OverviewRow(ResourceView Resource, StatsView? Stats, string? Problem);
