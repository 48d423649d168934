using System.Diagnostics;
using System.Text.RegularExpressions;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Examples;

/// <summary>
/// examples/RequestQueuing, built and run as its own process with its silo in process: what it prints shows what it
/// claims (the limits held, priorities and fairness), and nothing in its output alarms.
/// </summary>
public sealed partial class RequestQueuingTests
{
    [Fact]
    public async Task TheExampleShowsItsLimitsHeldAndItsClientsTakingTurnsAndLogsNoFailure()
    {
        using var folder = new TempDirectory("oq-example-");
        var start = new ProcessStartInfo("dotnet", [SiloProcess.BuiltDll(Path.Combine("examples", "RequestQueuing"), "RequestQueuing")])
        {
            WorkingDirectory = folder.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the example did not end within 3 minutes:\n{await output}\n{await errors}");
        }
        string log = await output + await errors;

        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}:\n{log}");
        Assert.Contains("All 120 granted", log);
        var busiest = Busiest().Match(log);
        Assert.True(busiest.Success, log);
        Assert.InRange(int.Parse(busiest.Groups["requests"].Value), 1, int.Parse(busiest.Groups["requestLimit"].Value));
        Assert.InRange(int.Parse(busiest.Groups["tokens"].Value), 1, int.Parse(busiest.Groups["tokenLimit"].Value));
        var atOnce = AtOnce().Match(log);
        Assert.True(atOnce.Success, log);
        Assert.InRange(int.Parse(atOnce.Groups["most"].Value), 1, int.Parse(atOnce.Groups["limit"].Value));
        var turns = Turns().Match(log);
        Assert.True(turns.Success, log);
        Assert.Equal(4, turns.Groups["client"].Captures.Count); // every client had turns among the first 20 that waited
        Assert.DoesNotContain("fail:", log);
        Assert.DoesNotContain("Exception", log);
    }

    [GeneratedRegex(@"Busiest 4 s .*?: (?<requests>\d+) requests \(limit (?<requestLimit>\d+)\), (?<tokens>\d+) tokens used \(limit (?<tokenLimit>\d+)\)")]
    private static partial Regex Busiest();

    [GeneratedRegex(@"At most (?<most>\d+) calls ran at once \(limit (?<limit>\d+)\)")]
    private static partial Regex AtOnce();

    [GeneratedRegex(@"The first 20 \w+ calls that waited, by client: (?:(?<client>app-\d) \d+(?:, )?)+")]
    private static partial Regex Turns();
}
