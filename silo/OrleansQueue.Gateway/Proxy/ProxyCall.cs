using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>
/// A caller's request to the proxy, read once (so that it can be sent again after an upstream 429): its body, and what the
/// queue needs of it: the client (<c>X-OrleansQueue-Client</c>, else the body's <c>user</c>), the priority
/// (<c>X-OrleansQueue-Priority</c>), the longest wait (<c>X-OrleansQueue-Max-Wait-Ms</c>) and the load (tokens estimated
/// from the body). Its method, path, query and the headers that go on to the upstream (never the caller's credentials, nor
/// hop-by-hop headers or the proxy's own) are kept with it, so that a call run later as a job (<c>Prefer: respond-async</c>)
/// is its job's payload and is sent from there as it would have been at once.
/// </summary>
internal sealed class ProxyCall
{
    public const string ClientHeader = "X-OrleansQueue-Client";
    public const string PriorityHeader = "X-OrleansQueue-Priority";
    public const string MaxWaitHeader = "X-OrleansQueue-Max-Wait-Ms";

    /// <summary>Request headers never forwarded: hop-by-hop ones, the caller's credentials, the proxy's own.</summary>
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate", "TE", "Trailer", "Transfer-Encoding",
        "Upgrade", "Host", "Content-Length", "Authorization", "X-Api-Key", "api-key", "Cookie", "Accept-Encoding", "Expect", "Prefer",
    };

    private byte[] _body = [];
    private bool _streamWithoutUsage;
    private string _method = "GET";
    private string _path = "";
    private string _query = "";
    private readonly List<KeyValuePair<string, string[]>> _headers = [];

    public Problem? Problem { get; private init; }
    public string? ClientId { get; private set; }
    public Contracts.Priority? Priority { get; private set; }
    public long? MaxWaitMs { get; private set; }
    public long Load { get; private set; } = 1;

    public static async Task<ProxyCall> ReadAsync(HttpContext context, string? path, int maxBodyBytes, CancellationToken ct)
    {
        var request = context.Request;
        var call = new ProxyCall { _method = request.Method, _path = path ?? "", _query = request.QueryString.Value ?? "" };
        foreach (var (name, values) in request.Headers)
        {
            if (!NotForwarded.Contains(name) && !name.StartsWith("X-OrleansQueue-", StringComparison.OrdinalIgnoreCase))
                call._headers.Add(new(name, values.Where(v => v is not null).ToArray()!));
        }
        if (request.Headers[PriorityHeader].FirstOrDefault() is { } priority)
        {
            if (!Enum.TryParse<Contracts.Priority>(priority, ignoreCase: true, out var level) || !Enum.IsDefined(level) || priority.Any(char.IsDigit))
                return Refuse(Contracts.Problem.Invalid(PriorityHeader, $"{PriorityHeader} must be critical, high, normal, low or background; it is \"{priority}\"."));
            call.Priority = level;
        }
        if (request.Headers[MaxWaitHeader].FirstOrDefault() is { } wait)
        {
            if (!long.TryParse(wait, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long ms))
                return Refuse(Contracts.Problem.Invalid(MaxWaitHeader, $"{MaxWaitHeader} must be a whole number of milliseconds; it is \"{wait}\"."));
            call.MaxWaitMs = ms;
        }
        call.ClientId = request.Headers[ClientHeader].FirstOrDefault();

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = maxBodyBytes;
        if (request.ContentLength > maxBodyBytes)
            return Refuse(Contracts.Problem.TooLarge(maxBodyBytes));
        using var buffer = new MemoryStream();
        try
        {
            await request.Body.CopyToAsync(buffer, ct);
        }
        catch (BadHttpRequestException)
        {
            return Refuse(Contracts.Problem.TooLarge(maxBodyBytes));
        }
        call._body = buffer.ToArray();
        if (call._body.Length > 0 && request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(call._body);
            }
            catch (JsonException ex)
            {
                return Refuse(Contracts.Problem.InvalidJson(null, "The body is not valid JSON: " + ex.Message));
            }
            using (document)
            {
                var root = document.RootElement;
                call.Load = TokenEstimate.Of(root);
                if (root.ValueKind == JsonValueKind.Object)
                {
                    if (call.ClientId is null && root.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.String)
                        call.ClientId = user.GetString();
                    call._streamWithoutUsage = root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True
                        && root.TryGetProperty("messages", out _)
                        && !(root.TryGetProperty("stream_options", out var options) && options.ValueKind == JsonValueKind.Object && options.TryGetProperty("include_usage", out _));
                }
            }
        }
        return call;
    }

    /// <summary>A streamed chat completion asks for its usage chunk (<c>stream_options.include_usage</c>), so that the lease is
    /// released with what was used; a caller that asked already is left as it is.</summary>
    public void AskForStreamUsage()
    {
        if (!_streamWithoutUsage)
            return;
        // Rewritten only here, for the one kind of call that needs it; every other body passes as the caller sent it.
        var body = JsonNode.Parse(_body)!.AsObject();
        if (body["stream_options"] is JsonObject options)
            options["include_usage"] = true;
        else
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        _body = JsonSerializer.SerializeToUtf8Bytes(body);
        _streamWithoutUsage = false;
    }

    /// <summary>The call as the upstream gets it: its base URL and the path, the caller's method, query, headers (but hop-by-hop
    /// ones, credentials and the proxy's own) and body, with the upstream's key as its provider expects it.</summary>
    public HttpRequestMessage ToUpstream(ProxyUpstream upstream)
    {
        var message = new HttpRequestMessage(new HttpMethod(_method), upstream.Target(_path, _query));
        if (_body.Length > 0)
            message.Content = new ByteArrayContent(_body);
        foreach (var (name, values) in _headers)
        {
            if (!message.Headers.TryAddWithoutValidation(name, values))
                message.Content?.Headers.TryAddWithoutValidation(name, values);
        }
        upstream.Authorize(message);
        return message;
    }

    /// <summary>The call as a job's payload: <c>{"proxy": {method, path, query, headers, body}}</c> (the body as text, or as
    /// <c>bodyBase64</c> when it is not UTF-8). No credential is in it: the caller's were never kept.</summary>
    public JsonElement ToPayload()
    {
        var call = new JsonObject
        {
            ["method"] = _method, ["path"] = _path, ["query"] = _query,
            ["headers"] = new JsonObject(_headers.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)new JsonArray(h.Value.Select(v => (JsonNode?)v).ToArray())))),
        };
        try
        {
            call["body"] = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(_body);
        }
        catch (System.Text.DecoderFallbackException)
        {
            call["bodyBase64"] = Convert.ToBase64String(_body);
        }
        return JsonSerializer.SerializeToElement(new JsonObject { ["proxy"] = call });
    }

    /// <summary>The call a job's payload holds (<see cref="ToPayload"/>); null when the payload is not one.</summary>
    public static ProxyCall? FromPayload(JsonElement? payload)
    {
        if (payload is not { ValueKind: JsonValueKind.Object } root || !root.TryGetProperty("proxy", out var p) || p.ValueKind != JsonValueKind.Object
            || !p.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
            return null;
        var call = new ProxyCall
        {
            _method = method.GetString()!,
            _path = p.TryGetProperty("path", out var path) && path.ValueKind == JsonValueKind.String ? path.GetString()! : "",
            _query = p.TryGetProperty("query", out var query) && query.ValueKind == JsonValueKind.String ? query.GetString()! : "",
            _body = p.TryGetProperty("body", out var body) && body.ValueKind == JsonValueKind.String ? System.Text.Encoding.UTF8.GetBytes(body.GetString()!)
                : p.TryGetProperty("bodyBase64", out var raw) && raw.ValueKind == JsonValueKind.String ? Convert.FromBase64String(raw.GetString()!) : [],
        };
        if (p.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
        {
            foreach (var header in headers.EnumerateObject())
            {
                if (!NotForwarded.Contains(header.Name) && header.Value.ValueKind == JsonValueKind.Array)
                    call._headers.Add(new(header.Name, [.. header.Value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)]));
            }
        }
        return call;
    }

    private static ProxyCall Refuse(Problem problem) => new() { Problem = problem };
}
