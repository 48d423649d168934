namespace OrleansQueue.Contracts;

/// <summary>
/// One rate-limited resource, keyed by its name: its budget, its waitlist, its leases and its jobs. Every operation
/// answers after the store has committed what it changed, and answers refusals (unknown resource or request, quota,
/// a store that failed) as an <see cref="Outcome{T}.Problem"/> rather than an exception. A tenant only ever sees its
/// own requests and jobs: another tenant's look unknown.
/// </summary>
[Alias("OrleansQueue.IResourceGrain")]
public interface IResourceGrain : IGrainWithStringKey
{
    /// <summary>Asks for a slot. With <paramref name="observer"/>, a queued request's updates are pushed to it (if the resource pushes).</summary>
    [Alias("Acquire")]
    Task<Outcome<RequestView>> Acquire(Caller caller, AcquireBody body, IResourceObserver? observer);

    /// <summary>Where a request stands. Learning of a grant this way claims it: the caller now holds the lease.
    /// <paramref name="unsubscribe"/>, when given, stops following the request in the same turn (the end of a long-poll).</summary>
    [Alias("Status")]
    Task<Outcome<RequestView>> Status(Caller caller, long id, IResourceObserver? unsubscribe);

    /// <summary>As <see cref="Status"/>, and while the request waits, subscribes <paramref name="observer"/> to hear when it stops
    /// waiting (the start of a long-poll; works on a polling-only resource too).</summary>
    [Alias("WaitFor")]
    Task<Outcome<RequestView>> WaitFor(Caller caller, long id, IResourceObserver observer);

    /// <summary>Subscribes <paramref name="observer"/> to a request and answers where it stands, in one turn, so no update slips between.
    /// A polling-only resource refuses.</summary>
    [Alias("Attach")]
    Task<Outcome<RequestView>> Attach(Caller caller, long id, IResourceObserver observer);

    /// <summary>Stops pushing request or job <paramref name="id"/>'s updates to <paramref name="observer"/>.</summary>
    [Alias("Detach")]
    Task Detach(long id, IResourceObserver observer);

    /// <summary>Releases a lease; with <see cref="ReleaseBody.Upstream"/>, reports what the upstream answered first.</summary>
    [Alias("Release")]
    Task<Outcome<RequestView>> Release(Caller caller, long id, ReleaseBody body);

    /// <summary>Reports what the upstream answered a call made under request <paramref name="id"/> (held, or recently ended).</summary>
    [Alias("ReportUpstream")]
    Task<Outcome<RequestView>> ReportUpstream(Caller caller, long id, UpstreamBody body);

    /// <summary>Claims a grant or extends a lease by one TTL.</summary>
    [Alias("Renew")]
    Task<Outcome<RequestView>> Renew(Caller caller, long id);

    /// <summary>Withdraws a waiting request, or releases a lease whose grant raced the cancel.</summary>
    [Alias("Cancel")]
    Task<Outcome<RequestView>> Cancel(Caller caller, long id);

    [Alias("Enqueue")]
    Task<Outcome<JobView>> Enqueue(Caller caller, EnqueueBody body);

    /// <summary>A job; a worker (<paramref name="withPayload"/>, admin only) sees its payload too.</summary>
    [Alias("GetJob")]
    Task<Outcome<JobView>> GetJob(Caller caller, long id, bool withPayload);

    /// <summary>Answers a job and, while it is unfinished, subscribes <paramref name="observer"/> (when given) to hear that it
    /// changed, in one turn. With <paramref name="requirePush"/> a polling-only resource refuses (a watch, which follows the
    /// job's stream); without, it does not (a long-poll).</summary>
    [Alias("WatchJob")]
    Task<Outcome<JobView>> WatchJob(Caller caller, long id, IResourceObserver? observer, bool requirePush);

    [Alias("CancelJob")]
    Task<Outcome<JobView>> CancelJob(Caller caller, long id);

    /// <summary>A worker takes the next job. With none queued it waits up to <paramref name="wait"/>: the answer is then no job, with
    /// a poll id, and <paramref name="observer"/> hears <see cref="RequestPhase.JobAssigned"/> or <see cref="RequestPhase.PollExpired"/>.</summary>
    [Alias("TakeJob")]
    Task<TakeAnswer> TakeJob(Caller caller, string workerId, TimeSpan wait, IResourceObserver observer);

    /// <summary>Ends a worker's wait for a job (it went away).</summary>
    [Alias("CancelPoll")]
    Task CancelPoll(long pollId);

    /// <summary>A worker's heartbeat, progress, completion or failure of a job it runs.</summary>
    [Alias("Report")]
    Task<Outcome<JobView>> Report(Caller caller, long id, WorkerReportKind kind, WorkerReport report);

    /// <summary>The scheduler's figures; a tenant sees only its own clients' rows.</summary>
    [Alias("Stats")]
    Task<Outcome<StatsView>> Stats(Caller caller);

    /// <summary>What a dashboard shows of the resource: figures, leases, recent events, timeline and jobs (at most
    /// <paramref name="max"/> leases and jobs); a tenant sees only its own clients' rows.</summary>
    [Alias("Detail")]
    Task<Outcome<ResourceDetailView>> Detail(Caller caller, int max);

    /// <summary>Takes the resource's definition from the store again (after it was created or changed there).</summary>
    [Alias("Reload")]
    Task Reload();

    /// <summary>The resource was deleted from the store: refuses its waiting requests as deleted and deactivates.</summary>
    [Alias("Close")]
    Task Close();

    /// <summary>Activates the grain (a silo starting takes back the resources it left with work pending).</summary>
    [Alias("Wake")]
    Task Wake();
}

/// <summary>What a worker reports about a job.</summary>
[GenerateSerializer, Alias("OrleansQueue.WorkerReportKind")]
public enum WorkerReportKind
{
    Heartbeat,
    Progress,
    Complete,
    Fail,
}

/// <summary>A worker's take: a job, nothing, or a wait under <see cref="PollId"/>.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.TakeAnswer")]
public sealed record TakeAnswer([property: Id(0)] Outcome<JobView> Outcome, [property: Id(1)] long PollId = 0);
