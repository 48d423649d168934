using System.Diagnostics;

namespace OrleansQueue.LoadTest;

/// <summary>
/// A silo in a process of its own (this tool started with --serve), so that its CPU time and memory are its own and
/// the load's cost does not hide in them. It prints its address on its first line; it stops when killed, or when this
/// process's end closes its standard input.
/// </summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private int _disposed;
    private (long Now, long Peak)? _final;

    private SiloProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public int Id => _process.Id;

    /// <summary>CPU time the silo has used so far (user and system).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>The silo's resident memory now, and its peak so far.</summary>
    public (long Now, long Peak) Memory
    {
        get
        {
            if (_final is { } final)
                return final; // killed: what it had at the end
            _process.Refresh();
            return (_process.WorkingSet64, _process.PeakWorkingSet64);
        }
    }

    public static Task<SiloProcess> StartAsync(params string[] siloArguments) => StartChildAsync("--serve", siloArguments);

    /// <summary>This tool in another process, in <paramref name="mode"/> (--serve: a silo; --flood: the flood suite's flooders),
    /// once it printed "listening URL".</summary>
    public static async Task<SiloProcess> StartChildAsync(string mode, params string[] siloArguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The silo's own project runs the server GC (the web SDK's default) and this tool's process does not: the silo
        // processes get the silo's setting, so their memory and CPU are what `dotnet run --project silo/OrleansQueue.Silo` would show.
        start.Environment["DOTNET_gcServer"] = "1";
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(typeof(SiloProcess).Assembly.Location);
        start.ArgumentList.Add(mode);
        foreach (string argument in siloArguments)
            start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
                Console.Error.WriteLine($"[silo {process.Id}] {line}");
        };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("listening ", StringComparison.Ordinal))
            {
                _ = process.StandardOutput.ReadToEndAsync(); // drain whatever else it prints
                return new SiloProcess(process, new Uri(line["listening ".Length..]));
            }
        }
        throw new InvalidOperationException($"The silo process {process.Id} ended before it listened (exit code {(process.HasExited ? process.ExitCode : -1)}).");
    }

    /// <summary>Stops the silo at once, as a crash would (the cluster's failover is not what these runs measure).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        if (!_process.HasExited)
            _final = Memory;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
