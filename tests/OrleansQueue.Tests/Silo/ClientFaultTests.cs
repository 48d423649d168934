using System.Diagnostics;
using System.Net;

namespace OrleansQueue.Tests.Silo;

/// <summary>
/// A client process (the Python SDK) that holds a lease and has a ticket waiting is frozen with SIGSTOP past its TTL, or
/// killed: the silo takes the slot back within the TTL and the claim window, a downstream oracle that keeps the highest
/// fencing token refuses the holder's, and a frozen holder's late release, once it runs again, is not credited twice.
/// </summary>
public sealed class ClientFaultTests : IDisposable
{
    private const int TtlMs = 3000, ClaimWindowMs = 2000;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _folder = new("oq-client-fault-");

    public void Dispose() => _folder.Dispose();

    /// <summary>STOP: frozen past its TTL, then resumed for a late release. KILL: gone for good, its sockets closed.</summary>
    [Theory]
    [InlineData("STOP")]
    [InlineData("KILL")]
    public async Task AFrozenOrKilledHolderLosesItsSlotInTimeItsTokenIsFencedOffAndALateReleaseCountsOnce(string signal)
    {
        await using var silo = await SiloProcess.StartAsync(_folder.Path);
        using var http = silo.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/frozen",
            $$"""{"maxConcurrent":1,"leaseTtlMs":{{TtlMs}},"claimWindowMs":{{ClaimWindowMs}},"defaultMaxWaitMs":60000,"loadPerWindow":1000,"windowMs":600000}""")).Status);
        using var holder = StartHolder(silo.BaseAddress);
        try
        {
            await FreezeTheHolderAsync(http, holder, signal);
        }
        finally
        {
            if (!holder.HasExited)
            {
                Signal(holder, "CONT"); // a frozen process cannot die until it runs
                holder.Kill();
            }
            await holder.WaitForExitAsync();
        }
    }

    private static async Task FreezeTheHolderAsync(HttpClient http, Process holder, string signal)
    {
        string[] held = (await holder.StandardOutput.ReadLineAsync().WaitAsync(Generous))!.Split(' ');
        Assert.Equal("held", held[0]);
        long staleToken = long.Parse(held[2], System.Globalization.CultureInfo.InvariantCulture);
        await WaitUntilAsync(async () => (await http.Get("v1/resources/frozen/stats")).Body.GetProperty("waiting").GetInt32() == 1);

        Signal(holder, signal);
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

        if (signal == "KILL")
            return;
        long loadLeft = (await http.Get("v1/resources/frozen/stats")).Body.GetProperty("loadLeftInWindow").GetInt64();
        Signal(holder, "CONT");
        await holder.StandardInput.WriteLineAsync("release");
        await holder.StandardInput.FlushAsync();
        Assert.Equal("released lost=True", await holder.StandardOutput.ReadLineAsync().WaitAsync(Generous));
        // Its release (actual load 0) came after the lease had ended: the window is not given its load back.
        Assert.Equal(loadLeft, (await http.Get("v1/resources/frozen/stats")).Body.GetProperty("loadLeftInWindow").GetInt64());
    }

    /// <summary>
    /// Clients that drop in the middle of their request bodies (here 20, announcing 1,000 bytes and sending 12): each is
    /// what it is, a request that never arrived whole, and leaves no "unhandled exception" stack trace in the silo's log
    /// (before, each left one), and the silo goes on serving.
    /// </summary>
    [Fact]
    public async Task ClientsThatDropMidBodyLeaveNoStackTraceInTheLog()
    {
        // The host's "Request finished" lines (kept for warnings by default) witness each dropped request's end.
        await using var silo = await SiloProcess.StartAsync(_folder.Path, null, "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics", "Information");
        using var http = silo.CreateClient();
        await http.CreateResource("dropped");
        byte[] start = System.Text.Encoding.ASCII.GetBytes(
            $"POST /v1/resources/dropped/acquire HTTP/1.1\r\nHost: {silo.BaseAddress.Authority}\r\nContent-Type: application/json\r\n" +
            "Content-Length: 1000\r\n\r\n{\"clientId\":");
        for (int i = 0; i < 20; i++)
        {
            using var socket = new System.Net.Sockets.TcpClient();
            await socket.ConnectAsync(silo.BaseAddress.Host, silo.BaseAddress.Port);
            await socket.GetStream().WriteAsync(start);
            await socket.GetStream().FlushAsync();
            socket.Client.LingerState = new System.Net.Sockets.LingerOption(true, 0); // drop it: a reset, mid-body
        }

        // Every dropped request has ended (the host logs each one's end), and nothing was acquired.
        await WaitUntilAsync(() => Task.FromResult(silo.Log.Split('\n')
            .Count(line => line.Contains("Request finished", StringComparison.Ordinal) && line.Contains("/v1/resources/dropped/acquire", StringComparison.Ordinal)) >= 20));
        Assert.Equal(0, (await http.Get("v1/resources/dropped/stats")).Body.GetProperty("leases").GetInt32());
        // Neither as an unhandled exception nor as a failed call with its stack: the drop is the client's, not a failure.
        foreach (string trace in new[] { "unhandled exception", "BadHttpRequestException", "ConnectionResetException", "Unexpected end of request content" })
            Assert.DoesNotContain(trace, silo.Log, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await http.Post("v1/resources/dropped/acquire", "{}")).Status);
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
