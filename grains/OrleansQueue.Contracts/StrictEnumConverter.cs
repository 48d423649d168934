using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansQueue.Contracts;

/// <summary>
/// Enums on the wire: written as camelCase names; read from a name (any case, nothing around it) or from the number of a
/// defined value. Unlike <see cref="JsonStringEnumConverter"/>, " high", "high\n" or "7" are refused, not bent into a value.
/// </summary>
public sealed class StrictEnumConverter : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Converter<>).MakeGenericType(typeToConvert))!;

    private sealed class Converter<T> : JsonConverter<T> where T : struct, Enum
    {
        private static readonly Dictionary<string, T> ByName = Enum.GetValues<T>()
            .ToDictionary(v => JsonNamingPolicy.CamelCase.ConvertName(v.ToString()), v => v, StringComparer.OrdinalIgnoreCase);

        private static readonly Dictionary<long, T> ByNumber = Enum.GetValues<T>()
            .ToDictionary(v => Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture), v => v);

        /// <summary>What a refusal says is accepted, for the caller's message.</summary>
        public static string Allowed => string.Join(", ", ByName.Keys);

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.String && ByName.TryGetValue(reader.GetString()!, out var named))
                return named;
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long number) && ByNumber.TryGetValue(number, out var numbered))
                return numbered;
            throw new JsonException($"must be one of {Allowed}.");
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WriteStringValue(JsonNamingPolicy.CamelCase.ConvertName(value.ToString()));
    }
}
