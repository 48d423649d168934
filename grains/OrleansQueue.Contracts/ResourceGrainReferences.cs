using System.Collections.Concurrent;

namespace OrleansQueue.Contracts;

/// <summary>The grain of one resource, by the interface of each concern: its requests, its jobs, and the resource as a whole.</summary>
public sealed record ResourceGrainReference(IResourceRequests Requests, IResourceJobs Jobs, IResourceAdministration Administration)
{
    public static ResourceGrainReference Of(IGrainFactory factory, string resource) => new(
        factory.GetGrain<IResourceRequests>(resource), factory.GetGrain<IResourceJobs>(resource), factory.GetGrain<IResourceAdministration>(resource));
}

/// <summary>
/// References to the resources' grains, kept by resource name. Resolving a grain reference looks its interface up through
/// reflection each time, which a hot path cannot afford. Names come from callers, so the cache is bounded: past the bound it
/// is forgotten all at once. Used by the gateway and by the SDK's Orleans connection alike.
/// </summary>
public sealed class ResourceGrainReferences(IGrainFactory factory)
{
    private const int MaxReferences = 10_000;
    private readonly ConcurrentDictionary<string, ResourceGrainReference> _references = new(StringComparer.Ordinal);

    public IGrainFactory Factory => factory;

    public ResourceGrainReference Get(string resource)
    {
        if (_references.TryGetValue(resource, out var known))
            return known;
        if (_references.Count >= MaxReferences)
            _references.Clear();
        return _references.GetOrAdd(resource, name => ResourceGrainReference.Of(factory, name));
    }
}
