namespace OrleansQueue.Contracts;

/// <summary>
/// One rate-limited resource as a whole, keyed by its name: its figures and what a dashboard shows (a tenant sees only its
/// own clients' rows), and what the silo asks of it when its definition changes, it is deleted, or a silo wakes it.
/// </summary>
[Alias("OrleansQueue.IResourceAdministration")]
public interface IResourceAdministration : IGrainWithStringKey
{
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
