using System.Diagnostics.Metrics;

namespace OrleansQueue.Grains;

/// <summary>The silo's instruments, on the "OrleansQueue" meter. <c>/metrics</c> renders them for Prometheus.</summary>
internal sealed class SiloMetrics : IDisposable
{
    public const string MeterName = "OrleansQueue";

    private readonly Meter _meter;
    private readonly Counter<long> _grants;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _statusCalls;
    private readonly Histogram<double> _wait;
    private readonly Histogram<double> _commit;
    private readonly Counter<long> _commits;
    private readonly Counter<long> _sessionsCut;
    private readonly Counter<long> _throttles;
    private Func<IEnumerable<(string Resource, int Waiting, int Leases, double Working)>> _depths = () => [];

    public SiloMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _grants = _meter.CreateCounter<long>("orleansqueue_grants", description: "Leases granted.");
        _rejections = _meter.CreateCounter<long>("orleansqueue_rejections", description: "Requests refused or timed out, by reason.");
        _statusCalls = _meter.CreateCounter<long>("orleansqueue_status_requests", description: "Status polls of tickets and leases.");
        _wait = _meter.CreateHistogram<double>("orleansqueue_wait_seconds", "s", "Time from request to grant.");
        _commit = _meter.CreateHistogram<double>("orleansqueue_store_commit_seconds", "s", "Duration of one store transaction.");
        _commits = _meter.CreateCounter<long>("orleansqueue_store_commits", description: "Writes committed (a transaction holds many).");
        _sessionsCut = _meter.CreateCounter<long>("orleansqueue_sessions_closed_unread", description: "WebSocket sessions closed because their client did not read its replies.");
        _meter.CreateObservableGauge("orleansqueue_queue_depth", () =>
            _depths().Select(d => new Measurement<int>(d.Waiting, new KeyValuePair<string, object?>("resource", d.Resource))),
            description: "Requests waiting.");
        _meter.CreateObservableGauge("orleansqueue_leases", () =>
            _depths().Select(d => new Measurement<int>(d.Leases, new KeyValuePair<string, object?>("resource", d.Resource))),
            description: "Leases held or granted and unclaimed.");
        _meter.CreateObservableGauge("orleansqueue_working_limit_ratio", () =>
            _depths().Select(d => new Measurement<double>(d.Working, new KeyValuePair<string, object?>("resource", d.Resource))),
            description: "The share of the configured limits in force (below 1 while an aimd resource has lowered them).");
        _throttles = _meter.CreateCounter<long>("orleansqueue_upstream_throttles", description: "429s and retry-afters the upstream answered, as reported to adaptive resources.");
    }

    public void Throttled(string resource) => _throttles.Add(1, new KeyValuePair<string, object?>("resource", resource));

    /// <summary>This silo's meter.</summary>
    public Meter Meter => _meter;

    /// <summary>Where the queue-depth gauges read from (the resources active on this silo).</summary>
    public void ObserveDepths(Func<IEnumerable<(string Resource, int Waiting, int Leases, double Working)>> depths) => _depths = depths;

    public void Granted(string resource, TimeSpan waited)
    {
        _grants.Add(1, new KeyValuePair<string, object?>("resource", resource));
        _wait.Record(waited.TotalSeconds, new KeyValuePair<string, object?>("resource", resource));
    }

    public void Rejected(string resource, RejectionReason reason) =>
        _rejections.Add(1, new("resource", resource), new("reason", reason.ToString()));

    public void SessionClosedUnread(string tenant) => _sessionsCut.Add(1, new KeyValuePair<string, object?>("tenant", tenant));

    public void StatusCalled(string resource) => _statusCalls.Add(1, new KeyValuePair<string, object?>("resource", resource));

    public void StoreCommitted(TimeSpan elapsed, int writes)
    {
        _commit.Record(elapsed.TotalSeconds);
        _commits.Add(writes);
    }

    public void Dispose() => _meter.Dispose();
}
