using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Tests.Silo;

public sealed class LifetimeTests
{
    [Fact]
    public async Task ClosingTheStoreTwiceAtOnceUnderARunningSiloLeavesEveryCallAnsweredAsAProblem()
    {
        // The store closes as the silo stops (or the database goes) while calls still arrive; two closes may race.
        await using var factory = new SiloFactory();
        using var http = factory.CreateClient();
        await http.Put("/v1/resources/stopping", """{"maxConcurrent":1}""");
        await http.Acquire("stopping", "{}", "held");
        var store = factory.Services.GetRequiredService<IGrainStore>();

        await Task.WhenAll(store.DisposeAsync().AsTask(), store.DisposeAsync().AsTask());

        // Nothing reaches the closed store, and nothing is granted without it: callers are told to retry, as problems.
        (await http.Post("/v1/resources/stopping/acquire", "{}")).AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");
        (await http.Get("/v1/resources/stopping")).AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");
        (await http.Get("/v1/resources")).AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable");
    }
}
