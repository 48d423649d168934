using Microsoft.Extensions.Options;

namespace OrleansQueue.Gateway;

/// <summary>Job mode over HTTP: callers enqueue and follow jobs; workers (admin keys) take them and report.</summary>
internal static class JobEndpoints
{
    public static RouteGroupBuilder MapJobEndpoints(this RouteGroupBuilder v1)
    {
        var group = v1.MapGroup("/resources/{resource}/jobs").WithTags("Jobs");
        group.MapPost("/", Enqueue).WithOperationId("enqueueJob").WithJsonBody<EnqueueBody>().Produces<JobView>(202).ProducesProblem(400).ProducesProblem(404).ProducesProblem(429)
            .WithSummary("Enqueues a job: payload (any JSON), clientId, load, priority, deadlineMs, idempotencyKey.");
        group.MapGet("/{id:long}", Get).WithOperationId("getJob").Produces<JobView>().ProducesProblem(404).WithSummary("A job's state, progress, attempts, result or error.");
        group.MapGet("/{id:long}/wait", Wait).WithOperationId("waitForJob").EndsWhenTheSiloStops().Produces<JobView>().ProducesProblem(404)
            .WithSummary("Long-poll: answers when the job finishes, or after timeoutMs as it stands.");
        group.MapGet("/{id:long}/events", JobEvents.Stream).WithOperationId("followJob").CountsAsTenantStream().EndsWhenTheSiloStops().Produces(200, contentType: "text/event-stream").ProducesProblem(404)
            .WithSummary("Server-sent events of a job: its output so far, the job now, then each change and each output chunk (event `output`, its `id` the offset after it: a reconnect with Last-Event-ID, or `after`, resumes there), until it finishes.");
        group.MapPost("/{id:long}/output", AppendOutput).WithOperationId("appendJobOutput").WithJsonBody<OutputBody>().Produces<JobView>()
            .ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(410).ProducesProblem(413)
            .WithSummary("A worker appends text to the output of a job it runs (workerId, text; offset, where it believes the output ends, makes a retry safe).");
        group.MapGet("/{id:long}/output", ReadOutput).WithOperationId("readJobOutput").Produces<JobOutputView>().ProducesProblem(400).ProducesProblem(404)
            .WithSummary("The job's output after byte offset `after` (0, the default: from the start), up to about a MiB; read again after `next` until `complete`.");
        group.MapDelete("/{id:long}", Cancel).WithOperationId("cancelJob").Produces<JobView>().ProducesProblem(404).ProducesProblem(409).WithSummary("Cancels a queued job.");
        group.MapPost("/take", Take).WithOperationId("takeJob").EndsWhenTheSiloStops().WithJsonBody<TakeBody>().Produces<JobView>(200).Produces(204).ProducesProblem(403)
            .WithSummary("A worker takes the next job (with its payload), waiting up to waitMs; 204 when none came. With max (1 to 100): up to that many jobs, as {\"jobs\": [...]}, empty when none came.");
        foreach (string kind in new[] { "heartbeat", "progress", "complete", "fail" })
        {
            group.MapPost($"/{{id:long}}/{kind}", (string resource, long id, HttpContext context, JobOperations jobs, IOptions<GatewayOptions> options) =>
                    Report(resource, id, kind, context, jobs, options))
                .WithOperationId(kind + "Job").WithJsonBody<WorkerReport>().Produces<JobView>().ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(410)
                .WithSummary($"A worker's {kind} report (workerId required).");
        }
        return v1;
    }

    private static async Task<IResult> Enqueue(string resource, HttpContext context, JobOperations jobs, IOptions<GatewayOptions> options)
    {
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new EnqueueBody(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        return HttpResults.From(await jobs.EnqueueAsync(context.Caller(), resource, body.Value!, context.RequestAborted), _ => 202); // queued for a worker
    }

    private static async Task<IResult> Get(string resource, long id, HttpContext context, JobOperations jobs) =>
        HttpResults.From(await jobs.GetAsync(context.Caller(), resource, id, context.RequestAborted));

    private static async Task<IResult> Wait(string resource, long id, long? timeoutMs, HttpContext context, JobOperations jobs)
    {
        long maxMs = (long)jobs.MaxWait.TotalMilliseconds;
        if (timeoutMs is < 0 || timeoutMs > maxMs)
            return HttpResults.Problem(Problem.Invalid("timeoutMs", $"timeoutMs must be between 0 and {maxMs}; it is {timeoutMs}."));
        var timeout = TimeSpan.FromMilliseconds(timeoutMs ?? Math.Min(30_000, maxMs));
        return HttpResults.From(await jobs.WaitAsync(context.Caller(), resource, id, timeout, context.RequestAborted));
    }

    private static async Task<IResult> Cancel(string resource, long id, HttpContext context, JobOperations jobs) =>
        HttpResults.From(await jobs.CancelAsync(context.Caller(), resource, id, context.RequestAborted));

    private static async Task<IResult> Take(string resource, HttpContext context, JobOperations jobs, IOptions<GatewayOptions> options)
    {
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new TakeBody(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        long maxMs = (long)jobs.MaxWait.TotalMilliseconds;
        if (body.Value!.WaitMs is < 0 || body.Value.WaitMs > maxMs)
            return HttpResults.Problem(Problem.Invalid("waitMs", $"waitMs must be between 0 and {maxMs}; it is {body.Value.WaitMs}."));
        var outcome = await jobs.TakeAsync(context.Caller(), resource, body.Value.WorkerId ?? "", body.Value.Max ?? 1,
            TimeSpan.FromMilliseconds(body.Value.WaitMs ?? 0), context.RequestAborted);
        if (outcome.Problem is { } problem)
            return HttpResults.Problem(problem);
        if (body.Value.Max is not null)
            return Results.Json(new TakenJobs(outcome.Value!), ApiJson.Options);
        return outcome.Value is [var job, ..] ? HttpResults.From(new Outcome<JobView>(job, null)) : Results.NoContent();
    }

    private static async Task<IResult> AppendOutput(string resource, long id, HttpContext context, JobOperations jobs, IOptions<GatewayOptions> options)
    {
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new OutputBody(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        return HttpResults.From(await jobs.AppendOutputAsync(context.Caller(), resource, id, body.Value!, context.RequestAborted));
    }

    private static async Task<IResult> ReadOutput(string resource, long id, long? after, HttpContext context, JobOperations jobs) =>
        HttpResults.From(await jobs.ReadOutputAsync(context.Caller(), resource, id, after ?? 0, context.RequestAborted));

    private static async Task<IResult> Report(string resource, long id, string kind, HttpContext context, JobOperations jobs, IOptions<GatewayOptions> options)
    {
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new WorkerReport(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        return HttpResults.From(await jobs.ReportAsync(context.Caller(), resource, id, kind, body.Value!, context.RequestAborted));
    }
}
