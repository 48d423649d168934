using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

public sealed partial class OrleansQueueClient
{
    /// <summary>Creates resource <paramref name="name"/> or replaces its policy (an admin key, when the silo has keys);
    /// returns it as the silo stored it. A policy that breaks a rule raises <see cref="InvalidRequestException"/> naming
    /// the field.</summary>
    public async Task<ResourceView> PutResourceAsync(string name, ResourceBody policy, CancellationToken cancellationToken = default) =>
        await ResourceCallAsync<ResourceView>(HttpMethod.Put, ResourcePath(name), policy, cancellationToken);

    /// <summary>Resource <paramref name="name"/>: its policy and whether it pushes; <see cref="UnknownResourceException"/> when there is none.</summary>
    public async Task<ResourceView> GetResourceAsync(string name, CancellationToken cancellationToken = default) =>
        await ResourceCallAsync<ResourceView>(HttpMethod.Get, ResourcePath(name), null, cancellationToken);

    /// <summary>Every resource, by name.</summary>
    public async Task<IReadOnlyList<ResourceView>> ListResourcesAsync(CancellationToken cancellationToken = default) =>
        await ResourceCallAsync<List<ResourceView>>(HttpMethod.Get, "v1/resources", null, cancellationToken);

    /// <summary>Deletes resource <paramref name="name"/>: its waiting requests are refused as deleted.</summary>
    public async Task DeleteResourceAsync(string name, CancellationToken cancellationToken = default) =>
        await ResourceCallAsync<object>(HttpMethod.Delete, ResourcePath(name), null, cancellationToken);

    /// <summary>Resource <paramref name="name"/>'s figures now: waiting by priority and client, leases, budget left, totals,
    /// wait percentiles.</summary>
    public async Task<StatsView> GetStatsAsync(string name, CancellationToken cancellationToken = default) =>
        await ResourceCallAsync<StatsView>(HttpMethod.Get, ResourcePath(name) + "/stats", null, cancellationToken);

    private static string ResourcePath(string name) => "v1/resources/" + Uri.EscapeDataString(name);

    /// <summary>A call of the resources' API; answered 503 (the resource moving, the store unreachable) or unreachable, it is
    /// made again with backoff (each is safe to repeat).</summary>
    private async Task<T> ResourceCallAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct) where T : class
    {
        if (_http.BaseAddress is null)
            throw new NotSupportedException("Managing resources goes through the silo's HTTP API (OrleansQueueClientOptions.BaseAddress); a co-hosted silo defines its resources in configuration (Silo:Resources).");
        var backoff = new Backoff(Options);
        while (true)
        {
            try
            {
                using var request = HttpApi.Message(method, path, body);
                return (await _httpApi.SendAsync<T>(request, ct))!;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is ConnectionLostException or UnavailableException)
            {
                await backoff.WaitAsync(ct);
            }
        }
    }
}
