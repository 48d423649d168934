namespace OrleansQueue.Contracts;

/// <summary>
/// The tickets and leases of one rate-limited resource, keyed by its name (the same grain as <see cref="IResourceJobs"/> and
/// <see cref="IResourceAdministration"/>): acquire, follow, claim, renew, report, release, cancel.
/// Every operation answers after the store has committed what it changed, and answers refusals (unknown resource or
/// request, quota, a store that failed) as an <see cref="Outcome{T}.Problem"/> rather than an exception. A tenant only ever
/// sees its own requests and jobs: another tenant's look unknown.
/// </summary>
[Alias("OrleansQueue.IResourceRequests")]
public interface IResourceRequests : IGrainWithStringKey
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

    /// <summary>Stops pushing request <paramref name="id"/>'s updates to <paramref name="observer"/>.</summary>
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
}
