using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace OrleansQueue.Tests.Silo;

/// <summary>The real silo app in process, over a throwaway SQLite database, optionally with API keys.</summary>
public sealed class SiloFactory : WebApplicationFactory<Program>
{
    public const string AdminKey = "admin-key-0123456789";
    public const string TenantAKey = "tenant-a-key-0123456789";
    public const string TenantBKey = "tenant-b-key-0123456789";

    private readonly TempDirectory _directory = new("oq-api-");
    private readonly bool _withKeys;

    public SiloFactory() { }

    private readonly (string Key, string Value)[] _settings = [];

    /// <summary>A factory whose silo requires API keys: an admin, and tenants "a" and "b"; and any other settings.</summary>
    public static SiloFactory WithKeys(params (string Key, string Value)[] settings) => new(withKeys: true, settings);

    private SiloFactory(bool withKeys, (string Key, string Value)[] settings)
    {
        _withKeys = withKeys;
        _settings = settings;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Silo:Store:Path", Path.Combine(_directory.Path, "silo.db"));
        builder.UseSetting("Silo:MaxRequestBodyBytes", "4096");
        foreach (var (key, value) in _settings)
            builder.UseSetting(key, value);
        if (_withKeys)
        {
            builder.UseSetting("Silo:ApiKeys:0:Key", AdminKey);
            builder.UseSetting("Silo:ApiKeys:0:Tenant", "ops");
            builder.UseSetting("Silo:ApiKeys:0:Admin", "true");
            builder.UseSetting("Silo:ApiKeys:1:Key", TenantAKey);
            builder.UseSetting("Silo:ApiKeys:1:Tenant", "a");
            builder.UseSetting("Silo:ApiKeys:2:Key", TenantBKey);
            builder.UseSetting("Silo:ApiKeys:2:Tenant", "b");
        }
    }

    public HttpClient ClientWithKey(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}

/// <summary>A class fixture (fixtures need one public parameterless constructor) for a silo that requires API keys.</summary>
public sealed class SiloWithKeysFixture : IAsyncLifetime
{
    public SiloFactory Factory { get; } = SiloFactory.WithKeys();
    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
