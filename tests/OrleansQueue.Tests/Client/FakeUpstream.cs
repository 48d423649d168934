using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// An upstream API with a hidden limit, on a loopback port: at most <see cref="Limit"/> calls in any sliding
/// <see cref="Window"/>; past it, 429 with retry-after-ms (until a call leaves the window). Every answer carries OpenAI's
/// headers: the limit, what remains, and the time until the budget is back in full (the newest call left the window).
/// </summary>
public sealed class FakeUpstream(int limit, TimeSpan window) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Queue<DateTimeOffset> _calls = new();
    private readonly List<DateTimeOffset> _accepted = [];
    private readonly List<DateTimeOffset> _refused = [];
    private WebApplication? _app;

    public int Limit => limit;
    public TimeSpan Window => window;
    public int Accepted { get { lock (_lock) return _accepted.Count; } }
    public int Refused { get { lock (_lock) return _refused.Count; } }

    /// <summary>Calls refused more than a window after the first refusal: the fleet went over the limit again.</summary>
    public int RefusedAfterTheFirstWindow
    {
        get
        {
            lock (_lock)
                return _refused.Count(r => r - _refused[0] > window);
        }
    }

    public Uri Address { get; private set; } = null!;

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapGet("/v1/call", (HttpContext context) => Answer(context, () => Results.Ok()));
        // OpenAI's chat completions, as its SDKs read them: the same hidden limit and headers.
        // A stream is two chunks of text and a last one with the usage (11 tokens), as with stream_options.include_usage.
        _app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            bool stream = await ReceiveAsync(context);
            return Answer(context, () => stream
                ? new StreamedChat(HoldStream)
                : Results.Text(
                    """{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}""",
                    "application/json"));
        });
        // OpenAI's responses API: the same text and usage, whole or as its stream of typed events.
        _app.MapPost("/v1/responses", async (HttpContext context) =>
        {
            bool stream = await ReceiveAsync(context);
            return Answer(context, () => stream ? new StreamedResponse(HoldStream) : Results.Text(Response("completed", "Hello.", Usage), "application/json"));
        });
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address.TrimEnd('/') + "/v1/call");
        OpenAiEndpoint = new Uri(address.TrimEnd('/') + "/v1");
    }

    /// <summary>Records a call; whether it asks for a stream.</summary>
    private async Task<bool> ReceiveAsync(HttpContext context)
    {
        string text = await new StreamReader(context.Request.Body).ReadToEndAsync();
        using var request = System.Text.Json.JsonDocument.Parse(text);
        var headers = context.Request.Headers;
        Received.Enqueue(new ReceivedCall(headers.Authorization.FirstOrDefault(), headers["X-Api-Key"].FirstOrDefault(),
            headers["X-OrleansQueue-Client"].FirstOrDefault(), text, DateTimeOffset.UtcNow));
        return request.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == System.Text.Json.JsonValueKind.True;
    }

    private const string Usage = """{"input_tokens":9,"output_tokens":2,"total_tokens":11,"input_tokens_details":{"cached_tokens":0},"output_tokens_details":{"reasoning_tokens":0}}""";

    /// <summary>A response object of the responses API, <paramref name="status"/>, with <paramref name="text"/> as its output.</summary>
    private static string Response(string status, string? text, string usage)
    {
        string output = text is null ? "" : $$"""
            {"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"{{text}}","annotations":[]}]}
            """;
        return $$$"""
            {"id":"resp_1","object":"response","created_at":1700000000,"status":"{{{status}}}","model":"gpt-4o","output":[{{{output}}}],"error":null,"incomplete_details":null,"instructions":null,"metadata":{},"parallel_tool_calls":true,"temperature":1.0,"top_p":1.0,"tool_choice":"auto","tools":[],"text":{"format":{"type":"text"}},"truncation":"disabled","usage":{{{usage}}}}
            """;
    }

    /// <summary>The chat completions called, in order: their credentials and body as the upstream got them.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<ReceivedCall> Received { get; } = new();

    /// <summary>When set, a streamed answer sends its first chunk and then waits for this before the rest (a slow model).</summary>
    public TaskCompletionSource? HoldStream { get; set; }

    /// <summary>Where an OpenAI SDK finds this upstream (its <c>Endpoint</c>).</summary>
    public Uri OpenAiEndpoint { get; private set; } = null!;

    private IResult Answer(HttpContext context, Func<IResult> ok)
    {
        var now = DateTimeOffset.UtcNow;
        lock (_lock)
        {
            while (_calls.Count > 0 && now - _calls.Peek() >= window)
                _calls.Dequeue();
            var headers = context.Response.Headers;
            headers["x-ratelimit-limit-requests"] = limit.ToString(CultureInfo.InvariantCulture);
            if (_calls.Count >= limit)
            {
                _refused.Add(now);
                long wait = (long)Math.Ceiling((_calls.Peek() + window - now).TotalMilliseconds);
                headers["retry-after-ms"] = wait.ToString(CultureInfo.InvariantCulture);
                headers["x-ratelimit-remaining-requests"] = "0";
                headers["x-ratelimit-reset-requests"] = wait + "ms";
                return Results.StatusCode(429);
            }
            _calls.Enqueue(now);
            _accepted.Add(now);
            headers["x-ratelimit-remaining-requests"] = (limit - _calls.Count).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = (long)Math.Ceiling(window.TotalMilliseconds) + "ms"; // the newest is this call
            return ok();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }

    /// <summary>One call as received.</summary>
    public sealed record ReceivedCall(string? Authorization, string? ApiKey, string? ClientHeader, string Body, DateTimeOffset At);

    /// <summary>A streamed response of the responses API: created, two text deltas ("Hel", "lo."), completed with the usage;
    /// the first delta flushed alone, the rest after <paramref name="hold"/> (if any).</summary>
    private sealed class StreamedResponse(TaskCompletionSource? hold) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            static string Event(string type, string data) => $"event: {type}\ndata: {data}\n\n";
            static string Delta(int sequence, string delta) => Event("response.output_text.delta",
                $$"""{"type":"response.output_text.delta","sequence_number":{{sequence}},"item_id":"msg_1","output_index":0,"content_index":0,"delta":"{{delta}}","logprobs":[]}""");
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync(Event("response.created", """{"type":"response.created","sequence_number":0,"response":""" + Response("in_progress", null, "null") + "}")
                + Delta(1, "Hel"));
            await context.Response.Body.FlushAsync();
            if (hold is not null)
                await hold.Task.WaitAsync(context.RequestAborted);
            await context.Response.WriteAsync(Delta(2, "lo.")
                + Event("response.completed", """{"type":"response.completed","sequence_number":3,"response":""" + Response("completed", "Hello.", Usage) + "}"));
        }
    }

    /// <summary>A streamed chat completion: two chunks of text ("Hel", "lo.") and a last one with the usage (11 tokens), as
    /// with stream_options.include_usage; the first flushed alone, the rest after <paramref name="hold"/> (if any).</summary>
    private sealed class StreamedChat(TaskCompletionSource? hold) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("""data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}""" + "\n\n");
            await context.Response.Body.FlushAsync();
            if (hold is not null)
                await hold.Task.WaitAsync(context.RequestAborted);
            await context.Response.WriteAsync(string.Concat(
                """data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo."},"finish_reason":"stop"}]}""", "\n\n",
                """data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}""", "\n\n",
                "data: [DONE]\n\n"));
        }
    }
}
