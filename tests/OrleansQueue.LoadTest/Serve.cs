using System.Net.WebSockets;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OrleansQueue.Silo;

namespace OrleansQueue.LoadTest;

/// <summary>The --serve mode: a silo as `dotnet run --project silo/OrleansQueue.Silo` runs it, plus the two floors on the same Kestrel: an
/// empty HTTP endpoint and a raw WebSocket echo. Prints "listening {address}" once it takes requests.</summary>
internal static class Serve
{
    public static async Task RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddOrleansQueueSilo();
        var app = builder.Build();
        app.MapGet("/ping", () => Results.Ok());
        app.Map("/raw-ws", EchoAsync);
        // What the managed heap holds alive (after a full collection) beside what the GC has committed: the part of the
        // resident memory that is the silo's data, and the part that is the collector's room.
        app.MapGet("/gc-heap", () =>
        {
            long live = GC.GetTotalMemory(forceFullCollection: true);
            return Results.Ok(new { live, committed = GC.GetGCMemoryInfo().TotalCommittedBytes, server = System.Runtime.GCSettings.IsServerGC });
        });
        app.MapOrleansQueueSilo();
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine($"listening {address.TrimEnd('/')}/");
        // The parent's end closes our standard input: then stop too, gracefully. Console reads block their thread whatever
        // their name says, so the wait has a thread of its own, not one of the pool's (on two cores, one pool thread
        // blocked for good starves the silo and showed as second-long stalls in the flood figures).
        new Thread(() =>
        {
            Console.In.ReadToEnd();
            app.StopAsync().GetAwaiter().GetResult();
        }) { IsBackground = true, Name = "stdin" }.Start();
        await app.WaitForShutdownAsync();
    }

    private static async Task EchoAsync(HttpContext context)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[64];
        while (true)
        {
            var r = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                return;
            }
            await socket.SendAsync(buffer.AsMemory(0, r.Count), WebSocketMessageType.Text, true, CancellationToken.None);
        }
    }
}
