using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OrleansQueue.Tests.Silo;

/// <summary>The silo as a separate process (the built OrleansQueue.Silo.dll), on a free loopback port, over a data folder;
/// or another built application of the repository (an example) the same way.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private SiloProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>The silo's process id (the dotnet host runs the silo in its own process).</summary>
    public int ProcessId => _process.Id;

    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    /// <param name="settings">More command-line settings, e.g. "--Silo:Store:Provider", "redis".</param>
    public static Task<SiloProcess> StartAsync(string dataDirectory, int? port = null, params string[] settings) =>
        LaunchAsync(BuiltDll(Path.Combine("silo", "OrleansQueue.Silo"), "OrleansQueue.Silo"), dataDirectory, port, "healthz",
            ["--Silo:Store:Path", Path.Combine(dataDirectory, "silo.db"), .. settings]);

    /// <summary>A silo process started as <see cref="StartAsync"/> does, without waiting for it to become healthy (one that is
    /// expected never to).</summary>
    public static SiloProcess Spawn(string dataDirectory, params string[] settings) =>
        Launch(BuiltDll(Path.Combine("silo", "OrleansQueue.Silo"), "OrleansQueue.Silo"), dataDirectory, null,
            ["--Silo:Store:Path", Path.Combine(dataDirectory, "silo.db"), .. settings]);

    /// <summary>A built application of the repository (<paramref name="project"/>: its folder from the root, named as its
    /// assembly), started in <paramref name="workingDirectory"/>; it is up when <paramref name="readyPath"/> answers 200.</summary>
    public static Task<SiloProcess> StartAppAsync(string project, string workingDirectory, string readyPath, params string[] settings) =>
        StartDllAsync(BuiltDll(project, Path.GetFileName(project)), workingDirectory, readyPath, settings);

    /// <summary>A built application (<paramref name="dll"/>), started in <paramref name="workingDirectory"/> on a free loopback
    /// port; it is up when <paramref name="readyPath"/> answers 200.</summary>
    public static Task<SiloProcess> StartDllAsync(string dll, string workingDirectory, string readyPath, params string[] settings) =>
        LaunchAsync(dll, workingDirectory, null, readyPath, settings);

    private static async Task<SiloProcess> LaunchAsync(string dll, string dataDirectory, int? port, string readyPath, string[] settings)
    {
        var silo = Launch(dll, dataDirectory, port, settings);
        await silo.WaitHealthyAsync(readyPath);
        return silo;
    }

    private static SiloProcess Launch(string dll, string dataDirectory, int? port, string[] settings)
    {
        int chosen = port ?? Cluster.PostgresServer.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = dataDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { dll, "--urls", $"http://127.0.0.1:{chosen}" }.Concat(settings))
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var silo = new SiloProcess(process, new Uri($"http://127.0.0.1:{chosen}/"));
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>SIGKILL: no shutdown code runs, nothing is flushed but what the store already wrote.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
            Signal("CONT"); // a frozen process cannot die until it runs
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>SIGSTOP: the process freezes mid-flight, its sockets open, as a silo in a long GC pause or a VM stall.</summary>
    public void Pause() => Signal("STOP");

    /// <summary>SIGCONT: the frozen process runs on, as if nothing happened.</summary>
    public void Resume() => Signal("CONT");

    /// <summary>SIGTERM: the process is asked to stop, as a service manager or <c>docker stop</c> asks.</summary>
    public void Terminate() => Signal("TERM");

    /// <summary>Whether the process ended by itself within <paramref name="timeout"/>.</summary>
    public async Task<bool> ExitsWithinAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {_process.Id}")!;
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_log)
            _log.AppendLine(line);
    }

    private async Task WaitHealthyAsync(string readyPath)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // returns once its redirected output has all been read
                throw new InvalidOperationException($"The silo exited with {_process.ExitCode}:\n{Log}");
            }
            try
            {
                if ((await http.GetAsync(readyPath)).StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(50); // waiting for a process to start listening: there is no event to wait on
        }
        throw new TimeoutException($"The silo did not become healthy within 60 s:\n{Log}");
    }

    /// <summary>The application built beside this test assembly's configuration (Debug or Release).</summary>
    internal static string BuiltDll(string project, string assembly)
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        string configuration = here.Parent!.Name; // bin/<Configuration>/net10.0
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "OrleansQueue.sln")))
            root = root.Parent;
        if (root is null)
            throw new InvalidOperationException($"No OrleansQueue.sln above {AppContext.BaseDirectory}.");
        string dll = Path.Combine(root.FullName, project, "bin", configuration, "net10.0", assembly + ".dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build {project} first (dotnet build OrleansQueue.sln).", dll);
    }
}
