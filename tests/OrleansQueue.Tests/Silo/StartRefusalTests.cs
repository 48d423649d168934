using System.Net;

namespace OrleansQueue.Tests.Silo;

/// <summary>A silo process that must not start (a second one on a running silo's data folder, a setting that breaks a rule)
/// says why in a line, with no stack trace, and touches nothing.</summary>
public sealed class StartRefusalTests : IDisposable
{
    private readonly TempDirectory _folder = new("oq-folder-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task ASecondSiloOnTheSameDataFolderRefusesToStartAndTheFirstGoesOnUntouched()
    {
        await using var first = await SiloProcess.StartAsync(_folder.Path);
        using var http = first.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/mine", """{"maxConcurrent":1,"leaseTtlMs":120000}""")).Status);
        long lease = await http.Acquire("mine", """{"clientId":"a"}""", "held");

        // Another port, the same folder: it must stop before it opens the database.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(_folder.Path));
        Assert.Contains($"The data folder {_folder.Path} is in use by another silo (process {first.ProcessId} on", refused.Message);
        Assert.DoesNotContain("   at ", refused.Message); // the reason, not a stack trace

        // The first silo's resource was never claimed away: its lease is there, and it serves as before (no "moved").
        var (status, held) = await http.Get($"v1/resources/mine/requests/{lease}");
        Assert.Equal((HttpStatusCode.OK, "held"), (status, held.State()));
        Assert.Equal(HttpStatusCode.OK, (await http.Post($"v1/resources/mine/requests/{lease}/release")).Status);
        await http.Acquire("mine", """{"clientId":"b"}""", "held");
        Assert.DoesNotContain("moved", first.Log, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task AnApiKeyTooShortStopsTheStartWithTheSettingAndItsRule()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(_folder.Path, null,
            "--Silo:ApiKeys:0:Key", "tiny-key-x7", "--Silo:ApiKeys:0:Tenant", "t", "--Silo:ApiKeys:0:Admin", "true"));

        Assert.Contains("Invalid silo configuration: Silo:ApiKeys:0:Key must be at least 16 characters.", refused.Message);
        Assert.DoesNotContain("   at ", refused.Message);
        Assert.DoesNotContain("tiny-key-x7", refused.Message); // the key itself is never printed
    }

    [Fact]
    public async Task ATelemetryEndpointThatIsNoUrlStopsTheStartNamingTheSetting()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(_folder.Path, null,
            "--Silo:Telemetry:OtlpEndpoint", "collector:4317", "--Silo:Telemetry:OtlpProtocol", "udp"));

        Assert.Contains("Silo:Telemetry:OtlpEndpoint must be an absolute http or https URL; it is \"collector:4317\".", refused.Message);
        Assert.Contains("Silo:Telemetry:OtlpProtocol must be \"grpc\" or \"http/protobuf\"; it is \"udp\".", refused.Message);
    }

    [Fact]
    public async Task OrleansPortsOpenBeyondLoopbackWithoutTlsStopTheStartNamingWhatToSet()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(_folder.Path, null,
            "--Silo:ApiKeys:0:Key", "admin-key-0123456789", "--Silo:ApiKeys:0:Tenant", "t", "--Silo:ApiKeys:0:Admin", "true",
            "--Silo:Clustering:Provider", "redis", "--Silo:Clustering:ConnectionString", "127.0.0.1:1", "--Silo:Clustering:AdvertisedHost", "10.1.2.3",
            "--Silo:Store:Provider", "redis", "--Silo:Store:ConnectionString", "127.0.0.1:1"));

        Assert.Contains("The silo's Orleans ports (a free silo port) would listen beyond loopback (Silo:Clustering:AdvertisedHost \"10.1.2.3\") without TLS", refused.Message);
        Assert.Contains("Configure Silo:Clustering:Tls (a certificate and the CA to trust), or set Silo:AllowInsecure=true to accept the risk.", refused.Message);
        Assert.DoesNotContain("   at ", refused.Message);
    }

    [Fact]
    public async Task ATlsCertificateThatIsNotThereStopsTheStartNamingTheSetting()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(_folder.Path, null,
            "--Silo:Clustering:Tls:CertificatePath", "/nowhere/silo.pem", "--Silo:Clustering:Tls:CertificatePassword", "pfx-secret-value"));

        Assert.Contains("Silo:Clustering:Tls:CertificatePath: no such file \"/nowhere/silo.pem\".", refused.Message);
        Assert.Contains("Silo:Clustering:Tls:CaPath (or Silo:Clustering:Tls:Thumbprints) must say whose certificates to accept", refused.Message);
        Assert.DoesNotContain("pfx-secret-value", refused.Message);
    }

    [Fact]
    public async Task AnHttpPortInUseStopsTheStartBeforeAnythingOpens()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(_folder.Path, port));

        Assert.Contains($"The silo's HTTP address http://127.0.0.1:{port} is in use by another process (another silo?): nothing was started.", refused.Message);
        Assert.DoesNotContain("   at ", refused.Message);
        Assert.False(File.Exists(Path.Combine(_folder.Path, "silo.db")), "the store was opened");
    }
}
