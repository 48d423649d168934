namespace OrleansQueue.Contracts;

/// <summary>A value, or the problem that stopped it: what every grain operation answers (expected refusals are values, not
/// exceptions). A domain result: how it travels (an HTTP status, a WebSocket reply) is the gateway's to say.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.Outcome`1")]
public readonly record struct Outcome<T>([property: Id(0)] T? Value, [property: Id(1)] Problem? Problem)
{
    public static implicit operator Outcome<T>(Problem problem) => new(default, problem);
}
