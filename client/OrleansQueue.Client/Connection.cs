using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// What carries the client's operations and the updates pushed to it: the WebSocket to a silo's gateway
/// (<see cref="SocketConnection"/>, which owns all of its JSON) or the grains themselves through Orleans
/// (<see cref="OrleansConnection"/>, grain calls with no JSON in between). Both take the WebSocket protocol's
/// <see cref="SocketRequest"/> and answer its <see cref="SocketMessage"/>, so everything above them (waiting, renewal,
/// re-attaching, polling-only resources) is one code path over typed records.
/// </summary>
internal interface IConnection : IAsyncDisposable
{
    /// <summary>Pushed changes of followed requests. Handlers must not block.</summary>
    Action<RequestView>? Updated { get; set; }

    /// <summary>Pushed changes of watched jobs.</summary>
    Action<JobView>? JobUpdated { get; set; }

    /// <summary>Runs when what the client follows must be followed again: the connection came back, or a resource moved.</summary>
    Func<Task>? Reconnected { get; set; }

    /// <summary>Sends one operation and returns its reply. <paramref name="inline"/> runs on the reply before the caller
    /// sees it (on the WebSocket, before any later message is handled). Throws <see cref="ConnectionLostException"/> when
    /// the call may not have arrived.</summary>
    Task<SocketMessage> CallAsync(SocketRequest request, CancellationToken ct, Action<SocketMessage>? inline = null);

    /// <summary>For tests: loses the connection (or what the grains know of it) as a failure would.</summary>
    void Abort();
}
