using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using OrleansQueue.Tests.Examples;
using OrleansQueue.Tls;

namespace OrleansQueue.Tests.Security;

/// <summary>
/// <c>docker/make-certs.sh</c>, as the README and the compose file's one-shot service run it: the certificates it makes
/// load as a silo's and an application's TLS options, the cluster CA accepts them, the Redis certificate carries the
/// names the silos reach it by, the keys are private, and a second run keeps what the first made.
/// </summary>
public sealed class MakeCertsScriptTests : IDisposable
{
    private readonly TempDirectory _folder = new("oq-make-certs-");

    public void Dispose() => _folder.Dispose();

    [OpensslFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task TheScriptsCertificatesServeTheSilosTheApplicationAndRedis()
    {
        string certs = Path.Combine(_folder.Path, "certs");
        Assert.Contains("made ca, silo, app and redis certificates", await RunAsync(certs));

        var trust = CertificateTrust.From(new OrleansTlsOptions { CaPath = Path.Combine(certs, "ca.pem") });
        foreach (string name in new[] { "silo", "app" })
        {
            var options = new OrleansTlsOptions
            {
                CertificatePath = Path.Combine(certs, name + ".pem"), KeyPath = Path.Combine(certs, name + ".key"), CaPath = Path.Combine(certs, "ca.pem"),
            };
            Assert.Empty(options.Validate("Tls"));
            using var certificate = options.LoadCertificate();
            Assert.True(trust.Accepts(certificate, null), name);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(certs, name + ".key")));
        }

        using var redis = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(certs, "redis.pem"));
        var names = redis.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["redis", "localhost"], names.EnumerateDnsNames());
        Assert.True(redis.MatchesHostname("redis"));

        byte[] ca = await File.ReadAllBytesAsync(Path.Combine(certs, "ca.pem"));
        Assert.Contains("nothing made", await RunAsync(certs));
        Assert.Equal(ca, await File.ReadAllBytesAsync(Path.Combine(certs, "ca.pem")));
    }

    private static async Task<string> RunAsync(string folder)
    {
        string script = Path.Combine(QueueInYourAppTests.RepositoryRoot(), "docker", "make-certs.sh");
        var process = Process.Start(new ProcessStartInfo("sh", [script, folder]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"make-certs.sh exited with {process.ExitCode}: {output}");
        return output;
    }
}

/// <summary>A fact that needs the openssl command: skipped, saying so, where it is not installed.</summary>
public sealed class OpensslFactAttribute : FactAttribute
{
    public OpensslFactAttribute()
    {
        bool found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin").Any(d => File.Exists(Path.Combine(d, "openssl")));
        if (!found)
            Skip = "openssl is not installed (Debian: apt-get install openssl): docker/make-certs.sh needs it.";
    }
}
