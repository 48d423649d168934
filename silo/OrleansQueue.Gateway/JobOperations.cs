using Microsoft.Extensions.Options;
using Orleans.Streams;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;
using OrleansQueue.Grains;

namespace OrleansQueue.Gateway;

/// <summary>
/// Job mode over the gateway. Callers (any key) enqueue, read, wait for and cancel their own jobs; workers (admin keys:
/// they see every tenant's payloads) take jobs and report on them.
/// </summary>
internal sealed class JobOperations(ResourceGrains grains, IClusterClient client, SiloDeaths deaths, IOptions<GatewayOptions> options)
{
    private readonly TimeSpan _maxWait = TimeSpan.FromSeconds(options.Value.MaxLongPollSeconds);

    public TimeSpan MaxWait => _maxWait;

    /// <summary>Makes <paramref name="observer"/> reachable by the grains, for as long as the registration lives.</summary>
    public ObserverRegistration Observe(IResourceObserver observer) => new(grains.Factory, deaths, observer);

    public Task<Outcome<JobView>> EnqueueAsync(Caller caller, string resource, EnqueueBody body, CancellationToken ct) =>
        Call(caller, resource, g => g.Enqueue(caller, body), ct);

    public Task<Outcome<JobView>> GetAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(caller, resource, g => g.GetJob(caller, id, withPayload: false), ct);

    /// <summary>Waits until the job finishes (or <paramref name="timeout"/> passes), then answers it as it stands.</summary>
    public async Task<Outcome<JobView>> WaitAsync(Caller caller, string resource, long id, TimeSpan timeout, CancellationToken ct)
    {
        var observer = new ChannelObserver();
        using var registration = Observe(observer);
        var first = await Call(caller, resource, g => g.WatchJob(caller, id, registration.Reference, requirePush: false), ct);
        if (first.Value is not { IsFinished: false })
            return first;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        Outcome<JobView> now = first;
        try
        {
            while (now.Value is { IsFinished: false })
            {
                var update = await observer.Updates.ReadAsync(deadline.Token);
                // Moved: the grain that had the subscription is gone; the next activation takes a new one.
                now = update.Phase == RequestPhase.Moved
                    ? await Call(caller, resource, g => g.WatchJob(caller, id, registration.Reference, requirePush: false), ct)
                    : await GetAsync(caller, resource, id, ct);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
        finally
        {
            await Unwatch(resource, id, registration.Reference);
        }
        return now;
    }

    /// <summary>
    /// Follows a job's stream: <paramref name="onChange"/> hears the job (as <paramref name="caller"/> sees it) after each of
    /// its changes, until the returned watch is disposed. The stream is joined before the job is read, so no change made
    /// after the answer can be missed. A polling-only resource, or a job the caller may not see, is refused (no watch).
    /// </summary>
    public async Task<(Outcome<JobView> Now, JobWatch? Watch)> FollowAsync(Caller caller, string resource, long id, Func<JobView, Task> onChange,
        CancellationToken ct)
    {
        if (!Names.IsValidResource(resource))
            return (Problem.UnknownResource(resource), null);
        var stream = JobStreams.Of(client, resource, id);
        var handle = await stream.SubscribeAsync((view, _) => view.IsVisibleTo(caller) ? onChange(view.For(caller)) : Task.CompletedTask);
        var watch = new JobWatch(handle, deaths.OnSiloDeath(() => _ = RefreshAsync()));
        var now = await Call(caller, resource, g => g.WatchJob(caller, id, null, requirePush: true), ct);
        if (now.Value is not { IsFinished: false })
        {
            await watch.DisposeAsync();
            return (now, null);
        }
        return (now, watch);

        // A silo died: a change in flight there may be lost with it, so read the job as it stands once more.
        async Task RefreshAsync()
        {
            var again = await GetAsync(caller, resource, id, CancellationToken.None);
            if (again.Value is { } view)
                await onChange(view);
        }
    }

    public Task Unwatch(string resource, long id, IResourceObserver observer) =>
        Call(null, resource, async g => { await g.UnwatchJob(id, observer); return new Outcome<int>(); }, CancellationToken.None);

    public Task<Outcome<JobView>> CancelAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(caller, resource, g => g.CancelJob(caller, id), ct);

    /// <summary>A worker takes up to <paramref name="max"/> jobs, waiting up to <paramref name="wait"/> for one when none is
    /// queued; none came answers an empty list.</summary>
    public async Task<Outcome<JobView[]>> TakeAsync(Caller caller, string resource, string workerId, int max, TimeSpan wait, CancellationToken ct)
    {
        // Checked before the wait is set up (the grain checks again, for callers that come straight to it).
        if (Validation.OfTake(caller, workerId, max) is { } invalid)
            return invalid;
        var observer = new ChannelObserver();
        using var registration = Observe(observer);
        long pollId = 0;
        var first = await Call(caller, resource, async g =>
        {
            var answer = await g.TakeJob(caller, workerId, max, wait, registration.Reference);
            pollId = answer.PollId;
            return answer.Outcome;
        }, ct);
        if (first.Problem is not null || pollId == 0)
            return first;
        try
        {
            var update = await observer.Updates.ReadAsync(ct);
            if (update.Phase != RequestPhase.JobAssigned)
                return new Outcome<JobView[]>([], null);
            var job = await Call(caller, resource, g => g.GetJob(caller, update.RelatedId, withPayload: true), CancellationToken.None);
            return job.Value is { } view ? new Outcome<JobView[]>([view], null) : new Outcome<JobView[]>(null, job.Problem);
        }
        catch (OperationCanceledException)
        {
            // The worker went away: end its wait; a job pushed to it meanwhile goes back to the waitlist at once.
            await Call(caller, resource, async g => { await g.CancelPoll(pollId); return new Outcome<int>(); }, CancellationToken.None);
            throw;
        }
    }

    /// <summary>A worker appends to the output of a job it runs.</summary>
    public Task<Outcome<JobView>> AppendOutputAsync(Caller caller, string resource, long id, OutputBody body, CancellationToken ct) =>
        Call(caller, resource, g => g.AppendOutput(caller, id, body), ct);

    /// <summary>A job's output after byte <paramref name="after"/>.</summary>
    public Task<Outcome<JobOutputView>> ReadOutputAsync(Caller caller, string resource, long id, long after, CancellationToken ct) =>
        Call(caller, resource, g => g.ReadOutput(caller, id, after), ct);

    /// <summary>A worker's report on a job it runs: heartbeat, progress, complete or fail.</summary>
    public Task<Outcome<JobView>> ReportAsync(Caller caller, string resource, long id, string kind, WorkerReport report, CancellationToken ct)
    {
        var reportKind = kind switch
        {
            "heartbeat" => WorkerReportKind.Heartbeat,
            "progress" => WorkerReportKind.Progress,
            "complete" => WorkerReportKind.Complete,
            _ => WorkerReportKind.Fail,
        };
        return Call(caller, resource, g => g.Report(caller, id, reportKind, report), ct);
    }


    /// <summary>A grain call on <paramref name="caller"/>'s behalf (null: the silo's own, such as leaving a subscription),
    /// counted against the tenant's calls in flight.</summary>
    private Task<Outcome<T>> Call<T>(Caller? caller, string resource, Func<IResourceJobs, Task<Outcome<T>>> call, CancellationToken ct) =>
        grains.CallAsync(resource, g => call(g.Jobs), ct, caller?.Tenant);
}

/// <summary>A watch of a job's stream; disposing it leaves the stream.</summary>
internal sealed class JobWatch(StreamSubscriptionHandle<JobView> handle, IDisposable deaths) : IAsyncDisposable
{
    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        deaths.Dispose();
        try
        {
            await handle.UnsubscribeAsync();
        }
        catch (Exception)
        {
            // The stream's pub-sub went with a dead silo: there is nothing left to leave.
        }
    }
}
