using System.Buffers;
using System.Text.Json;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>
/// The tokens an upstream says a call used, read from its answer as it passes through: a JSON body's <c>usage</c>
/// (OpenAI's chat completions <c>total_tokens</c> or <c>prompt_tokens</c> + <c>completion_tokens</c>; the responses API's and
/// Anthropic's <c>input_tokens</c> + <c>output_tokens</c>), or, in a stream of server-sent events, the <c>usage</c> of its
/// events (OpenAI's last chunk; the responses API's <c>response.completed</c>; Anthropic's <c>message_start</c> and
/// <c>message_delta</c>, whose figures add up). Null until an answer said anything.
/// </summary>
internal sealed class UsageReader(bool eventStream)
{
    /// <summary>The most of a JSON answer kept to read its usage; a longer one is passed on without it.</summary>
    private const int MaxJsonBytes = 8 * 1024 * 1024;

    private readonly ArrayBufferWriter<byte> _pending = new();
    private long? _input, _output, _total;
    private bool _overflow;

    /// <summary>The tokens used, as far as the answer told.</summary>
    public long? Tokens => _total ?? (_input is null && _output is null ? null : (_input ?? 0) + (_output ?? 0));

    /// <summary>Reads the next bytes of the answer (as they were passed on).</summary>
    public void Read(ReadOnlySpan<byte> chunk)
    {
        if (!eventStream)
        {
            if (_pending.WrittenCount + chunk.Length > MaxJsonBytes)
                _overflow = true;
            else
                _pending.Write(chunk);
            return;
        }
        // Line by line: a "data:" line that mentions usage is parsed; everything else only passes.
        while (!chunk.IsEmpty)
        {
            int end = chunk.IndexOfAny((byte)'\n', (byte)'\r');
            if (end < 0)
            {
                if (_pending.WrittenCount + chunk.Length <= MaxJsonBytes)
                    _pending.Write(chunk);
                return;
            }
            if (_pending.WrittenCount + end <= MaxJsonBytes)
                _pending.Write(chunk[..end]);
            Line(_pending.WrittenSpan);
            _pending.Clear();
            chunk = chunk[(end + 1)..];
        }
    }

    /// <summary>The answer ended: a JSON body is read whole now.</summary>
    public void Complete()
    {
        if (eventStream)
            Line(_pending.WrittenSpan);
        else if (!_overflow)
            Json(_pending.WrittenSpan);
        _pending.Clear();
    }

    private void Line(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("data:"u8) || line.IndexOf("usage"u8) < 0)
            return;
        Json(line[5..]);
    }

    private void Json(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            Find(document.RootElement, depth: 0);
        }
        catch (JsonException)
        {
            // Not JSON (an error page, a truncated stream): no usage from it.
        }
    }

    /// <summary>The first "usage" object at the top or one level down (the responses API's event nests its response).</summary>
    private void Find(JsonElement element, int depth)
    {
        if (element.ValueKind != JsonValueKind.Object || depth > 2)
            return;
        if (element.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            Take(usage);
            return;
        }
        foreach (var property in element.EnumerateObject())
            Find(property.Value, depth + 1);
    }

    private void Take(JsonElement usage)
    {
        long? Figure(string name) => usage.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) && n >= 0 ? n : null;
        if (Figure("total_tokens") is { } total)
            _total = total;
        else if (Figure("prompt_tokens") is { } prompt)
            _total = prompt + (Figure("completion_tokens") ?? 0);
        // Anthropic sends its input in message_start and its output (so far) in message_delta: the latest of each counts.
        if (Figure("input_tokens") is { } input)
            _input = input;
        if (Figure("output_tokens") is { } output)
            _output = output;
    }
}
