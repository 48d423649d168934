using System.Net.WebSockets;

namespace OrleansQueue.Client;

/// <summary>How the client reaches waiting-request updates.</summary>
public enum ClientTransport
{
    /// <summary>WebSocket push; long-poll when the WebSocket is refused or a resource is polling-only; polling when long-poll is refused too.</summary>
    Auto,
    /// <summary>HTTP calls and long-poll only.</summary>
    LongPoll,
    /// <summary>HTTP calls and plain polling only.</summary>
    Poll,
}

/// <summary>Options of <see cref="OrleansQueueClient"/>. <see cref="Validate"/> names every broken rule.</summary>
public sealed class OrleansQueueClientOptions
{
    /// <summary>The silo (any silo of a cluster), e.g. http://127.0.0.1:5080.</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>More silos of the same cluster: when the WebSocket to one is lost or refused, the client reconnects to the
    /// next, in turn, and re-attaches its tickets and leases there.</summary>
    public IList<Uri> FallbackAddresses { get; set; } = [];

    /// <summary>The API key, when the silo requires one.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The client id of acquires that name none; fairness and quotas are per client id.</summary>
    /// <value>The default value is the machine name.</value>
    public string ClientId { get; set; } = Environment.MachineName;

    /// <summary>The transport.</summary>
    /// <value>The default value is <see cref="ClientTransport.Auto"/>.</value>
    public ClientTransport Transport { get; set; } = ClientTransport.Auto;

    /// <summary>The interval of plain polling, the last fallback.</summary>
    /// <value>The default value is 500 ms.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The first delay before reconnecting a lost WebSocket; it doubles up to <see cref="ReconnectMaxDelay"/>.</summary>
    /// <value>The default value is 100 ms.</value>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest delay between reconnection attempts.</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A held lease is renewed when this fraction of its TTL has passed.</summary>
    /// <value>The default value is 0.5.</value>
    public double RenewAt { get; set; } = 0.5;

    /// <summary>
    /// Opens the WebSocket; by default a <see cref="ClientWebSocket"/> to <see cref="BaseAddress"/>/v1/ws (tests and
    /// proxies replace it).
    /// </summary>
    public Func<CancellationToken, Task<WebSocket>>? ConnectWebSocket { get; set; }

    /// <summary>The HTTP handler; tests may replace it.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>Every broken rule, each naming its option; empty when valid.</summary>
    public IReadOnlyList<string> Validate() => ValidateFor(needsAddress: true);

    /// <param name="needsAddress">Whether the client reaches the silo over its gateway (false: through Orleans).</param>
    internal IReadOnlyList<string> ValidateFor(bool needsAddress)
    {
        var errors = new List<string>();
        if (needsAddress && BaseAddress is null && ConnectWebSocket is null)
            errors.Add("BaseAddress must be set to the silo's address, e.g. http://127.0.0.1:5080.");
        else if (BaseAddress is { IsAbsoluteUri: false } || BaseAddress is { Scheme: not ("http" or "https") })
            errors.Add($"BaseAddress must be an absolute http or https address; it is \"{BaseAddress}\".");
        for (int i = 0; i < FallbackAddresses.Count; i++)
        {
            if (FallbackAddresses[i] is not { IsAbsoluteUri: true, Scheme: "http" or "https" })
                errors.Add($"FallbackAddresses[{i}] must be an absolute http or https address; it is \"{FallbackAddresses[i]}\".");
        }
        if (string.IsNullOrWhiteSpace(ClientId) || ClientId.Length > 128)
            errors.Add("ClientId must be 1 to 128 characters.");
        if (PollInterval < TimeSpan.FromMilliseconds(10) || PollInterval > TimeSpan.FromMinutes(1))
            errors.Add($"PollInterval must be between 10 ms and 1 minute; it is {PollInterval}.");
        if (ReconnectMinDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectMinDelay)
            errors.Add($"ReconnectMinDelay must be above zero and at most ReconnectMaxDelay; they are {ReconnectMinDelay} and {ReconnectMaxDelay}.");
        if (RenewAt is <= 0.05 or >= 0.95)
            errors.Add($"RenewAt must be between 0.05 and 0.95 of the TTL; it is {RenewAt}.");
        return errors;
    }
}
