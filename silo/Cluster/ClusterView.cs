using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Cluster;

/// <summary>
/// This silo's view of the cluster: the live silos as of its last heartbeat, where each resource belongs, and whether
/// this silo may act as an owner at all.
/// </summary>
/// <remarks>
/// Placement is rendezvous (highest random weight) hashing: a resource belongs to the live silo with the highest
/// hash of (silo, resource). Every silo computes it alone from the same member list, with no table to keep; when a
/// silo joins or leaves, only the resources it wins or held move (about 1/N of them), and the others stay put.
/// Placement only decides where a grain should run; who may write is decided by the store's ownership epochs, so two
/// silos with different views for a moment cost a retry, never a double grant.
/// </remarks>
public sealed class ClusterView
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _suspendAfter;
    private volatile IReadOnlyList<SiloEntry> _silos;
    private volatile SiloEntry _local;
    private long _lastHeartbeat;
    private volatile bool _joined;

    /// <param name="deadAfter">How long without a heartbeat before the others judge a silo dead. This silo stops acting as
    /// an owner after half of it, so it has stopped before they take over.</param>
    public ClusterView(SiloEntry local, TimeProvider time, TimeSpan deadAfter, bool clustered)
    {
        _local = local;
        _time = time;
        DeadAfter = deadAfter;
        _suspendAfter = deadAfter == Timeout.InfiniteTimeSpan ? deadAfter : deadAfter / 2;
        IsClustered = clustered;
        _silos = [local];
        _joined = !clustered;
    }

    /// <summary>A view for a silo on its own (the embedded store): it owns everything, always.</summary>
    public static ClusterView Single(string id = "local") => new(new SiloEntry(id, ""), TimeProvider.System, Timeout.InfiniteTimeSpan, clustered: false);

    /// <summary>How long the cluster takes to judge a silent silo dead: the longest a resource can be without an owner.</summary>
    public TimeSpan DeadAfter { get; }

    /// <summary>This silo; its address is known once the server listens.</summary>
    public SiloEntry Local
    {
        get => _local;
        internal set
        {
            _local = value;
            _silos = [.. _silos.Select(s => s.Id == value.Id ? value : s)];
        }
    }

    /// <summary>Whether this silo shares its store with others (heartbeats, placement and forwarding apply).</summary>
    public bool IsClustered { get; }

    /// <summary>The live silos, ordered by id.</summary>
    public IReadOnlyList<SiloEntry> Silos => _silos;

    /// <summary>Set by tests to stop this silo's heartbeats and internal traffic (a process frozen, a network cut).</summary>
    public bool Paused { get; set; }

    /// <summary>Whether this silo may run grains: it has heartbeated recently enough that no other silo can have judged it dead.</summary>
    public bool IsHealthy => !IsClustered || (_joined && !Paused && _time.GetElapsedTime(Interlocked.Read(ref _lastHeartbeat)) < _suspendAfter);

    /// <summary>The silo <paramref name="resource"/> belongs on.</summary>
    public SiloEntry OwnerOf(string resource)
    {
        var silos = _silos;
        if (silos.Count == 1)
            return silos[0];
        SiloEntry best = silos[0];
        ulong bestScore = 0;
        foreach (var silo in silos)
        {
            ulong score = Score(silo.Id, resource);
            if (score > bestScore || (score == bestScore && string.CompareOrdinal(silo.Id, best.Id) < 0))
                (best, bestScore) = (silo, score);
        }
        return best;
    }

    public bool IsLocal(string resource) => OwnerOf(resource).Id == Local.Id;

    /// <summary>Takes a heartbeat's answer; <paramref name="startedAt"/> is when that heartbeat was sent (a timestamp of
    /// this view's clock), since the store can have recorded it no earlier. Returns whether the member list changed.</summary>
    public bool Update(IReadOnlyList<SiloEntry> silos, long startedAt)
    {
        Interlocked.Exchange(ref _lastHeartbeat, startedAt);
        _joined = true;
        var next = silos.Any(s => s.Id == Local.Id) ? silos : [.. silos, Local];
        if (next.Select(s => s.Id).SequenceEqual(_silos.Select(s => s.Id)))
            return false;
        _silos = next;
        return true;
    }

    /// <summary>A 64-bit FNV-1a hash of silo and resource, finished with a strong mix so that near names score far apart.</summary>
    private static ulong Score(string silo, string resource)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in silo)
            h = (h ^ c) * 1099511628211UL;
        h = (h ^ 0xFF) * 1099511628211UL;
        foreach (char c in resource)
            h = (h ^ c) * 1099511628211UL;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        return h ^ (h >> 33);
    }

    public override string ToString() => string.Join(", ", _silos.Select(s => s.Id));
}
