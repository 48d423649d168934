using System.Diagnostics;
using System.Net;

namespace OrleansQueue.Tests.Silo;

/// <summary>
/// A client process (the Python SDK) that holds a lease and has a ticket waiting is frozen with SIGSTOP past its TTL: the
/// silo takes the slot back within the TTL and the claim window, a downstream oracle that keeps the highest fencing token
/// refuses the frozen holder's, and the holder's late release, once it runs again, is not credited to the window twice.
/// </summary>
public sealed class ClientFaultTests : IDisposable
{
    private const int TtlMs = 3000, ClaimWindowMs = 2000;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _folder = new("oq-client-fault-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task AFrozenHolderLosesItsSlotInTimeItsTokenIsFencedOffAndItsLateReleaseCountsOnce()
    {
        await using var silo = await SiloProcess.StartAsync(_folder.Path);
        using var http = silo.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/frozen",
            $$"""{"maxConcurrent":1,"leaseTtlMs":{{TtlMs}},"claimWindowMs":{{ClaimWindowMs}},"defaultMaxWaitMs":60000,"loadPerWindow":1000,"windowMs":600000}""")).Status);
        using var holder = StartHolder(silo.BaseAddress);
        try
        {
            await FreezeTheHolderAsync(http, holder);
        }
        finally
        {
            if (!holder.HasExited)
            {
                Signal(holder, "CONT"); // a frozen process cannot die until it runs
                holder.Kill();
            }
        }
    }

    private static async Task FreezeTheHolderAsync(HttpClient http, Process holder)
    {
        string[] held = (await holder.StandardOutput.ReadLineAsync().WaitAsync(Generous))!.Split(' ');
        Assert.Equal("held", held[0]);
        long staleToken = long.Parse(held[2], System.Globalization.CultureInfo.InvariantCulture);
        await WaitUntilAsync(async () => (await http.Get("v1/resources/frozen/stats")).Body.GetProperty("waiting").GetInt32() == 1);

        Signal(holder, "STOP");
        var frozen = Stopwatch.StartNew();
        var (_, next) = await http.Post("v1/resources/frozen/acquire", """{"clientId":"next","load":10}""");
        long nextId = next.GetProperty("id").GetInt64();
        while (next.State() == "waiting")
            (_, next) = await http.Get($"v1/resources/frozen/requests/{nextId}/wait?timeoutMs=30000");

        // The frozen lease ran out by its TTL, then the frozen process's own waiting ticket was granted and, unclaimed,
        // reclaimed after the claim window: only then the next caller.
        Assert.Equal("held", next.State());
        Assert.True(frozen.Elapsed < TimeSpan.FromMilliseconds(TtlMs + ClaimWindowMs) + TimeSpan.FromSeconds(3), $"the slot came back after {frozen.Elapsed}");
        var oracle = new FencingOracle();
        Assert.True(oracle.Accept(next.GetProperty("fencingToken").GetInt64()));
        Assert.False(oracle.Accept(staleToken)); // the frozen holder's write, arriving late, is refused downstream

        long loadLeft = (await http.Get("v1/resources/frozen/stats")).Body.GetProperty("loadLeftInWindow").GetInt64();
        Signal(holder, "CONT");
        await holder.StandardInput.WriteLineAsync("release");
        await holder.StandardInput.FlushAsync();
        Assert.Equal("released lost=True", await holder.StandardOutput.ReadLineAsync().WaitAsync(Generous));
        // Its release (actual load 0) came after the lease had ended: the window is not given its load back.
        Assert.Equal(loadLeft, (await http.Get("v1/resources/frozen/stats")).Body.GetProperty("loadLeftInWindow").GetInt64());
    }

    /// <summary>Keeps the highest fencing token it has seen and refuses any lower, as a storage system guarding a resource would.</summary>
    private sealed class FencingOracle
    {
        private long _highest;

        public bool Accept(long token)
        {
            if (token < _highest)
                return false;
            _highest = token;
            return true;
        }
    }

    /// <summary>A Python process that holds a lease (renewing it), has a second acquire waiting, and releases the lease
    /// when told to on its standard input.</summary>
    private Process StartHolder(Uri silo)
    {
        string script = Path.Combine(_folder.Path, "holder.py");
        File.WriteAllText(script, """
            import asyncio, sys
            import orleansqueue.aio as oq

            async def main():
                async with oq.Client(sys.argv[1]) as client:
                    lease = await client.acquire("frozen", load=10, client_id="holder")
                    print(f"held {lease.id} {lease.fencing_token}", flush=True)
                    waiting = asyncio.ensure_future(client.acquire("frozen", load=10, client_id="holder"))
                    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                    await lease.release(actual_load=0)
                    print(f"released lost={lease.lost}", flush=True)
                    waiting.cancel()

            asyncio.run(main())
            """);
        var start = new ProcessStartInfo("python3", [script, silo.ToString().TrimEnd('/')])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["PYTHONPATH"] = Path.Combine(RepositoryRoot(), "client", "python");
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return process;
    }

    private static void Signal(Process process, string signal) => Process.Start("kill", $"-{signal} {process.Id}")!.WaitForExit();

    private static string RepositoryRoot()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        while (here is not null && !File.Exists(Path.Combine(here.FullName, "OrleansQueue.sln")))
            here = here.Parent;
        return here?.FullName ?? throw new InvalidOperationException("No OrleansQueue.sln above the test's folder.");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(50);
        }
    }
}
