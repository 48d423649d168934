using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace OrleansQueue.Gateway;

/// <summary>
/// The long-lived connections each tenant holds on this silo (WebSocket sessions and server-sent event streams): at most
/// <see cref="GatewayOptions.MaxStreamsPerTenant"/>, so that one tenant cannot take every connection and thread of the silo
/// from the others. A refused stream answers 429 <c>too-many-streams</c>.
/// </summary>
internal sealed class TenantStreams(IOptions<GatewayOptions> options)
{
    private readonly ConcurrentDictionary<string, int> _open = new(StringComparer.Ordinal);
    private readonly int _limit = options.Value.MaxStreamsPerTenant;

    /// <summary>Takes a place for one stream of <paramref name="tenant"/>; false when it has its limit open.</summary>
    public bool TryEnter(string tenant)
    {
        while (true)
        {
            if (!_open.TryGetValue(tenant, out int open))
            {
                if (_open.TryAdd(tenant, 1))
                    return true;
                continue; // another stream of the tenant came first
            }
            if (open >= _limit)
                return false;
            if (_open.TryUpdate(tenant, open + 1, open))
                return true;
        }
    }

    public void Leave(string tenant) => _open.AddOrUpdate(tenant, 0, (_, open) => Math.Max(0, open - 1));

    public int Limit => _limit;
}

internal static class TenantStreamsExtensions
{
    /// <summary>The endpoint holds one of its tenant's stream places for as long as it runs.</summary>
    public static RouteHandlerBuilder CountsAsTenantStream(this RouteHandlerBuilder builder) => builder.AddEndpointFilter(async (invocation, next) =>
    {
        var context = invocation.HttpContext;
        var streams = context.RequestServices.GetRequiredService<TenantStreams>();
        string tenant = context.Caller().Tenant;
        if (!streams.TryEnter(tenant))
            return HttpResults.Problem(Problem.TooManyStreams(streams.Limit));
        try
        {
            return await next(invocation);
        }
        finally
        {
            streams.Leave(tenant);
        }
    });
}

/// <summary>
/// The grain calls each tenant has in flight through this silo's gateway: at most
/// <see cref="GatewayOptions.MaxCallsInFlightPerTenant"/>; further calls of that tenant wait their turn, in order. One
/// tenant's flood then queues behind itself instead of in front of every other tenant's calls.
/// </summary>
internal sealed class TenantCalls(IOptions<GatewayOptions> options)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenants = new(StringComparer.Ordinal);
    private readonly int _limit = options.Value.MaxCallsInFlightPerTenant;

    public async Task<IDisposable> EnterAsync(string tenant, CancellationToken ct)
    {
        var turns = _tenants.GetOrAdd(tenant, _ => new SemaphoreSlim(_limit, _limit));
        await turns.WaitAsync(ct);
        return new Turn(turns);
    }

    private sealed class Turn(SemaphoreSlim turns) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
                turns.Release();
        }
    }
}
