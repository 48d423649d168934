using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansQueue.LoadTest;

/// <summary>RESULTS.md: when, where and how it was measured, the goals with their verdicts, then each suite's table.</summary>
internal sealed class Report(Settings settings)
{
    private readonly List<string> _sections = [];
    private readonly List<(string Goal, string Figure, string Verdict)> _goals = [];
    private readonly List<string> _versions = [$".NET {Environment.Version}", $"SQLite {SqliteVersion()}"];

    public void Section(string markdown) => _sections.Add(markdown.TrimEnd() + "\n");

    public void Goal(string goal, string figure, bool met) => _goals.Add((goal, figure, met ? "**met**" : "**missed**"));

    public void NotMeasured(string goal, string why) => _goals.Add((goal, why, "not measured"));

    public void Version(string version) => _versions.Add(version);

    public string Render()
    {
        var md = new StringBuilder();
        md.AppendLine("# End-to-end figures: the coordinator beside its floors");
        md.AppendLine();
        md.AppendLine($"Written by the load tool on {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores ({Cpu()}),");
        md.AppendLine($"{RuntimeInformation.OSDescription.Trim()}; {string.Join(", ", _versions)}. Command:");
        md.AppendLine();
        md.AppendLine($"    {settings.Command}");
        md.AppendLine();
        md.AppendLine("Three transports, each with its own floors. The WebSocket gateway and the external Orleans client run against a silo");
        md.AppendLine("in a process of its own (the tool started with `--serve`: the silo as `dotnet run --project silo/OrleansQueue.Silo` runs it, plus an");
        md.AppendLine("empty HTTP endpoint, a raw WebSocket echo and a bare grain, which are floors); the co-hosted suite runs the silo in");
        md.AppendLine("the tool's process. The load is the real `OrleansQueueClient` in the tool's process. Load and silo share the");
        md.AppendLine("machine's two cores, so a figure includes the load's own cost. Floors and coordinator runs alternate; a figure is");
        md.AppendLine("the median over the rounds, and a ratio is the median of the ratios measured within each round.");
        md.AppendLine();
        md.AppendLine("## Goals");
        md.AppendLine();
        md.AppendLine("| goal | figure | verdict |");
        md.AppendLine("| --- | --- | --- |");
        foreach (var (goal, figure, verdict) in _goals)
            md.AppendLine($"| {goal} | {figure} | {verdict} |");
        md.AppendLine();
        foreach (string section in _sections)
            md.AppendLine(section);
        return md.ToString();
    }

    private static string Cpu()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    private static string SqliteVersion()
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
        connection.Open();
        return connection.ServerVersion;
    }

    public static string Ms(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public static string MiB(long bytes) => $"{bytes / (1024 * 1024):N0} MiB";
}
