using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OrleansQueue.Grains.Hosting;
using OrleansQueue.Tls;

namespace OrleansQueue.Tests.Security;

/// <summary>The TLS options of the Orleans ports: every setting that breaks a rule is named with its rule, a certificate
/// loads from PEM or PKCS#12, and the trust accepts the cluster CA's certificates and pinned thumbprints, nothing else.</summary>
public sealed class OrleansTlsOptionsTests : IDisposable
{
    private const string Section = "Silo:Clustering:Tls";
    private readonly TestCertificates _cluster = new("cluster");
    private readonly TestCertificates _other = new("other");

    public void Dispose()
    {
        _cluster.Dispose();
        _other.Dispose();
    }

    [Fact]
    public void OptionsThatNameNothingAreOffAndBreakNoRule()
    {
        var options = new OrleansTlsOptions();
        Assert.False(options.IsEnabled);
        Assert.Empty(options.Validate(Section));
    }

    [Fact]
    public void EachSettingThatBreaksARuleIsNamedWithItsRule()
    {
        Assert.Equal([$"{Section}:CertificatePath (or {Section}:CertificateSubject) must name this process's certificate: {Section}:CaPath and Thumbprints say whom to trust, not what to present."],
            new OrleansTlsOptions { CaPath = _cluster.CaPath }.Validate(Section));

        var missing = new OrleansTlsOptions { CertificatePath = "/nowhere/silo.pem", CaPath = "/nowhere/ca.pem", Thumbprints = ["12:AB"] }.Validate(Section).ToList();
        Assert.Equal([
            $"{Section}:CertificatePath: no such file \"/nowhere/silo.pem\".",
            $"{Section}:CaPath: no such file \"/nowhere/ca.pem\".",
            $"{Section}:Thumbprints: \"12:AB\" is not a SHA-256 thumbprint (64 hexadecimal digits, colons allowed).",
        ], missing);

        var (certificate, key) = _cluster.Issue("silo");
        var trustingNobody = new OrleansTlsOptions { CertificatePath = certificate, KeyPath = key }.Validate(Section).Single();
        Assert.StartsWith($"{Section}:CaPath (or {Section}:Thumbprints) must say whose certificates to accept", trustingNobody);

        var keyless = new OrleansTlsOptions { CertificatePath = certificate, CaPath = _cluster.CaPath }.Validate(Section).Single();
        Assert.StartsWith($"{Section}:CertificatePath: \"{certificate}\" cannot be read as a PEM or PKCS#12 certificate with its private key", keyless);

        var notACa = new OrleansTlsOptions { CertificatePath = certificate, KeyPath = key, CaPath = key }.Validate(Section).Single();
        Assert.Equal($"{Section}:CaPath: \"{key}\" holds no PEM certificate.", notACa);

        Assert.Equal([$"{Section}:CertificatePath and {Section}:CertificateSubject are both set: name the certificate one way."],
            new OrleansTlsOptions { CertificatePath = certificate, KeyPath = key, CertificateSubject = "silo", CaPath = _cluster.CaPath }.Validate(Section));
    }

    [Fact]
    public void ACertificateLoadsWithItsKeyFromPemOrFromAPasswordProtectedPkcs12File()
    {
        var (certificate, key) = _cluster.Issue("silo");
        var pem = new OrleansTlsOptions { CertificatePath = certificate, KeyPath = key, CaPath = _cluster.CaPath };
        Assert.Empty(pem.Validate(Section));
        using var loaded = pem.LoadCertificate();
        Assert.True(loaded.HasPrivateKey);

        string pfx = Path.Combine(_cluster.Folder, "silo.pfx");
        File.WriteAllBytes(pfx, loaded.Export(X509ContentType.Pkcs12, "s3cret-pfx"));
        var pkcs12 = new OrleansTlsOptions { CertificatePath = pfx, CertificatePassword = "s3cret-pfx", CaPath = _cluster.CaPath };
        Assert.Empty(pkcs12.Validate(Section));
        using var fromPfx = pkcs12.LoadCertificate();
        Assert.Equal(loaded.Thumbprint, fromPfx.Thumbprint);

        var wrongPassword = new OrleansTlsOptions { CertificatePath = pfx, CertificatePassword = "not-it", CaPath = _cluster.CaPath }.Validate(Section).Single();
        Assert.StartsWith($"{Section}:CertificatePath: \"{pfx}\" cannot be read", wrongPassword);
        Assert.DoesNotContain("not-it", wrongPassword, StringComparison.Ordinal);
    }

    [Fact]
    public void TheTrustAcceptsTheClusterCasCertificatesAndPinnedThumbprintsAndNothingElse()
    {
        using var member = Load(_cluster.Issue("silo"));
        using var stranger = Load(_other.Issue("stranger"));
        var byCa = CertificateTrust.From(new OrleansTlsOptions { CaPath = _cluster.CaPath });
        Assert.True(byCa.Accepts(member, null));
        Assert.False(byCa.Accepts(stranger, null));

        // The thumbprint as openssl prints it (colons, any case) pins the stranger, and only it.
        string printed = string.Join(':', Convert.ToHexString(stranger.GetCertHash(HashAlgorithmName.SHA256)).Chunk(2).Select(c => new string(c))).ToLowerInvariant();
        var pinned = CertificateTrust.From(new OrleansTlsOptions { Thumbprints = [printed] });
        Assert.True(pinned.Accepts(stranger, null));
        Assert.False(pinned.Accepts(member, null));

        // The system's roots play no part: a CA of its own trusts only what it issued.
        var byOther = CertificateTrust.From(new OrleansTlsOptions { CaPath = _other.CaPath });
        Assert.False(byOther.Accepts(member, null));
    }

    [Fact]
    public void OrleansPortsBeyondLoopbackWithoutTlsAreRefusedUnlessTheRiskIsAccepted()
    {
        var open = new ClusteringOptions { Provider = "redis", ConnectionString = "redis:6379", AdvertisedHost = "10.1.2.3", GatewayPort = 30000 };
        Assert.Equal("The silo's Orleans ports (silo port 11111, gateway port 30000) would listen beyond loopback (Silo:Clustering:AdvertisedHost \"10.1.2.3\") " +
            "without TLS: anyone who reaches them could join the cluster or call every resource as an admin. Configure Silo:Clustering:Tls (a certificate " +
            "and the CA to trust), or set Silo:AllowInsecure=true to accept the risk.", open.InsecurePorts("Silo:Clustering", "Silo:AllowInsecure", allowInsecure: false));
        Assert.Null(open.InsecurePorts("Silo:Clustering", "Silo:AllowInsecure", allowInsecure: true));

        var (certificate, key) = _cluster.Issue("silo");
        open.Tls = new OrleansTlsOptions { CertificatePath = certificate, KeyPath = key, CaPath = _cluster.CaPath };
        Assert.Null(open.InsecurePorts("Silo:Clustering", "Silo:AllowInsecure", allowInsecure: false));
        Assert.Empty(open.Validate("Silo:Clustering"));

        Assert.Null(new ClusteringOptions { Provider = "redis", ConnectionString = "127.0.0.1:6379" }.InsecurePorts("Silo:Clustering", "Silo:AllowInsecure", false));
        Assert.Null(new ClusteringOptions().InsecurePorts("Silo:Clustering", "Silo:AllowInsecure", false));
        Assert.Equal(0, new ClusteringOptions().GatewayPort); // no Orleans gateway unless asked for
    }

    private static X509Certificate2 Load((string Certificate, string Key) files) => X509Certificate2.CreateFromPemFile(files.Certificate, files.Key);
}
