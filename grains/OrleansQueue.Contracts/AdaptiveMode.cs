namespace OrleansQueue.Contracts;

/// <summary>How a resource learns from what the upstream answers. The numbers are part of the wire format: they never change.</summary>
public enum AdaptiveMode
{
    /// <summary>The configured limits alone.</summary>
    Off = 0,
    /// <summary>The upstream's own figures (remaining, reset) bound the grants.</summary>
    Headers = 1,
    /// <summary>429s lower the working limits; clean windows raise them back.</summary>
    Aimd = 2,
}
