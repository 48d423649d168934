namespace OrleansQueue.Silo;

/// <summary>
/// Where the standalone silo sends its traces and metrics over OTLP (<c>Silo:Telemetry</c>); off unless an endpoint is
/// named. Traces: the gateway's and the grains' spans (source "OrleansQueue"), Orleans' grain calls, ASP.NET Core's
/// requests. Metrics: the "OrleansQueue" and Orleans meters, as <c>/metrics</c> shows them.
/// </summary>
public sealed class TelemetryOptions
{
    public const string Grpc = "grpc";
    public const string HttpProtobuf = "http/protobuf";

    /// <summary>The collector, e.g. <c>http://collector:4317</c> (gRPC) or <c>http://collector:4318</c> (HTTP; the signal's
    /// path, <c>/v1/traces</c> or <c>/v1/metrics</c>, is added).</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><see cref="Grpc"/> (OTLP's default) or <see cref="HttpProtobuf"/>.</summary>
    public string OtlpProtocol { get; set; } = Grpc;

    /// <summary>How often metrics are exported, in milliseconds (OTLP's default: a minute).</summary>
    public int MetricsIntervalMs { get; set; } = 60_000;

    public IEnumerable<string> Validate(string section)
    {
        if (MetricsIntervalMs is < 1000 or > 3_600_000)
            yield return $"{section}:MetricsIntervalMs must be between 1000 and 3600000; it is {MetricsIntervalMs}.";
        if (OtlpEndpoint is { } endpoint && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            yield return $"{section}:OtlpEndpoint must be an absolute http or https URL; it is \"{endpoint}\".";
        if (OtlpProtocol is not (Grpc or HttpProtobuf))
            yield return $"{section}:OtlpProtocol must be \"{Grpc}\" or \"{HttpProtobuf}\"; it is \"{OtlpProtocol}\".";
    }

    /// <summary>The exporter's endpoint for one signal (<c>traces</c>, <c>metrics</c>).</summary>
    internal Uri EndpointFor(string signal) => OtlpProtocol == HttpProtobuf
        ? new Uri(OtlpEndpoint!.TrimEnd('/') + "/v1/" + signal)
        : new Uri(OtlpEndpoint!);
}
