using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OrleansQueue.Silo;

namespace OrleansQueue.Tests.Silo;

/// <summary>The silo on a real Kestrel socket on a free loopback port, for WebSocket and SSE tests.</summary>
public class KestrelSilo : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("oq-kestrel-");
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The silo's services (its <see cref="IGrainFactory"/>, for clients that call the grains through Orleans).</summary>
    public IServiceProvider Services => _app!.Services;

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public Uri WebSocketUri => new(BaseAddress.ToString().Replace("http://", "ws://") + "v1/ws");

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0", "--Silo:Store:Path", Path.Combine(_directory.Path, "silo.db"), .. Settings]);
        builder.AddOrleansQueueSilo();
        _app = builder.Build();
        BeforeSilo(_app);
        _app.MapOrleansQueueSilo();
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
    }

    /// <summary>More command-line settings of the silo ("--Silo:…", value).</summary>
    protected virtual IEnumerable<string> Settings => [];

    /// <summary>Middleware ahead of the silo's endpoints (to play a proxy, say).</summary>
    protected virtual void BeforeSilo(WebApplication app)
    {
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        _directory.Dispose();
    }
}
