using System.Text;
using System.Text.Json;
using OrleansQueue.Gateway.Proxy;

namespace OrleansQueue.Tests.Proxy;

/// <summary>What the proxy reads of a call: the load it estimates from the request, and the usage the answer reports,
/// in every shape the providers send it, whole or streamed, however the bytes are cut.</summary>
public sealed class UsageAndEstimateTests
{
    [Fact]
    public void TheEstimateIsThePromptsTokensPlusTheMostTheAnswerMayUse()
    {
        using var chat = JsonDocument.Parse("""{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Say hello."},{"type":"image_url","image_url":{"url":"data:x"}}]}],"max_tokens":100}""");
        long estimate = TokenEstimate.Of(chat.RootElement);
        Assert.InRange(estimate, 100 + 4, 100 + 12); // "Be brief." and "Say hello." are a few tokens each; the image's URL counts nothing

        using var responses = JsonDocument.Parse("""{"model":"gpt-4o","input":"Say hello.","instructions":"Be brief.","max_output_tokens":7}""");
        Assert.InRange(TokenEstimate.Of(responses.RootElement), 7 + 4, 7 + 12);

        using var bare = JsonDocument.Parse("""{"model":"gpt-4o"}""");
        Assert.Equal(1, TokenEstimate.Of(bare.RootElement));
        Assert.Equal(1, TokenEstimate.Of(null));
    }

    [Theory]
    [InlineData("""{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}""", 11)]
    [InlineData("""{"output":[],"usage":{"input_tokens":20,"output_tokens":5,"total_tokens":25}}""", 25)]
    [InlineData("""{"type":"message","content":[],"usage":{"input_tokens":30,"output_tokens":7}}""", 37)]
    [InlineData("""{"error":{"message":"no"}}""", null)]
    [InlineData("""not json""", null)]
    public void AJsonAnswersUsageIsItsTokens(string body, int? tokens) => Assert.Equal((long?)tokens, Read(body, eventStream: false, cut: 5));

    [Theory]
    // OpenAI's chat completions: the usage chunk at the end.
    [InlineData("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\ndata: [DONE]\n\n", 11)]
    // The responses API: the completed response carries it.
    [InlineData("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":20,\"output_tokens\":5,\"total_tokens\":25}}}\n\n", 25)]
    // Anthropic: input in message_start, output (the latest count) in message_delta, CRLF line ends.
    [InlineData("event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\r\n\r\nevent: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\r\n\r\n", 37)]
    [InlineData("data: {\"choices\":[{\"delta\":{\"content\":\"no usage\"}}]}\n\n", null)]
    public void AStreamsUsageIsReadFromItsEventsHoweverItsBytesAreCut(string stream, int? tokens)
    {
        foreach (int cut in new[] { 1, 3, 7, 64, 100_000 })
            Assert.Equal((long?)tokens, Read(stream, eventStream: true, cut));
    }

    private static long? Read(string text, bool eventStream, int cut)
    {
        var reader = new UsageReader(eventStream);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int i = 0; i < bytes.Length; i += cut)
            reader.Read(bytes.AsSpan(i, Math.Min(cut, bytes.Length - i)));
        reader.Complete();
        return reader.Tokens;
    }
}
