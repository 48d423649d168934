using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansQueue.Client;

/// <summary>The same operations as the WebSocket protocol, over plain HTTP: the fallback when push is unavailable.</summary>
internal sealed class HttpApi(HttpClient http)
{
    /// <summary>Long-poll was refused (a proxy that does not allow it); plain polling from now on.</summary>
    public bool LongPollRefused { get; private set; }

    /// <summary>Runs a WebSocket-protocol message as the equivalent HTTP call; returns the "request" object or throws the problem.</summary>
    public async Task<JsonElement> CallAsync(JsonObject m, CancellationToken ct)
    {
        string resource = Uri.EscapeDataString((string)m["resource"]!);
        string op = (string)m["op"]!;
        string requests = $"v1/resources/{resource}/requests/{m["id"]}";
        using var request = op switch
        {
            "acquire" => Post($"v1/resources/{resource}/acquire", Body(m, "clientId", "load", "priority", "maxWaitMs", "idempotencyKey")),
            "status" => new HttpRequestMessage(HttpMethod.Get, requests),
            "wait" => new HttpRequestMessage(HttpMethod.Get, $"{requests}/wait?timeoutMs={m["timeoutMs"]}"),
            "release" => Post($"{requests}/release", Body(m, "actualLoad", "idempotencyKey", "upstream")),
            "report" => Post($"{requests}/report", m["upstream"]?.DeepClone().AsObject() ?? []),
            "renew" or "claim" => Post($"{requests}/renew", null),
            "cancel" => new HttpRequestMessage(HttpMethod.Delete, requests),
            _ => throw new ArgumentException($"No HTTP form for op \"{op}\".", nameof(m)),
        };
        return await SendAsync(request, ct, refusedLongPoll: op == "wait") ?? default;
    }

    /// <summary>Sends one request: the JSON answer, <c>null</c> for 204, a typed exception for a problem, and
    /// <see cref="ConnectionLostException"/> when the silo cannot be reached or answers 5xx without a problem.</summary>
    public async Task<JsonElement?> SendAsync(HttpRequestMessage request, CancellationToken ct, bool refusedLongPoll = false)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new ConnectionLostException("The silo did not answer over HTTP.", ex);
        }
        using (response)
        {
            bool problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
            if (refusedLongPoll && !problem && response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented)
            {
                LongPollRefused = true;
                throw new ConnectionLostException("Long-poll is not available here.");
            }
            if ((int)response.StatusCode >= 500 && !problem)
                throw new ConnectionLostException($"The silo answered {(int)response.StatusCode}.");
            if (response.StatusCode == HttpStatusCode.NoContent)
                return null;
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            if (!response.IsSuccessStatusCode)
                throw OrleansQueueException.FromProblem(body);
            return body;
        }
    }

    private static HttpRequestMessage Post(string path, JsonObject? body) =>
        new(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };

    private static JsonObject Body(JsonObject m, params string[] fields)
    {
        var body = new JsonObject();
        foreach (string field in fields)
        {
            if (m[field] is { } value)
                body[field] = value.DeepClone();
        }
        return body;
    }
}
