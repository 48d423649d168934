using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansQueue.Silo.Gateway;

/// <summary>The JSON rules of the API: camelCase, enums as camelCase strings (numbers accepted), unknown fields refused.</summary>
public static class ApiJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>The wire's form (<see cref="WireJson"/>), strict about what callers send.</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        return WireJson.Configure(options);
    }

    /// <summary>
    /// Reads the body as <typeparamref name="T"/>, refusing bodies over <paramref name="limit"/> bytes. An empty body reads as
    /// <paramref name="empty"/>. A problem names the field (the JSON path) and the rule that failed.
    /// </summary>
    public static async Task<Outcome<T>> ReadAsync<T>(HttpRequest request, int limit, T empty, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
            return Problem.TooLarge(limit);
        byte[] body;
        try
        {
            body = await ReadLimitedAsync(request.Body, limit, cancellationToken);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem.TooLarge(limit);
        }
        catch (InvalidDataException)
        {
            return Problem.TooLarge(limit);
        }
        if (body.Length == 0)
            return new(empty, null);
        return Parse(body, empty);
    }

    public static Outcome<T> Parse<T>(ReadOnlySpan<byte> json, T empty)
    {
        try
        {
            var value = JsonSerializer.Deserialize<T>(json, Options);
            return new(value ?? empty, null);
        }
        catch (JsonException ex)
        {
            string? field = ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            string rule = field == "priority"
                ? "priority must be one of critical, high, normal, low, background (or 0 to 4)."
                : ex.Message.Split(" Path:")[0];
            return Problem.InvalidJson(field, field is null ? rule : $"{field}: {rule}");
        }
    }

    private static async Task<byte[]> ReadLimitedAsync(Stream stream, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
                throw new InvalidDataException();
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
