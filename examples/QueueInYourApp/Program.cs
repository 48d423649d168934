// An application that already runs an Orleans silo and its own ASP.NET Core routes, adding OrleansQueue to both: the
// resource grains to its silo, the queue's HTTP API under /queue (for its services in other languages, and the
// dashboard at /queue/dashboard), and the client that calls the grains in process for its own code.
//
//     dotnet run --project examples/QueueInYourApp -- --urls http://127.0.0.1:5090
//     curl -X POST http://127.0.0.1:5090/reports/42          # the app's own route, one partner call at a time
//     curl http://127.0.0.1:5090/queue/v1/resources           # the queue's API, under the app's prefix
using OrleansQueue.Client;
using OrleansQueue.Contracts;

namespace QueueInYourApp;

public static class Program
{
    public const string PartnerApi = "partner-api";

    public static void Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering()
            .AddOrleansQueue(builder.Configuration.GetSection("OrleansQueue")));
        builder.Services.AddOrleansQueueGateway(builder.Configuration.GetSection("OrleansQueue:Gateway"));
        builder.Services.AddOrleansQueueCohostedClient();

        var app = builder.Build();
        app.MapGet("/", () => "Reports: POST /reports/{id}. The queue: /queue/v1, /queue/dashboard.");
        // The app's own route: each report calls a partner API that takes two calls at a time, cluster-wide.
        app.MapPost("/reports/{id:int}", async (int id, OrleansQueueClient queue, CancellationToken ct) =>
        {
            await using var lease = await queue.AcquireAsync(PartnerApi, load: 1, Priority.Normal, clientId: "reports", cancellationToken: ct);
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct); // the partner call
            return Results.Ok(new { report = id, fencingToken = lease.FencingToken });
        });
        app.MapOrleansQueueApi("/queue");
        app.Run();
    }
}
