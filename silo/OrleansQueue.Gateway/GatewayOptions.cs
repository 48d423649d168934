using Microsoft.Extensions.Options;

namespace OrleansQueue.Gateway;

/// <summary>The HTTP gateway's options: who may call it, and how much one caller may ask of it. Bound from a configuration
/// section (the standalone silo's is "Silo") or set by a delegate, through <c>AddOrleansQueueGateway</c>.</summary>
public sealed class GatewayOptions
{
    /// <summary>API keys, each mapped to a tenant. None: every caller is tenant "default" with admin rights (and the
    /// standalone silo refuses to listen beyond loopback unless <see cref="AllowInsecure"/>).</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>Allows listening beyond loopback without API keys.</summary>
    /// <value>The default value is <c>false</c>.</value>
    public bool AllowInsecure { get; set; }

    /// <summary>The largest request body accepted.</summary>
    /// <value>The default value is 65,536 bytes.</value>
    public int MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>The largest body a call through the proxy (<c>/v1/proxy/…</c>) may carry: an LLM prompt with its images is
    /// larger than any of the API's own bodies.</summary>
    /// <value>The default value is 8 MiB.</value>
    public int MaxProxyBodyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>The longest path and query the gateway takes (414 <c>uri-too-long</c> beyond).</summary>
    public const int MaxUrlBytes = 8 * 1024;

    /// <summary>The most header bytes (names and values) the gateway takes, and the most headers (431 <c>headers-too-large</c> beyond).</summary>
    public const int MaxHeaderBytes = 32 * 1024, MaxHeaderCount = 100;

    /// <summary>Where Kestrel itself stops reading (and answers 414/431 with no body): far enough past the gateway's own
    /// limits that a request only somewhat over them reaches the gateway's code and gets a problem that says why.</summary>
    public const int KestrelLineBytes = 64 * 1024, KestrelHeaderBytes = 128 * 1024, KestrelHeaderCount = 1000;

    /// <summary>The most a WebSocket session may have queued for its client and not yet sent: past it, the client is
    /// not reading its replies, and the session is closed with 1008 (policy violation).</summary>
    /// <value>The default value is 4 MiB.</value>
    public int MaxSessionOutboxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most grain calls one tenant may have in flight through this silo's gateway at once; more wait their turn.</summary>
    /// <value>The default value is 128.</value>
    public int MaxCallsInFlightPerTenant { get; set; } = 128;

    /// <summary>The most operations one WebSocket session may have in flight at once; further messages wait to be read.</summary>
    /// <value>The default value is 256.</value>
    public int MaxSessionInFlight { get; set; } = 256;

    /// <summary>The most WebSocket sessions and event streams one tenant may have open on one silo at once.</summary>
    /// <value>The default value is 5,000.</value>
    public int MaxStreamsPerTenant { get; set; } = 5000;

    /// <summary>The longest long-poll a caller may ask for.</summary>
    /// <value>The default value is 60 seconds.</value>
    public int MaxLongPollSeconds { get; set; } = 60;

    /// <summary>The rules these options break, each naming its setting under <paramref name="section"/> (the configuration
    /// path the options come from).</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (MaxSessionOutboxBytes < 64 * 1024)
            yield return $"{section}:MaxSessionOutboxBytes must be at least 65536; it is {MaxSessionOutboxBytes}.";
        if (MaxStreamsPerTenant < 1)
            yield return $"{section}:MaxStreamsPerTenant must be at least 1; it is {MaxStreamsPerTenant}.";
        if (MaxCallsInFlightPerTenant < 1)
            yield return $"{section}:MaxCallsInFlightPerTenant must be at least 1; it is {MaxCallsInFlightPerTenant}.";
        if (MaxSessionInFlight < 1)
            yield return $"{section}:MaxSessionInFlight must be at least 1; it is {MaxSessionInFlight}.";
        if (MaxRequestBodyBytes is < 1024 or > 16 * 1024 * 1024)
            yield return $"{section}:MaxRequestBodyBytes must be between 1024 and 16777216; it is {MaxRequestBodyBytes}.";
        if (MaxProxyBodyBytes is < 1024 or > 256 * 1024 * 1024)
            yield return $"{section}:MaxProxyBodyBytes must be between 1024 and 268435456; it is {MaxProxyBodyBytes}.";
        if (MaxLongPollSeconds is < 1 or > 3600)
            yield return $"{section}:MaxLongPollSeconds must be between 1 and 3600; it is {MaxLongPollSeconds}.";
        for (int i = 0; i < ApiKeys.Count; i++)
        {
            var key = ApiKeys[i];
            if (string.IsNullOrWhiteSpace(key.Key) || key.Key.Length < 16)
                yield return $"{section}:ApiKeys:{i}:Key must be at least 16 characters.";
            if (!Names.IsValidTenant(key.Tenant))
                yield return $"{section}:ApiKeys:{i}:Tenant must be 1 to 64 letters, digits, '-', '_' or '.'; it is \"{key.Tenant}\".";
        }
        if (ApiKeys.Select(k => k.Key).Distinct().Count() != ApiKeys.Count)
            yield return $"{section}:ApiKeys must not repeat a key.";
    }
}

public sealed class ApiKeyOptions
{
    public string Key { get; set; } = "";
    public string Tenant { get; set; } = "";

    /// <summary>Whether the key may create, change and delete resources.</summary>
    public bool Admin { get; set; }
}

internal sealed class GatewayOptionsValidator(string section) : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options) =>
        options.Validate(section).ToList() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
}
