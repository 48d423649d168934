using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OrleansQueue.Grains.Hosting;
using OrleansQueue.Grains.Storage;
using OrleansQueue.Tests.Cluster;
using StackExchange.Redis;

namespace OrleansQueue.Tests.Security;

/// <summary>
/// The stores over TLS, as <c>Silo:Store:ConnectionString</c> and <c>Silo:Store:ConnectionCaPath</c> configure them: the
/// store opens and works when the server's certificate comes from the CA it is told to trust, and refuses a server whose
/// certificate does not, a connection without TLS, or one without the password.
/// </summary>
/// <summary>Which store connections the silo warns of at start: those that reach beyond loopback without TLS.</summary>
public sealed class ClearTextStoreConnectionTests
{
    [Theory]
    [InlineData("redis:6379", "redis")]
    [InlineData("127.0.0.1:6379,redis.internal:6379", "redis.internal")]
    [InlineData("10.0.0.5:6379,password=p", "10.0.0.5")]
    [InlineData("redis:6379,ssl=true,password=p", null)]
    [InlineData("localhost:6379", null)]
    [InlineData("127.0.0.1:6379", null)]
    public void RedisWithoutTlsBeyondLoopbackIsClearText(string connectionString, string? host) =>
        Assert.Equal(host, RedisConnection.ClearTextHost(RedisConnection.Options(connectionString, null)));

    [Theory]
    [InlineData("Host=db;Username=oq", "db")]
    [InlineData("Host=db;Username=oq;SSL Mode=Prefer", "db")]
    [InlineData("Host=127.0.0.1,db2:5433;Username=oq", "db2")]
    [InlineData("Host=db;Username=oq;SSL Mode=VerifyFull", null)]
    [InlineData("Host=db;Username=oq;SSL Mode=Require", null)]
    [InlineData("Host=localhost;Username=oq", null)]
    [InlineData("Host=/var/run/postgresql;Username=oq", null)]
    public void PostgresWithoutRequiredTlsBeyondLoopbackIsClearText(string connectionString, string? host) =>
        Assert.Equal(host, PostgresConnection.ClearTextHost(connectionString));
}

public sealed class RedisStoreConnectionSecurityTests : IDisposable, INeedsRedis
{
    private readonly TestCertificates _other = new("other");

    public void Dispose() => _other.Dispose();

    [StoreFact]
    public async Task TheRedisStoreWorksOverTlsWithThePasswordAndTheServersCaAndNotOtherwise()
    {
        var redis = await RedisServer.SecuredAsync();
        await using (var store = Open(RedisConnection.Options(redis.ConnectionString, redis.CaPath)))
        {
            await store.InitializeAsync(CancellationToken.None);
            await store.PingAsync(CancellationToken.None);
        }

        // Another CA: the server's certificate is not trusted. No password, or no TLS: the server refuses.
        await FailsAsync(RedisConnection.Options(redis.ConnectionString, _other.CaPath));
        await FailsAsync(RedisConnection.Options(redis.ConnectionString.Split(",password=")[0], redis.CaPath));
        await FailsAsync(RedisConnection.Options(redis.ConnectionString.Replace("ssl=true", "ssl=false", StringComparison.Ordinal), null));
    }

    private static RedisGrainStore Open(ConfigurationOptions options)
    {
        options.ConnectTimeout = 2000;
        options.SyncTimeout = options.AsyncTimeout = 2000;
        return new RedisGrainStore(options, NullLogger<RedisGrainStore>.Instance, RedisServer.NewPrefix());
    }

    private static async Task FailsAsync(ConfigurationOptions options)
    {
        await using var store = Open(options);
        await Assert.ThrowsAnyAsync<RedisException>(async () =>
        {
            await store.InitializeAsync(CancellationToken.None);
            await store.PingAsync(CancellationToken.None);
        });
    }
}

public sealed class PostgresStoreConnectionSecurityTests : IAsyncLifetime, INeedsPostgres
{
    private readonly TestCertificates _ca = new("postgres");
    private readonly TestCertificates _other = new("other");
    private PostgresInstance _server = null!;

    public async Task InitializeAsync() => _server = await PostgresInstance.StartAsync(_ca);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _ca.Dispose();
        _other.Dispose();
    }

    [StoreFact]
    public async Task ThePostgresStoreWorksWithVerifyFullAgainstTheServersCaAndNotOtherwise()
    {
        string verifyFull = new NpgsqlConnectionStringBuilder(_server.ConnectionString) { SslMode = SslMode.VerifyFull }.ConnectionString;
        await using (var store = new PostgresGrainStore(PostgresConnection.String(verifyFull, _ca.CaPath)))
        {
            await store.InitializeAsync(CancellationToken.None);
            Assert.True(await store.PutResourceAsync(new ResourceDefinition("over-tls", new OrleansQueue.Scheduling.ResourcePolicy { MaxConcurrent = 1 }), CancellationToken.None));
            Assert.NotNull(await store.GetResourceAsync("over-tls", CancellationToken.None));
        }

        // Another CA: the server's certificate is refused. Without TLS: the server refuses the connection.
        var untrusted = await Assert.ThrowsAnyAsync<Exception>(() => InitializeAsync(PostgresConnection.String(verifyFull, _other.CaPath)));
        Assert.Contains("certificate", untrusted.ToString(), StringComparison.OrdinalIgnoreCase);
        string plain = new NpgsqlConnectionStringBuilder(_server.ConnectionString) { SslMode = SslMode.Disable }.ConnectionString;
        var refused = await Assert.ThrowsAsync<PostgresException>(() => InitializeAsync(plain));
        Assert.Equal("28000", refused.SqlState); // invalid authorization: pg_hba.conf rejects connections without TLS
    }

    private static async Task InitializeAsync(string connectionString)
    {
        await using var store = new PostgresGrainStore(connectionString);
        await store.InitializeAsync(CancellationToken.None);
    }
}
