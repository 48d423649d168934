// Many concurrent simulated LLM calls, from several clients at mixed priorities, against one resource with
// requests-per-minute and tokens-per-minute limits. By default the silo runs inside this process and the client calls
// its grains through Orleans; with --silo http://127.0.0.1:5080 (and --api-key KEY, an admin key, when the silo has
// keys) the example uses a running silo's gateway instead (and defines the resource there). The calling code is the same.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansQueue.Client;
using OrleansQueue.Contracts;

const string Resource = "llm-demo";
const int Rpm = 360, Tpm = 120_000, Calls = 120;
var window = TimeSpan.FromSeconds(4);              // the per-minute limits, scaled to 4 s so the demo takes ~20 s
string? siloUrl = args.SkipWhile(a => a != "--silo").Skip(1).FirstOrDefault();
string? apiKey = args.SkipWhile(a => a != "--api-key").Skip(1).FirstOrDefault();

var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var policy = new Dictionary<string, string?>
{
    ["MaxConcurrent"] = "8", ["RequestsPerWindow"] = (Rpm / 15).ToString(), ["LoadPerWindow"] = (Tpm / 15).ToString(),
    ["WindowMs"] = ((long)window.TotalMilliseconds).ToString(), ["DefaultMaxWaitMs"] = "120000",
};
if (siloUrl is null)
{
    builder.Configuration.AddInMemoryCollection(policy.ToDictionary(p => $"Silo:Resources:{Resource}:{p.Key}", p => p.Value)
        .Append(new("Silo:Store:Provider", "memory")));
    builder.Services.AddOrleansQueueSilo(builder.Configuration);
}
else
{
    using var admin = new HttpClient { BaseAddress = new Uri(siloUrl) };
    if (apiKey is not null)
        admin.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
    var body = policy.ToDictionary(p => char.ToLowerInvariant(p.Key[0]) + p.Key[1..], p => (object)long.Parse(p.Value!));
    (await admin.PutAsJsonAsync($"v1/resources/{Resource}", body)).EnsureSuccessStatusCode();
    builder.Services.AddOrleansQueueClient(o =>
    {
        o.BaseAddress = new Uri(siloUrl);
        o.ApiKey = apiKey;
    });
}
using var host = builder.Build();
await host.StartAsync();
var client = host.Services.GetRequiredService<OrleansQueueClient>();

Console.WriteLine($"{Calls} calls from 4 clients to \"{Resource}\": at most 8 at once, {Rpm / 15} requests and {Tpm / 15} tokens per {window.TotalSeconds:0} s.");
var clock = Stopwatch.StartNew();
var started = DateTimeOffset.UtcNow;
var grants = new ConcurrentQueue<(TimeSpan At, string Client, Priority Priority, long Tokens, TimeSpan Waited)>();
int running = 0, mostRunning = 0;
var rng = new Random(7);
var plan = Enumerable.Range(0, Calls).Select(i => (Client: $"app-{i % 4}", Priority: (Priority)rng.Next(1, 5), Tokens: (long)rng.Next(100, 600))).ToList();
var calls = plan.Select(async call =>
{
    var asked = clock.Elapsed;
    await using var lease = await client.AcquireAsync(Resource, call.Tokens, call.Priority, call.Client);
    // The silo's own grant time, so the window check below sees what the silo decided, not when we heard of it.
    grants.Enqueue((lease.GrantedAt - started, call.Client, call.Priority, call.Tokens, clock.Elapsed - asked));
    int now = Interlocked.Increment(ref running);
    InterlockedMax(ref mostRunning, now);
    await Task.Delay(Random.Shared.Next(50, 150));                  // the "LLM call"
    Interlocked.Decrement(ref running);
    await lease.ReleaseAsync(actualLoad: call.Tokens * 9 / 10);     // it used a bit less than it reserved
}).ToList();

var all = Task.WhenAll(calls);
while (await Task.WhenAny(all, Task.Delay(1000)) != all)
    Console.WriteLine($"  {clock.Elapsed.TotalSeconds,5:0.0} s  granted {grants.Count,4}/{Calls}");
await all;

var list = grants.OrderBy(g => g.At).ToList();
Console.WriteLine($"\nAll {Calls} granted in {clock.Elapsed.TotalSeconds:0.0} s ({Calls / clock.Elapsed.TotalSeconds:0.0} grants/s).");
Console.WriteLine("First 24 grants (client/priority): " + string.Join(" ", list.Take(24).Select(g => $"{g.Client[^1]}/{g.Priority.ToString()[0]}")));
Console.WriteLine("  The first calls found the budget free and went at once, in the order they came; after that the waitlist");
Console.WriteLine("  decides: the most urgent priority first, and within a priority the clients take turns by load.");
Console.WriteLine($"At most {mostRunning} calls ran at once (limit 8).");
// Fairness: within the busiest priority, the calls that had to wait were granted to the four clients in turn.
var queued = list.Where(g => g.Waited > TimeSpan.FromMilliseconds(20)).GroupBy(g => g.Priority).MaxBy(g => g.Count())!;
var firstTurns = queued.Take(20).CountBy(g => g.Client).OrderBy(c => c.Key);
Console.WriteLine($"The first 20 {queued.Key} calls that waited, by client: " + string.Join(", ", firstTurns.Select(c => $"{c.Key} {c.Value}")) +
    " (each client's share, not first come first served).");
int maxRequests = list.Max(g => list.Count(h => h.At >= g.At && h.At < g.At + window));
// Each call reported 90% of its reservation as used; the silo refunded the rest at once, so count what was used.
long maxTokens = list.Max(g => list.Where(h => h.At >= g.At && h.At < g.At + window).Sum(h => h.Tokens * 9 / 10));
Console.WriteLine($"Busiest {window.TotalSeconds:0} s (by the silo's grant times): {maxRequests} requests (limit {Rpm / 15}), {maxTokens} tokens used (limit {Tpm / 15}).");
foreach (var level in list.GroupBy(g => g.Priority).OrderBy(g => g.Key))
    Console.WriteLine($"  {level.Key,-10} {level.Count(),3} calls, mean wait {level.Average(g => g.Waited.TotalSeconds),5:0.00} s");
await host.StopAsync();

static void InterlockedMax(ref int target, int value)
{
    int seen = Volatile.Read(ref target);
    while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var previous && previous != seen)
        seen = previous;
}
