using Microsoft.Extensions.Options;
using OrleansQueue.Grains;
using OrleansQueue.Silo.Hosting;
using OrleansQueue.Silo.Runtime;

namespace OrleansQueue.Silo.Gateway;

/// <summary>
/// Job mode over the gateway. Callers (any key) enqueue, read, wait for and cancel their own jobs; workers (admin keys:
/// they see every tenant's payloads) take jobs and report on them.
/// </summary>
public sealed class JobOperations(GrainRuntime runtime, IOptions<SiloOptions> options)
{
    private readonly TimeSpan _maxWait = TimeSpan.FromSeconds(options.Value.MaxLongPollSeconds);

    public TimeSpan MaxWait => _maxWait;

    public Task<Outcome<JobView>> EnqueueAsync(Caller caller, string resource, EnqueueBody body, CancellationToken ct)
    {
        if (body.Payload is not { } payload || payload.ValueKind == System.Text.Json.JsonValueKind.Undefined)
            return Done(Problem.Invalid("payload", "payload is required: any JSON value the worker will receive."));
        string clientId = body.ClientId ?? "default";
        if (!Names.IsValidClient(clientId))
            return Done(Problem.Invalid("clientId", $"clientId must be {Names.ClientRule}."));
        if (body.DeadlineMs is < 1 or > 86_400_000)
            return Done(Problem.Invalid("deadlineMs", $"deadlineMs must be between 1 and 86400000; it is {body.DeadlineMs}."));
        var deadline = body.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
        string text = payload.GetRawText();
        return Call(resource, turn =>
        {
            var result = turn.Grain.EnqueueJob(caller.GrainClientId(clientId), text, body.Load ?? 1, body.Priority ?? Priority.Normal, deadline, body.IdempotencyKey);
            if (result.Outcome == AcquireOutcome.Rejected)
            {
                turn.Rejected(result.Rejection.Reason);
                return Problem.From(result.Rejection);
            }
            return new Outcome<JobView>(JobView.Of(resource, turn.Grain.GetJob(result.RequestId)!, caller, withPayload: false), null, 202);
        }, ct);
    }

    public Task<Outcome<JobView>> GetAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(resource, turn => Own(turn, caller, id), ct);

    /// <summary>Waits until the job finishes (or <paramref name="timeout"/> passes), then answers it as it stands.</summary>
    public async Task<Outcome<JobView>> WaitAsync(Caller caller, string resource, long id, TimeSpan timeout, CancellationToken ct)
    {
        var observer = new Updates();
        var first = await Call(resource, turn =>
        {
            var own = Own(turn, caller, id);
            if (own.Value is { IsFinished: false })
                turn.Subscribe(id, observer);
            return own;
        }, ct);
        if (first.Value is not { IsFinished: false })
            return first;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        Outcome<JobView> now = first;
        try
        {
            while (now.Value is { IsFinished: false })
            {
                await observer.Next(deadline.Token);
                now = await Call(resource, turn => Own(turn, caller, id), ct);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
        finally
        {
            await Call(resource, turn => { turn.Unsubscribe(id, observer); return new Outcome<JobView>(); }, CancellationToken.None);
        }
        return now;
    }

    /// <summary>Subscribes <paramref name="observer"/> to a job's changes and answers the job as it stands, in one turn.</summary>
    public Task<Outcome<JobView>> WatchAsync(Caller caller, string resource, long id, IGrainObserver observer, CancellationToken ct) =>
        Call(resource, turn =>
        {
            if (!turn.Definition.PushEnabled)
                return Problem.PollingOnly(resource);
            var own = Own(turn, caller, id);
            if (own.Value is { IsFinished: false })
                turn.Subscribe(id, observer);
            return own;
        }, ct);

    public Task Unwatch(string resource, long id, IGrainObserver observer) =>
        Call(resource, turn => { turn.Unsubscribe(id, observer); return new Outcome<JobView>(); }, CancellationToken.None);

    public Task<Outcome<JobView>> CancelAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(resource, turn =>
        {
            var own = Own(turn, caller, id);
            if (own.Problem is not null)
                return own;
            return turn.Grain.CancelJob(id) switch
            {
                JobOutcome.Ok => Own(turn, caller, id),
                JobOutcome.NotYours => new Problem(409, "urn:orleansqueue:problem:job-running", "The job is running.",
                    $"Job {id} on resource \"{resource}\" is running and cannot be cancelled.", "id"),
                _ => Ended(resource, id),
            };
        }, ct);

    /// <summary>A worker takes the next job, waiting up to <paramref name="wait"/>; no job answers 204 (a null value).</summary>
    public async Task<Outcome<JobView>> TakeAsync(Caller caller, string resource, string workerId, TimeSpan wait, CancellationToken ct)
    {
        if (!caller.IsAdmin)
            return Problem.Forbidden();
        if (!Names.IsValidClient(workerId))
            return Problem.Invalid("workerId", $"workerId must be {Names.ClientRule}.");
        var observer = new Updates();
        long pollId = 0;
        var first = await Call(resource, turn =>
        {
            var taken = turn.Grain.TakeJob(caller.GrainClientId(workerId), wait);
            if (taken.Job is { } job)
                return new Outcome<JobView>(JobView.Of(resource, job, caller, withPayload: true), null);
            pollId = taken.PollId;
            if (pollId != 0)
                turn.Subscribe(pollId, observer);
            return new Outcome<JobView>(null, null, 204);
        }, ct);
        if (first.Value is not null || first.Problem is not null || pollId == 0)
            return first;
        try
        {
            var update = await observer.Next(ct);
            if (update.Phase == RequestPhase.JobAssigned)
                return await Call(resource, turn => new Outcome<JobView>(JobView.Of(resource, turn.Grain.GetJob(update.RelatedId)!, caller, true), null), CancellationToken.None);
            return new Outcome<JobView>(null, null, 204);
        }
        catch (OperationCanceledException)
        {
            // The worker went away: end its wait, unless a job reached it meanwhile (its visibility timeout returns it).
            await Call(resource, turn => { turn.Grain.CancelPoll(pollId); return new Outcome<JobView>(); }, CancellationToken.None);
            throw;
        }
    }

    /// <summary>A worker's report on a job it runs: heartbeat, progress, complete or fail.</summary>
    public Task<Outcome<JobView>> ReportAsync(Caller caller, string resource, long id, string kind, WorkerReport report, CancellationToken ct)
    {
        if (!caller.IsAdmin)
            return Done(Problem.Forbidden());
        if (report.WorkerId is not { } workerId || !Names.IsValidClient(workerId))
            return Done(Problem.Invalid("workerId", $"workerId must be {Names.ClientRule}."));
        if (kind == "progress" && report.Progress is null)
            return Done(Problem.Invalid("progress", "progress is required: a number, such as a fraction done."));
        if (kind == "fail" && string.IsNullOrWhiteSpace(report.Error))
            return Done(Problem.Invalid("error", "error is required: what went wrong."));
        if (report.ActualLoad is < 0 or > ResourcePolicy.MaxLoad)
            return Done(Problem.Invalid("actualLoad", $"actualLoad must be between 0 and {ResourcePolicy.MaxLoad}."));
        string worker = caller.GrainClientId(workerId);
        return Call(resource, turn =>
        {
            var outcome = kind switch
            {
                "heartbeat" => turn.Grain.Heartbeat(id, worker),
                "progress" => turn.Grain.ReportProgress(id, worker, report.Progress!.Value, report.Message),
                "complete" => turn.Grain.CompleteJob(id, worker, report.Result?.GetRawText(), report.ActualLoad),
                _ => turn.Grain.FailJob(id, worker, report.Error!),
            };
            return outcome switch
            {
                JobOutcome.Ok => new Outcome<JobView>(JobView.Of(resource, turn.Grain.GetJob(id)!, caller, withPayload: false), null),
                JobOutcome.NotYours => new Problem(409, "urn:orleansqueue:problem:not-your-job", "The job is not running for this worker.",
                    $"Job {id} on resource \"{resource}\" is not running for worker \"{workerId}\": its visibility timeout passed and it went back to the queue, or another worker has it.", "workerId"),
                JobOutcome.Finished => Ended(resource, id),
                _ => UnknownJob(resource, id),
            };
        }, ct);
    }

    private static Outcome<JobView> Own(GrainTurn turn, Caller caller, long id) =>
        turn.Grain.GetJob(id) is { } job && (caller.IsAdmin || caller.Owns(job.ClientId))
            ? new Outcome<JobView>(JobView.Of(turn.Resource, job, caller, withPayload: false), null)
            : UnknownJob(turn.Resource, id);

    private static Problem UnknownJob(string resource, long id) =>
        new(404, "urn:orleansqueue:problem:unknown-job", "No such job.", $"Resource \"{resource}\" has no job {id} of yours (finished jobs are kept for the resource's JobRetention).", "id");

    private static Problem Ended(string resource, long id) =>
        new(410, "urn:orleansqueue:problem:job-finished", "The job has finished.", $"Job {id} on resource \"{resource}\" has finished and takes no more reports.", "id");

    private static Task<Outcome<JobView>> Done(Problem problem) => Task.FromResult<Outcome<JobView>>(problem);

    private Task<Outcome<JobView>> Call(string resource, Func<GrainTurn, Outcome<JobView>> call, CancellationToken ct) =>
        runtime.CallGatewayAsync(resource, call, ct);

    /// <summary>Updates of one job or poll, awaited one at a time.</summary>
    private sealed class Updates : IGrainObserver
    {
        private readonly System.Threading.Channels.Channel<RequestUpdate> _channel = System.Threading.Channels.Channel.CreateUnbounded<RequestUpdate>();
        public void OnUpdate(RequestUpdate update) => _channel.Writer.TryWrite(update);
        public async Task<RequestUpdate> Next(CancellationToken ct) => await _channel.Reader.ReadAsync(ct);
    }
}
