using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansQueue.Client;

/// <summary>
/// What carries the client's operations and the updates pushed to it: the WebSocket to a silo's gateway
/// (<see cref="SocketConnection"/>) or the grains themselves through Orleans (<see cref="OrleansConnection"/>). Both speak the
/// WebSocket protocol's messages (<c>{"op":"acquire",…}</c> in, <c>{"request":…}</c>, <c>{"job":…}</c> or <c>{"problem":…}</c>
/// out), so everything above them (waiting, renewal, re-attaching, polling-only resources) is one code path.
/// </summary>
internal interface IConnection : IAsyncDisposable
{
    /// <summary>Pushed updates ("request" objects). Handlers must not block.</summary>
    Action<JsonElement>? Updated { get; set; }

    /// <summary>Pushed job views of watched jobs.</summary>
    Action<JsonElement>? JobUpdated { get; set; }

    /// <summary>Runs when what the client follows must be followed again: the connection came back, or a resource moved.</summary>
    Func<Task>? Reconnected { get; set; }

    /// <summary>Sends one operation and returns the reply. <paramref name="inline"/> runs on the reply before the caller
    /// sees it (on the WebSocket, before any later message is handled). Throws <see cref="ConnectionLostException"/> when
    /// the call may not have arrived.</summary>
    Task<JsonElement> CallAsync(JsonObject message, CancellationToken ct, Action<JsonElement>? inline = null);

    /// <summary>For tests: loses the connection (or what the grains know of it) as a failure would.</summary>
    void Abort();
}
