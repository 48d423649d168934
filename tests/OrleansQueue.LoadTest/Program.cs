// Measures the coordinator end to end through the real client over a real socket, with the durable SQLite store,
// beside its floors measured in the same run: an empty Kestrel round trip, a raw WebSocket round trip, and
// System.Threading.RateLimiting's ConcurrencyLimiter in process. Writes the table to RESULTS.md (or --out).
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OrleansQueue.Client;
using OrleansQueue.LoadTest;
using OrleansQueue.Silo.Hosting;

int seconds = Arg("--seconds", 5);
int handoffs = Arg("--handoffs", 3000);
string output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? Path.Combine(AppContext.BaseDirectory, "../../../RESULTS.md");
string data = Directory.CreateTempSubdirectory("oq-load-").FullName;

var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0", "--Silo:Store:Path", Path.Combine(data, "silo.db")]);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.AddOrleansQueueSilo();
var app = builder.Build();
app.MapGet("/ping", () => Results.Ok());
app.Map("/raw-ws", async context =>
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
});
app.MapOrleansQueueSilo();
await app.StartAsync();
var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
Console.WriteLine($"silo on {address}, SQLite in {data}");
using var http = new HttpClient { BaseAddress = address };
await Put(http, "hot", """{"maxConcurrent":64,"leaseTtlMs":60000}""");
await Put(http, "handoff", """{"maxConcurrent":1,"leaseTtlMs":60000}""");

if (args.Contains("--scale"))
{
    // Not part of the default run: it takes minutes and most of the machine.
    string scale = await ScaleScenario.RunAsync(address, http, Arg("--resources", 10_000), Arg("--waiters", 10), Arg("--connections", 1_000));
    Console.WriteLine(scale);
    await app.StopAsync();
    return;
}
// Floors first, then the coordinator, then the floors again: a drift of the machine shows as two different floors.
var httpFloor = await Scenarios.HttpRoundTrips(http, handoffs);
var wsFloor = await Scenarios.WebSocketRoundTrips(new Uri(address, "raw-ws"), handoffs);
var limiterHandoff = await Scenarios.LimiterHandoffs(handoffs);
var limiterCycles = await Scenarios.LimiterCycles(seconds);

await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = address, ClientId = "load" });
var handoff = await Scenarios.CoordinatorHandoffs(client, "handoff", handoffs);
var cycles = await Scenarios.CoordinatorCycles(client, "hot", seconds, concurrency: 64);
var wsFloorAfter = await Scenarios.WebSocketRoundTrips(new Uri(address, "raw-ws"), handoffs);
string metrics = await http.GetStringAsync("metrics");
bool statusCalls = metrics.Contains("orleansqueue_status_requests_total{", StringComparison.Ordinal);
var process = Process.GetCurrentProcess();

string Ms(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
var table = new StringBuilder();
table.AppendLine("| figure | coordinator | floor | coordinator ÷ floor |");
table.AppendLine("| --- | ---: | ---: | ---: |");
table.AppendLine($"| hand-off p50 (ms): release → next waiter's code runs, WebSocket, SQLite | {Ms(handoff.P50)} | {Ms(wsFloor.P50)} (raw WebSocket round trip) | {handoff.P50 / wsFloor.P50:0.0} |");
table.AppendLine($"| hand-off p99 (ms) | {Ms(handoff.P99)} | {Ms(wsFloor.P99)} | {handoff.P99 / wsFloor.P99:0.0} |");
table.AppendLine($"| hand-off p99.9 (ms) | {Ms(handoff.P999)} | {Ms(wsFloor.P999)} | {handoff.P999 / wsFloor.P999:0.0} |");
table.AppendLine($"| hand-off p50 (ms) vs. in-process ConcurrencyLimiter | {Ms(handoff.P50)} | {Ms(limiterHandoff.P50)} | {handoff.P50 / limiterHandoff.P50:0} |");
table.AppendLine($"| empty Kestrel HTTP round trip p50 / p99 (ms) | | {Ms(httpFloor.P50)} / {Ms(httpFloor.P99)} | |");
table.AppendLine($"| raw WebSocket round trip p50, measured again after the coordinator (ms) | | {Ms(wsFloorAfter.P50)} | |");
table.AppendLine($"| acquire+release cycles per second, one hot resource, 64 concurrent callers | {cycles.PerSecond:N0} | {limiterCycles.PerSecond:N0} (ConcurrencyLimiter) | {cycles.PerSecond / limiterCycles.PerSecond:0.0000} |");
table.AppendLine($"| overshoot (holders above MaxConcurrent, seen in process) | {cycles.Overshoot + handoff.Overshoot} | | |");
table.AppendLine($"| status calls while waiting (silo's counter) | {(statusCalls ? "some" : "0")} | | |");
table.AppendLine($"| process CPU time / peak working set (silo and load in one process) | {process.TotalProcessorTime.TotalSeconds:0.0} s / {process.PeakWorkingSet64 / (1024 * 1024)} MiB | | |");
Console.WriteLine(table);

await File.WriteAllTextAsync(output, Report.Render(table.ToString(), seconds, handoffs, handoff, cycles, wsFloor, statusCalls));
Console.WriteLine($"wrote {Path.GetFullPath(output)}");
await app.StopAsync();

int Arg(string name, int fallback) =>
    args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v && int.TryParse(v, out int n) ? n : fallback;

static async Task Put(HttpClient http, string name, string policy)
{
    using var response = await http.PutAsync($"v1/resources/{name}", new StringContent(policy));
    response.EnsureSuccessStatusCode();
}
