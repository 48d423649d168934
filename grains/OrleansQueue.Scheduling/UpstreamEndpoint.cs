namespace OrleansQueue.Scheduling;

/// <summary>
/// The upstream a resource's budget is for, when the silo proxies calls to it (<see cref="ResourcePolicy.Upstream"/>):
/// where it is, which provider's conventions it follows, and the name of the setting that holds its key. The key itself
/// is never part of a policy. Plain data: the scheduler keeps it with the policy and does nothing with it.
/// </summary>
/// <param name="BaseUrl">An absolute http or https URL; a proxied path is appended to it.</param>
/// <param name="Provider">One of <see cref="Providers"/>: how the key is sent and the usage read.</param>
/// <param name="KeySetting">The configuration key or environment variable that holds the upstream's key (null: none is sent).</param>
public sealed record UpstreamEndpoint(string BaseUrl, string Provider = UpstreamEndpoint.OpenAi, string? KeySetting = null)
{
    /// <summary>OpenAI, or an API that follows its conventions: <c>Authorization: Bearer</c>, <c>usage</c> in the answer.</summary>
    public const string OpenAi = "openai";

    /// <summary>Azure OpenAI: the key in <c>api-key</c>, OpenAI's answers.</summary>
    public const string AzureOpenAi = "azure-openai";

    /// <summary>Anthropic: the key in <c>x-api-key</c>, its own usage fields.</summary>
    public const string Anthropic = "anthropic";

    /// <summary>Any other HTTP API: the key as <c>Authorization: Bearer</c>, no usage read.</summary>
    public const string Generic = "generic";

    /// <summary>The providers known: OpenAI (and compatible APIs), Azure OpenAI, Anthropic, or any other HTTP API.</summary>
    public static readonly IReadOnlyList<string> Providers = [OpenAi, AzureOpenAi, Anthropic, Generic];

    /// <summary>Every rule this endpoint breaks, each as a rule of the field <c>Upstream</c>.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Query.Length > 0 || url.Fragment.Length > 0)
            yield return $"baseUrl must be an absolute http or https URL without a query; it is \"{BaseUrl}\".";
        else if (!string.IsNullOrEmpty(url.UserInfo))
            yield return "baseUrl must not carry credentials: name the setting that holds the key in keySetting.";
        if (!Providers.Contains(Provider))
            yield return $"provider must be one of {string.Join(", ", Providers)}; it is \"{Provider}\".";
        if (KeySetting is not null && (KeySetting.Length is 0 or > 200 || !KeySetting.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':' or '.' or '-')))
            yield return "keySetting must name a configuration key or environment variable (letters, digits, _ : . -), not hold a key.";
    }
}
