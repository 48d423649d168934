using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>
/// The load a proxied LLM call will use, estimated before it is sent: the prompt's tokens (every string of its messages,
/// input, prompt, instructions and system text, counted with the o200k tokenizer, offline) plus the most it may answer
/// (<c>max_tokens</c>, <c>max_completion_tokens</c> or <c>max_output_tokens</c>). The upstream's usage corrects it at release.
/// </summary>
internal static class TokenEstimate
{
    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));
    private static readonly string[] PromptFields = ["messages", "input", "prompt", "instructions", "system"];
    private static readonly string[] OutputFields = ["max_tokens", "max_completion_tokens", "max_output_tokens"];

    /// <summary>The estimate for a JSON request body; 1 for a body that is not a JSON object (or none).</summary>
    public static long Of(JsonElement? request)
    {
        if (request is not { ValueKind: JsonValueKind.Object } body)
            return 1;
        long tokens = 0;
        foreach (string field in PromptFields)
        {
            if (body.TryGetProperty(field, out var value))
                tokens += Count(value);
        }
        foreach (string field in OutputFields)
        {
            if (body.TryGetProperty(field, out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetInt64(out long most) && most > 0)
            {
                tokens += most;
                break;
            }
        }
        return Math.Max(1, tokens);
    }

    private static long Count(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => O200k.Value.CountTokens(value.GetString()!),
        JsonValueKind.Array => value.EnumerateArray().Sum(Count),
        // A message: its text parts ("content", "text"), not the names of its fields; image and audio parts count nothing.
        JsonValueKind.Object => value.EnumerateObject().Where(p => p.Name is "content" or "text" or "input" or "output").Sum(p => Count(p.Value)),
        _ => 0,
    };
}
