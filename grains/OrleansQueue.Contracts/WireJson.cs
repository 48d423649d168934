using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansQueue.Contracts;

/// <summary>The JSON form of the contracts on the wire (HTTP, WebSocket, SSE): camelCase, enums as camelCase strings
/// (the numbers of defined values accepted), numbers only as JSON numbers, nulls left out. The silo's gateway and the SDK's carriers write and read with it.</summary>
public static class WireJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.NumberHandling = JsonNumberHandling.Strict; // the web defaults read "5" as 5
        options.Converters.Add(new StrictEnumConverter());
        return options;
    }
}
