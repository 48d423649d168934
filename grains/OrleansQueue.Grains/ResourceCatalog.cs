using OrleansQueue.Contracts;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Grains;

/// <summary>
/// The resources' definitions: kept in the store, and handed to a resource's grain (wherever Orleans has it active)
/// when they change, so that a live grain takes a new policy at once.
/// </summary>
internal sealed partial class ResourceCatalog(IGrainStore store, IGrainFactory grains, ILogger<ResourceCatalog> logger)
{
    public Task<IReadOnlyList<ResourceDefinition>> ListAsync(CancellationToken cancellationToken) => store.ListResourcesAsync(cancellationToken);

    public Task<ResourceDefinition?> GetAsync(string name, CancellationToken cancellationToken) => store.GetResourceAsync(name, cancellationToken);

    /// <summary>Creates the resource or changes its definition; returns whether it was created.</summary>
    public async Task<bool> PutAsync(ResourceDefinition definition, CancellationToken cancellationToken)
    {
        bool created = await store.PutResourceAsync(definition, cancellationToken);
        await grains.GetGrain<IResourceAdministration>(definition.Name).Reload();
        LogResourcePut(definition.Name, created);
        return created;
    }

    /// <summary>Deletes the resource: its waiting requests are refused as deleted and its state is removed.</summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        bool existed = await store.DeleteResourceAsync(name, cancellationToken);
        await grains.GetGrain<IResourceAdministration>(name).Close();
        LogResourceDeleted(name, existed);
        return existed;
    }

    /// <summary>Activates the resources owned with work pending (by <paramref name="owner"/>, or by anyone), so their timers
    /// and grants go on without waiting for a call; Orleans places each where it places it, once.</summary>
    /// <remarks>Just after a silo's death, a call may still be routed to it (and refused) until the grain directory has
    /// caught up: such a wake is tried again a few times.</remarks>
    public async Task WakeOwnedAsync(string? owner, CancellationToken cancellationToken)
    {
        var owned = await store.ListOwnedAsync(cancellationToken);
        await Task.WhenAll(owned.Where(o => owner is null || o.Owner == owner).Select(async o =>
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    await grains.GetGrain<IResourceAdministration>(o.Name).Wake();
                    return;
                }
                catch (Exception) when (attempt < 10 && !cancellationToken.IsCancellationRequested)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken);
                }
            }
        }));
    }

    [LoggerMessage(LogLevel.Information, "Resource {Resource} defined (created: {Created})")]
    private partial void LogResourcePut(string resource, bool created);

    [LoggerMessage(LogLevel.Information, "Resource {Resource} deleted (existed: {Existed})")]
    private partial void LogResourceDeleted(string resource, bool existed);
}
