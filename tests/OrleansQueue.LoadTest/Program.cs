// Measures the coordinator end to end through the real client over real sockets, beside its floors measured in the
// same run and alternating with it: an empty Kestrel round trip and a raw WebSocket echo on the silo's own server, and
// System.Threading.RateLimiting's ConcurrencyLimiter in process. The silos run in processes of their own (this tool with
// --serve), so their CPU and memory are theirs alone. Writes RESULTS.md (or --out).
//
//   dotnet run -c Release --project tests/OrleansQueue.LoadTest                 everything (a few minutes)
//   ... -- --only main|cohosted|external|flood|upstream|scale|cluster [--rounds 3] [--seconds 4] [--handoffs 2000] [--store sqlite|memory]
using System.Globalization;
using OrleansQueue.LoadTest;

if (args.Contains("--serve"))
{
    await Serve.RunAsync([.. args.Where(a => a != "--serve")]);
    return;
}
if (args.Contains("--flood"))
{
    await FloodSuite.FloodUntilKilledAsync(new Uri(args[Array.IndexOf(args, "--flood") + 1]));
    return;
}

var settings = new Settings(
    Rounds: Arg("--rounds", 3),
    Seconds: Arg("--seconds", 4),
    Handoffs: Arg("--handoffs", 2000),
    Store: args.SkipWhile(a => a != "--store").Skip(1).FirstOrDefault() ?? "sqlite",
    Only: [.. args.Select((a, i) => (a, i)).Where(p => p.a == "--only").Select(p => args[p.i + 1])],
    Command: "dotnet run -c Release --project tests/OrleansQueue.LoadTest" + (args.Length > 0 ? " -- " + string.Join(' ', args) : ""));
string output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? Path.Combine(AppContext.BaseDirectory, "../../../RESULTS.md");

var report = new Report(settings);
if (settings.Runs("main"))
    await MainSuite.RunAsync(settings, report);
if (settings.Runs("cohosted"))
    await CohostedSuite.RunAsync(settings, report);
if (settings.Runs("external"))
    await ExternalSuite.RunAsync(settings, report);
if (settings.Runs("flood"))
    await FloodSuite.RunAsync(settings, report);
if (settings.Runs("upstream"))
    await UpstreamSuite.RunAsync(settings, report);
if (settings.Runs("scale"))
    await ScaleScenario.RunAsync(report, Arg("--resources", 10_000), Arg("--waiters", 10), Arg("--connections", 1_000));
if (settings.Runs("cluster"))
    await ClusterSuite.RunAsync(settings, report);
Progress.End();

string markdown = report.Render();
Console.WriteLine(markdown);
await File.WriteAllTextAsync(output, markdown);
Console.WriteLine($"wrote {Path.GetFullPath(output)}");

int Arg(string name, int fallback) =>
    args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v && int.TryParse(v, CultureInfo.InvariantCulture, out int n) ? n : fallback;

internal sealed record Settings(int Rounds, int Seconds, int Handoffs, string Store, string[] Only, string Command)
{
    public bool Runs(string part) => Only.Length == 0 || Only.Contains(part);
}
