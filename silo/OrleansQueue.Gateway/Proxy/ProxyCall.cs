using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>
/// A caller's request to the proxy, read once (so that it can be sent again after an upstream 429): its body, and what the
/// queue needs of it: the client (<c>X-OrleansQueue-Client</c>, else the body's <c>user</c>), the priority
/// (<c>X-OrleansQueue-Priority</c>), the longest wait (<c>X-OrleansQueue-Max-Wait-Ms</c>) and the load (tokens estimated
/// from the body).
/// </summary>
internal sealed class ProxyCall
{
    public const string ClientHeader = "X-OrleansQueue-Client";
    public const string PriorityHeader = "X-OrleansQueue-Priority";
    public const string MaxWaitHeader = "X-OrleansQueue-Max-Wait-Ms";

    private byte[] _body = [];
    private bool _streamWithoutUsage;

    public Problem? Problem { get; private init; }
    public string? ClientId { get; private set; }
    public Contracts.Priority? Priority { get; private set; }
    public long? MaxWaitMs { get; private set; }
    public long Load { get; private set; } = 1;

    public static async Task<ProxyCall> ReadAsync(HttpContext context, int maxBodyBytes, CancellationToken ct)
    {
        var request = context.Request;
        var call = new ProxyCall();
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
    public HttpRequestMessage ToUpstream(ProxyUpstream upstream, string? path, HttpContext context, IReadOnlySet<string> notForwarded)
    {
        var request = context.Request;
        var message = new HttpRequestMessage(new HttpMethod(request.Method), upstream.Target(path, request.QueryString.Value));
        if (_body.Length > 0)
            message.Content = new ByteArrayContent(_body);
        foreach (var (name, values) in request.Headers)
        {
            if (notForwarded.Contains(name) || name.StartsWith("X-OrleansQueue-", StringComparison.OrdinalIgnoreCase))
                continue;
            if (!message.Headers.TryAddWithoutValidation(name, values.ToArray()))
                message.Content?.Headers.TryAddWithoutValidation(name, values.ToArray());
        }
        upstream.Authorize(message);
        return message;
    }

    private static ProxyCall Refuse(Problem problem) => new() { Problem = problem };
}
