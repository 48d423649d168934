using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Silo.Hosting;

namespace OrleansQueue.Tests.Silo;

public sealed class LifetimeTests
{
    [Fact]
    public async Task StoppingTwiceAtOnceStopsOnceAndLaterCallsAreRefusedCleanly()
    {
        // A test host is stopped by its factory while the app's own Run() stops it too: both calls land at once.
        await using var factory = new SiloFactory();
        using var http = factory.CreateClient();
        await http.Put("/v1/resources/stopping", """{"maxConcurrent":1}""");
        await http.Acquire("stopping", "{}", "held");
        var lifetime = factory.Services.GetServices<IHostedService>().OfType<StoreLifetime>().Single();

        await Task.WhenAll(lifetime.StopAsync(CancellationToken.None), lifetime.StopAsync(CancellationToken.None));

        // Nothing reaches the closed store, and nothing is granted without it: callers are told to retry, as problems.
        (await http.Post("/v1/resources/stopping/acquire", "{}")).AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");
        (await http.Get("/v1/resources/stopping")).AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");
        (await http.Get("/v1/resources")).AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");
    }
}
