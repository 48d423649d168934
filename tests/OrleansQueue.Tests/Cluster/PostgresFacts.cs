namespace OrleansQueue.Tests.Cluster;

/// <summary>A test that needs PostgreSQL: skipped, saying how to enable it, where PostgreSQL is not installed.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (!PostgresServer.IsAvailable)
            Skip = PostgresServer.HowToEnable;
    }
}

/// <summary>Marks a test class whose every test needs PostgreSQL (a store conformance suite over PostgreSQL, say).</summary>
public interface INeedsPostgres;

/// <summary>Marks a test class whose every test needs redis-server.</summary>
public interface INeedsRedis;

/// <summary>A fact that is skipped, saying how to enable it, when its class needs PostgreSQL or Redis and it is not installed.</summary>
[Xunit.Sdk.XunitTestCaseDiscoverer("OrleansQueue.Tests.Cluster.StoreFactDiscoverer", "OrleansQueue.Tests")]
public sealed class StoreFactAttribute : FactAttribute;

public sealed class StoreFactDiscoverer(Xunit.Abstractions.IMessageSink diagnostics) : Xunit.Sdk.IXunitTestCaseDiscoverer
{
    public IEnumerable<Xunit.Sdk.IXunitTestCase> Discover(Xunit.Abstractions.ITestFrameworkDiscoveryOptions options,
        Xunit.Abstractions.ITestMethod testMethod, Xunit.Abstractions.IAttributeInfo factAttribute)
    {
        var display = options.MethodDisplayOrDefault();
        var displayOptions = options.MethodDisplayOptionsOrDefault();
        var type = testMethod.TestClass.Class.ToRuntimeType();
        if (typeof(INeedsPostgres).IsAssignableFrom(type) && !PostgresServer.IsAvailable)
            yield return new Xunit.Sdk.XunitSkippedDataRowTestCase(diagnostics, display, displayOptions, testMethod, PostgresServer.HowToEnable);
        else if (typeof(INeedsRedis).IsAssignableFrom(type) && !RedisServer.IsAvailable)
            yield return new Xunit.Sdk.XunitSkippedDataRowTestCase(diagnostics, display, displayOptions, testMethod, RedisServer.HowToEnable);
        else
            yield return new Xunit.Sdk.XunitTestCase(diagnostics, display, displayOptions, testMethod);
    }
}
