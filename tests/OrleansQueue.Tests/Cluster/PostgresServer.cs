using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// A throwaway PostgreSQL server for the tests, one per test run: initdb into a temporary folder, started on a free
/// loopback port (as the unprivileged "postgres" user when the tests run as root: PostgreSQL refuses root), and stopped
/// by its process id when the run ends. Each test gets its own database. With ORLEANSQUEUE_POSTGRES set to a
/// connection string, that server is used instead.
/// </summary>
public static class PostgresServer
{
    public const string HowToEnable =
        "PostgreSQL is not installed: install it (Debian: apt-get install postgresql; .ci/run does) or set ORLEANSQUEUE_POSTGRES to a connection string.";

    private static readonly Lazy<string?> BinDirectory = new(FindBinaries);
    private static readonly Lazy<Task<string>> Server = new(StartAsync);
    private static int _databases;

    /// <summary>Whether the server flushes its commits to disk as in production (the load tool's measurements); tests
    /// run without, for speed. Set before the first database is created.</summary>
    public static bool Durable { get; set; }

    /// <summary>Whether the tests that need PostgreSQL can run here.</summary>
    public static bool IsAvailable => Environment.GetEnvironmentVariable("ORLEANSQUEUE_POSTGRES") is { Length: > 0 } || BinDirectory.Value is not null;

    /// <summary>A connection string to a new, empty database.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        string server = await Server.Value;
        string name = $"oq_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    internal static string? FindBinaries()
    {
        var candidates = new List<string>();
        if (Directory.Exists("/usr/lib/postgresql"))
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => Path.Combine(d, "bin")));
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "postgres")));
    }

    private static async Task<string> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("ORLEANSQUEUE_POSTGRES") is { Length: > 0 } given)
            return given;
        string bin = BinDirectory.Value ?? throw new InvalidOperationException(HowToEnable);
        string folder = Directory.CreateTempSubdirectory("oq-pg-").FullName;
        string data = Path.Combine(folder, "data");
        bool root = Environment.UserName == "root";
        if (root)
        {
            // PostgreSQL refuses to run as root: the folder goes to its own unprivileged user.
            await RunAsync("chown", $"-R postgres \"{folder}\"");
            await RunAsync("chmod", $"755 \"{folder}\"");
        }
        await RunAsync(root ? "runuser" : Path.Combine(bin, "initdb"),
            (root ? $"-u postgres -- \"{Path.Combine(bin, "initdb")}\" " : "") + $"-D \"{data}\" -U oq --auth=trust -E UTF8 --no-sync");
        int port = FreePort();
        string postgres = Path.Combine(bin, "postgres");
        string run = (root ? "setpriv --reuid=postgres --regid=postgres --init-groups " : "") +
            $"\"{postgres}\" -D \"{data}\" -p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=\"{folder}\" " +
            (Durable ? "" : "-c fsync=off -c synchronous_commit=off -c full_page_writes=off ") + "-c max_connections=300";
        // A watchdog shell owns the server: it stops it by its process id (fast shutdown) when told to, or as soon as this
        // test process is gone, however it ended, and then removes the folder.
        string watchdog = $"{run} & pg=$!; trap 'kill -INT $pg' TERM INT; " +
            $"while kill -0 {Environment.ProcessId} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 1; done; " +
            $"kill -INT $pg 2>/dev/null; wait $pg; rm -rf \"{folder}\"";
        var process = Process.Start(new ProcessStartInfo("bash", ["-c", watchdog])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(process);
        string connection = $"Host=127.0.0.1;Port={port};Username=oq;Database=postgres;Pooling=true;Maximum Pool Size=100;Timeout=5";
        var ready = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var probe = new NpgsqlConnection(connection);
                await probe.OpenAsync();
                return connection;
            }
            catch (Exception) when (ready.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Tells the watchdog to stop the server, and waits a little for it.</summary>
    private static void Stop(Process watchdog)
    {
        try
        {
            if (!watchdog.HasExited)
            {
                Process.Start("kill", $"-TERM {watchdog.Id}")!.WaitForExit();
                watchdog.WaitForExit(10_000);
            }
        }
        catch (Exception)
        {
        }
    }

    internal static async Task RunAsync(string file, string arguments)
    {
        var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {output}");
    }

    /// <summary>A loopback port free now (the cluster harnesses give silos fixed ports too).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// A PostgreSQL server of one test's own, durable (fsync on), which the test can crash (<c>pg_ctl stop -m immediate</c>:
/// no checkpoint, recovery from the WAL at the next start) and start again on the same port and data. Stopped by its
/// pid file (pg_ctl) and its folder removed when disposed.
/// </summary>
public sealed class PostgresInstance : IAsyncDisposable
{
    private readonly string _bin, _folder, _data;
    private readonly int _port;
    private readonly bool _root = Environment.UserName == "root";
    private string _tls = "";

    private PostgresInstance(string bin, string folder, int port)
    {
        (_bin, _folder, _port) = (bin, folder, port);
        _data = Path.Combine(folder, "data");
    }

    public string ConnectionString => $"Host=127.0.0.1;Port={_port};Username=oq;Database=postgres;Timeout=5;Command Timeout=10";

    /// <param name="tls">With a CA, the server takes TLS connections only, with a certificate that CA issued for
    /// <c>localhost</c> and <c>127.0.0.1</c>; plain connections are refused.</param>
    public static async Task<PostgresInstance> StartAsync(Security.TestCertificates? tls = null)
    {
        string bin = FindBinaries() ?? throw new InvalidOperationException(PostgresServer.HowToEnable);
        var instance = new PostgresInstance(bin, Directory.CreateTempSubdirectory("oq-pg-own-").FullName, PostgresServer.FreePort());
        if (tls is not null)
        {
            var (certificate, key) = tls.Issue("postgres");
            File.Copy(certificate, Path.Combine(instance._folder, "server.crt"));
            File.Copy(key, Path.Combine(instance._folder, "server.key"));
            instance._tls = $" -c ssl=on -c ssl_cert_file='{instance._folder}/server.crt' -c ssl_key_file='{instance._folder}/server.key'";
        }
        if (instance._root)
        {
            await RunAsync("chown", $"-R postgres \"{instance._folder}\"");
            await RunAsync("chmod", $"755 \"{instance._folder}\"");
        }
        await instance.PgAsync("initdb", $"-D \"{instance._data}\" -U oq --auth=trust -E UTF8 --no-sync");
        if (tls is not null)
        {
            // The first matching line decides: a connection without TLS is turned away before authentication.
            string hba = Path.Combine(instance._data, "pg_hba.conf");
            await File.WriteAllTextAsync(hba, "hostnossl all all 0.0.0.0/0 reject\nhostnossl all all ::/0 reject\n" + await File.ReadAllTextAsync(hba));
        }
        await instance.StartAgainAsync();
        return instance;
    }

    /// <summary>Starts the server on its data (after a crash: it recovers from its WAL first) and waits until it answers.</summary>
    public async Task StartAgainAsync()
    {
        await PgAsync("pg_ctl", $"start -w -t 60 -D \"{_data}\" -l \"{Path.Combine(_folder, "log")}\" " +
            $"-o \"-p {_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{_folder}' -c max_connections=100{_tls}\"");
        var ready = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var probe = new NpgsqlConnection(ConnectionString);
                await probe.OpenAsync();
                return;
            }
            catch (Exception) when (ready.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100); // a server just started tells nobody when it takes connections: probing is the witness
            }
        }
    }

    /// <summary>Stops the server as a crash would: every process at once, no checkpoint.</summary>
    public Task CrashAsync() => PgAsync("pg_ctl", $"stop -D \"{_data}\" -m immediate");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await PgAsync("pg_ctl", $"stop -D \"{_data}\" -m fast");
        }
        catch (InvalidOperationException)
        {
            // not running
        }
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Task PgAsync(string tool, string arguments) => _root
        ? RunAsync("runuser", $"-u postgres -- \"{Path.Combine(_bin, tool)}\" {arguments}")
        : RunAsync(Path.Combine(_bin, tool), arguments);

    private static string? FindBinaries() =>
        PostgresServer.FindBinaries() is { } bin && File.Exists(Path.Combine(bin, "pg_ctl")) ? bin : null;

    private static Task RunAsync(string file, string arguments) => PostgresServer.RunAsync(file, arguments);
}
