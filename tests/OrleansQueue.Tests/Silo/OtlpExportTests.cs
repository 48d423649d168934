using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansQueue.Tests.Silo;

/// <summary>A collector on loopback that takes OTLP over HTTP and counts what each signal's path received.</summary>
public sealed class FakeCollector : IAsyncLifetime
{
    private WebApplication? _app;
    private readonly TaskCompletionSource<string> _traces = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _metrics = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Uri Address { get; private set; } = null!;

    /// <summary>The content type of the first export of traces, and of metrics.</summary>
    public Task<string> Traces => _traces.Task;
    public Task<string> Metrics => _metrics.Task;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/v1/traces", async (HttpContext c) => { await Drain(c); _traces.TrySetResult(c.Request.ContentType ?? ""); });
        _app.MapPost("/v1/metrics", async (HttpContext c) => { await Drain(c); _metrics.TrySetResult(c.Request.ContentType ?? ""); });
        await _app.StartAsync();
        Address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    private static async Task Drain(HttpContext context)
    {
        await context.Request.Body.CopyToAsync(Stream.Null);
        context.Response.StatusCode = 200;
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }
}

/// <summary>A silo told of an OTLP collector exports its traces and metrics there.</summary>
public sealed class OtlpExportTests : IAsyncLifetime
{
    private readonly FakeCollector _collector = new();
    private readonly CollectorSilo _silo = new();

    public async Task InitializeAsync()
    {
        await _collector.InitializeAsync();
        _silo.Collector = _collector.Address;
        await _silo.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        await _collector.DisposeAsync();
    }

    [Fact]
    public async Task ASiloWithAnOtlpEndpointExportsItsTracesAndMetricsThere()
    {
        using var http = _silo.CreateClient();
        await http.CreateResource("exported");
        await http.Acquire("exported", """{"clientId":"a"}""", "held");

        // The exporters batch: the first export comes within their interval (5 s for traces; metrics every second here).
        Assert.Equal("application/x-protobuf", await _collector.Traces.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("application/x-protobuf", await _collector.Metrics.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private sealed class CollectorSilo : KestrelSilo
    {
        public Uri Collector { get; set; } = null!;

        protected override IEnumerable<string> Settings =>
            ["--Silo:Telemetry:OtlpEndpoint", Collector.ToString(), "--Silo:Telemetry:OtlpProtocol", "http/protobuf", "--Silo:Telemetry:MetricsIntervalMs", "1000"];
    }
}
