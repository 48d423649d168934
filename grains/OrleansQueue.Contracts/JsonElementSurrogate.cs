using System.Text.Json;

namespace OrleansQueue.Contracts;

/// <summary>A JSON value (a job's payload or result) on the wire between silo and clients: its raw text.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.Json")]
public readonly struct JsonElementSurrogate
{
    [Id(0)] public readonly string Json;

    public JsonElementSurrogate(string json) => Json = json;
}

[RegisterConverter]
public sealed class JsonElementSurrogateConverter : IConverter<JsonElement, JsonElementSurrogate>
{
    public JsonElement ConvertFromSurrogate(in JsonElementSurrogate surrogate)
    {
        using var document = JsonDocument.Parse(surrogate.Json);
        return document.RootElement.Clone();
    }

    public JsonElementSurrogate ConvertToSurrogate(in JsonElement value) => new(value.GetRawText());
}
