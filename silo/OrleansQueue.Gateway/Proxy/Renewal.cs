namespace OrleansQueue.Gateway.Proxy;

/// <summary>Keeps a proxied call's lease alive for as long as its upstream call runs (a long stream outlives one TTL):
/// renews it at a third of the time it had left each time, until disposed.</summary>
internal sealed class Renewal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private Renewal(RequestOperations requests, Caller caller, string resource, RequestView lease) =>
        _ = RunAsync(requests, caller, resource, lease, _stop.Token);

    public static Renewal Start(RequestOperations requests, Caller caller, string resource, RequestView lease) => new(requests, caller, resource, lease);

    private static async Task RunAsync(RequestOperations requests, Caller caller, string resource, RequestView lease, CancellationToken stop)
    {
        try
        {
            var expires = lease.ExpiresAt;
            while (expires is { } at)
            {
                var left = at - DateTimeOffset.UtcNow;
                await Task.Delay(left > TimeSpan.FromMilliseconds(300) ? left / 3 : TimeSpan.FromMilliseconds(100), stop);
                var renewed = await requests.RenewAsync(caller, resource, lease.Id, stop);
                expires = renewed.Value is { State: RequestPhase.Held } held ? held.ExpiresAt : null;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
