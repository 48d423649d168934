using System.Text.Json;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Grains.Storage;

/// <summary>How stores write a <see cref="ResourcePolicy"/>: plain System.Text.Json, durations as "c" strings.</summary>
internal static class PolicyJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General);

    public static string Serialize(ResourcePolicy policy) => JsonSerializer.Serialize(policy, Options);

    public static ResourcePolicy Deserialize(string json) =>
        JsonSerializer.Deserialize<ResourcePolicy>(json, Options) ?? throw new InvalidDataException("A stored policy is null.");
}
