using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansQueue.Gateway;

/// <summary>The JSON rules of the API: camelCase, enums as camelCase strings (numbers accepted), unknown fields refused.</summary>
internal static class ApiJson
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
        catch (Exception ex) when (ex is BadHttpRequestException or IOException)
        {
            // The client went away mid-body (or sent less than it announced): not the silo's failure, and no stack trace
            // in the log for it. The answer is for a client that is still there.
            return Problem.IncompleteBody();
        }
        if (body.Length == 0)
            return new(empty, null);
        if (!IsJson(request.ContentType))
            return Problem.NotJson(request.ContentType!);
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
            string rule = Rule(ex.Message.Split(" Path:")[0], typeof(T), field);
            return Problem.InvalidJson(field, field is null ? rule : $"{field}: {rule}");
        }
    }

    /// <summary>A body is JSON when it says so (application/json, or a +json type) or says nothing.</summary>
    private static bool IsJson(string? contentType) =>
        contentType is null
        || (Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
            && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                || media.MediaType.Value!.EndsWith("+json", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The rule a parse error broke, in the API's words: never a .NET type name.</summary>
    private static string Rule(string message, Type body, string? field)
    {
        if (message.StartsWith("must be one of", StringComparison.Ordinal))
            return message; // an enum: our own converter's words
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
            return "is not a field of this operation (unknown fields are refused).";
        int converted = message.IndexOf("could not be converted to ", StringComparison.Ordinal);
        if (converted >= 0)
        {
            // For a record's constructor parameter the message names the record, not the field: the field's own type first.
            var type = FieldType(body, field) ?? TypeNamed(message[(converted + "could not be converted to ".Length)..]);
            return Expected(type, field);
        }
        return message.Contains("System.", StringComparison.Ordinal) || message.Contains("OrleansQueue.", StringComparison.Ordinal)
            ? "is not valid JSON for this field."
            : message;
    }

    /// <summary>What a value of <paramref name="type"/> must be, in the API's words (durations, named …Ms, are milliseconds).</summary>
    private static string Expected(Type? type, string? field) => type switch
    {
        _ when type == typeof(long) || type == typeof(int) => field is not null && field.EndsWith("Ms", StringComparison.Ordinal)
            ? "must be a whole number of milliseconds: a JSON integer such as 30000 (not a string, not a fraction)."
            : "must be a JSON integer (not a string).",
        _ when type == typeof(double) => "must be a JSON number (not a string).",
        _ when type == typeof(bool) => "must be true or false.",
        _ when type == typeof(string) => "must be a JSON string.",
        { IsEnum: true } => $"must be one of {string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.CamelCase.ConvertName))}.",
        null or { IsValueType: true } => "has a value of the wrong JSON type: the OpenAPI document gives each field's type.",
        _ when type == typeof(JsonElement) => "has a value of the wrong JSON type: the OpenAPI document gives each field's type.",
        _ => "must be a JSON object.",
    };

    /// <summary>The type of top-level field <paramref name="path"/> of <paramref name="body"/>, or <c>null</c>.</summary>
    private static Type? FieldType(Type body, string? path)
    {
        if (path is null || path.Contains('.') || path.Contains('['))
            return null;
        var property = body.GetProperty(path, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
        return property is null ? null : Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
    }

    /// <summary>The type a serializer message names (for nested fields, whose message does name the field's type).</summary>
    private static Type? TypeNamed(string name) => name switch
    {
        _ when name.Contains("Int64", StringComparison.Ordinal) || name.Contains("Int32", StringComparison.Ordinal) => typeof(long),
        _ when name.Contains("Double", StringComparison.Ordinal) => typeof(double),
        _ when name.Contains("Boolean", StringComparison.Ordinal) => typeof(bool),
        _ when name.StartsWith("System.String", StringComparison.Ordinal) => typeof(string),
        _ => null,
    };

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
