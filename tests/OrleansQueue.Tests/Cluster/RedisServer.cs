using System.Diagnostics;
using StackExchange.Redis;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// A throwaway redis-server for the tests, one per test run, on a free loopback port, in a temporary folder, with the
/// append-only file fsynced on every write (as the silo wants it), stopped by its process id when the run ends (a
/// watchdog shell stops it too if this process dies). With ORLEANSQUEUE_REDIS set to host:port, that server is used instead.
/// </summary>
public static class RedisServer
{
    public const string HowToEnable =
        "redis-server is not installed: install it (Debian: apt-get install redis-server; .ci/run does) or set ORLEANSQUEUE_REDIS to host:port.";

    private static readonly Lazy<string?> Binary = new(() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin").Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists));
    private static readonly Lazy<Task<string>> Server = new(StartAsync);
    private static int _prefixes;

    public static bool IsAvailable => Environment.GetEnvironmentVariable("ORLEANSQUEUE_REDIS") is { Length: > 0 } || Binary.Value is not null;

    /// <summary>The server's address (host:port).</summary>
    public static Task<string> AddressAsync() => Server.Value;

    /// <summary>A key prefix no other test uses, so that tests sharing the server never see each other's keys.</summary>
    public static string NewPrefix() => $"oqtest{Environment.ProcessId}x{Interlocked.Increment(ref _prefixes)}";

    private static async Task<string> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("ORLEANSQUEUE_REDIS") is { Length: > 0 } given)
            return given;
        int port = PostgresServer.FreePort();
        string address = $"127.0.0.1:{port}";
        await LaunchAsync($"--port {port}", ConfigurationOptions.Parse(address));
        return address;
    }

    /// <summary>
    /// A second throwaway server, reached only over TLS (no plain port) and only with a password, its certificate issued by
    /// a CA of its own: what a secured cluster's silos are given. Always started here (a server given by
    /// ORLEANSQUEUE_REDIS is not assumed to have TLS).
    /// </summary>
    public static Task<SecuredRedis> SecuredAsync() => Secured.Value;

    private static readonly Lazy<Task<SecuredRedis>> Secured = new(StartSecuredAsync);

    public static bool IsSecuredAvailable => Binary.Value is not null;

    private static async Task<SecuredRedis> StartSecuredAsync()
    {
        var certificates = new Security.TestCertificates("redis");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => certificates.Dispose();
        var (certificate, key) = certificates.Issue("redis");
        string password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        int port = PostgresServer.FreePort();
        var secured = new SecuredRedis($"127.0.0.1:{port},ssl=true,password={password}", certificates.CaPath);
        await LaunchAsync($"--port 0 --tls-port {port} --tls-cert-file \"{certificate}\" --tls-key-file \"{key}\" " +
            $"--tls-ca-cert-file \"{certificates.CaPath}\" --tls-auth-clients no --requirepass {password}", secured.Options());
        return secured;
    }

    private static async Task LaunchAsync(string arguments, ConfigurationOptions probe)
    {
        string binary = Binary.Value ?? throw new InvalidOperationException(HowToEnable);
        string folder = Directory.CreateTempSubdirectory("oq-redis-").FullName;
        string run = $"\"{binary}\" {arguments} --bind 127.0.0.1 --dir \"{folder}\" --appendonly yes --appendfsync always --save '' --protected-mode yes";
        string watchdog = $"{run} & rs=$!; trap 'kill -TERM $rs' TERM INT; " +
            $"while kill -0 {Environment.ProcessId} 2>/dev/null && kill -0 $rs 2>/dev/null; do sleep 1; done; " +
            $"kill -TERM $rs 2>/dev/null; wait $rs; rm -rf \"{folder}\"";
        var process = Process.Start(new ProcessStartInfo("bash", ["-c", watchdog]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                if (!process.HasExited)
                {
                    Process.Start("kill", $"-TERM {process.Id}")!.WaitForExit();
                    process.WaitForExit(10_000);
                }
            }
            catch (Exception)
            {
            }
        };
        var ready = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(probe);
                await connection.GetDatabase().PingAsync();
                return;
            }
            catch (Exception) when (ready.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }
}

/// <summary>A Redis server over TLS with a password: its connection string (<c>ssl=true,password=…</c>) and the CA that
/// issued its certificate.</summary>
public sealed record SecuredRedis(string ConnectionString, string CaPath)
{
    public ConfigurationOptions Options()
    {
        var options = ConfigurationOptions.Parse(ConnectionString);
        options.TrustIssuer(CaPath);
        return options;
    }
}
