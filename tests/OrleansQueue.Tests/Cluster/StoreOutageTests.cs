using System.Diagnostics;
using System.Net;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// The store cut off from a silo (a blackhole between them: nothing arrives, nothing is refused): the silo grants nothing
/// it cannot commit, its callers get typed retryable problems, and once the way heals it serves again; a write the store
/// never answered either landed whole or not at all.
/// </summary>
public abstract class StoreOutageTests : IDisposable
{
    /// <summary>What the README promises: served again within this long after the store is reachable again.</summary>
    private static readonly TimeSpan ResumesWithin = TimeSpan.FromSeconds(15);
    private readonly TempDirectory _folder = new("oq-outage-");

    public void Dispose() => _folder.Dispose();

    /// <summary>The store's address (host:port), for the proxy to forward to.</summary>
    protected abstract Task<string> StoreAddressAsync();

    /// <summary>The silo's store settings, with <paramref name="address"/> (the proxy's host:port) in place of the store's.</summary>
    protected abstract string[] StoreSettings(string address);

    [StoreFact]
    public async Task ASiloCutOffFromItsStoreGrantsNothingAnswersRetryablyAndResumesAfterTheHeal()
    {
        await using var proxy = new FaultProxy(await StoreAddressAsync());
        await using var silo = await SiloProcess.StartAsync(_folder.Path, null, StoreSettings(proxy.Address));
        using var http = silo.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/cut", """{"maxConcurrent":1,"defaultMaxWaitMs":600000}""")).Status);
        var (_, held) = await http.Post("v1/resources/cut/acquire", """{"clientId":"a"}""");
        var (_, waiting) = await http.Post("v1/resources/cut/acquire", """{"clientId":"b"}""");
        long lease = held.GetProperty("id").GetInt64(), ticket = waiting.GetProperty("id").GetInt64();
        long token = held.GetProperty("fencingToken").GetInt64();

        proxy.Set(FaultProxy.Mode.Blackhole);

        // The release would grant the waiter: it cannot be committed, so it is refused, retryably, and grants nothing.
        var refused = await http.Post($"v1/resources/cut/requests/{lease}/release");
        refused.AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");
        // Every call meanwhile is refused the same way (the grain's next activation cannot claim the resource either).
        var meanwhile = await http.Post("v1/resources/cut/acquire", """{"clientId":"c","maxWaitMs":0}""");
        Assert.True(meanwhile.Status == HttpStatusCode.ServiceUnavailable, $"{meanwhile.Status} {meanwhile.Body}\n{silo.Log}");
        meanwhile.AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");

        proxy.Set(FaultProxy.Mode.Pass);
        var healed = Stopwatch.StartNew();
        (HttpStatusCode Status, System.Text.Json.JsonElement Body) now;
        while ((now = await http.Get($"v1/resources/cut/requests/{lease}")).Status is not (HttpStatusCode.OK or HttpStatusCode.NotFound))
        {
            Assert.True(healed.Elapsed < ResumesWithin, $"not served {ResumesWithin} after the heal: {now.Status} {now.Body}\n{silo.Log}");
            await Task.Delay(50);
        }

        // The refused release was never announced. Its write, held in the partition, may have landed after the heal (a
        // write the store never answered is uncertain, as the problem says): then the lease has ended and the waiter
        // holds the slot; otherwise the lease is held as before and the waiter waits. Never both, never neither.
        var waiter = await http.Get($"v1/resources/cut/requests/{ticket}");
        if (now.Status == HttpStatusCode.OK)
        {
            Assert.Equal("held", now.Body.State());
            Assert.Equal(token, now.Body.GetProperty("fencingToken").GetInt64());
            Assert.Equal("waiting", waiter.Body.State());
            Assert.Equal(HttpStatusCode.OK, (await http.Post($"v1/resources/cut/requests/{lease}/release")).Status); // the retry
            waiter = await http.Get($"v1/resources/cut/requests/{ticket}");
        }
        else
        {
            Assert.Equal(HttpStatusCode.NotFound, now.Status); // ended before this activation: no longer known
        }
        Assert.Equal("held", waiter.Body.State()); // learning of the grant by polling claims it
        Assert.True(waiter.Body.GetProperty("fencingToken").GetInt64() > token);
    }
}

public sealed class RedisStoreOutageTests : StoreOutageTests, INeedsRedis
{
    protected override Task<string> StoreAddressAsync() => RedisServer.AddressAsync();

    protected override string[] StoreSettings(string address) =>
        ["--Silo:Store:Provider", "redis", "--Silo:Store:ConnectionString", address, "--Silo:Clustering:ClusterId", RedisServer.NewPrefix()];
}

/// <summary>PostgreSQL through the proxy, with a command timeout of 5 s (Npgsql's default is 30 s) so that the outage is
/// noticed as soon as with Redis.</summary>
public sealed class PostgresStoreOutageTests : StoreOutageTests, INeedsPostgres
{
    private Npgsql.NpgsqlConnectionStringBuilder? _database;

    protected override async Task<string> StoreAddressAsync()
    {
        _database = new Npgsql.NpgsqlConnectionStringBuilder(await PostgresServer.CreateDatabaseAsync());
        string host = _database.Host is "localhost" or null ? "127.0.0.1" : _database.Host;
        return $"{host}:{_database.Port}";
    }

    protected override string[] StoreSettings(string address)
    {
        var through = new Npgsql.NpgsqlConnectionStringBuilder(_database!.ConnectionString)
        {
            Host = address.Split(':')[0], Port = int.Parse(address.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture),
            CommandTimeout = 5, Timeout = 5,
        };
        return ["--Silo:Store:Provider", "postgres", "--Silo:Store:ConnectionString", through.ConnectionString];
    }
}
