using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansQueue.Tests.Security;

/// <summary>
/// A certificate authority made for a test, in a folder of its own: its certificate as PEM (<see cref="CaPath"/>), and
/// certificates it issues (for silos, clients, servers), each as a PEM certificate and a PEM key, with both server and client
/// authentication and the names <c>localhost</c> and <c>127.0.0.1</c>. Made in process (no openssl), valid for a day.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly TempDirectory _folder;
    private readonly X509Certificate2 _ca;

    public TestCertificates(string name)
    {
        _folder = new TempDirectory($"oq-certs-{name}-");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=OrleansQueue test CA {name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        CaPath = Path.Combine(_folder.Path, "ca.pem");
        File.WriteAllText(CaPath, _ca.ExportCertificatePem());
    }

    public string Folder => _folder.Path;

    /// <summary>The CA's certificate (PEM).</summary>
    public string CaPath { get; }

    /// <summary>Issues a certificate to <paramref name="name"/>: its PEM certificate and key files.</summary>
    public (string CertificatePath, string KeyPath) Issue(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client authentication
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, true, false));
        using var issued = request.Create(_ca, _ca.NotBefore.ToUniversalTime(), _ca.NotAfter.ToUniversalTime(), RandomNumberGenerator.GetBytes(16));
        string certificatePath = Path.Combine(_folder.Path, name + ".pem"), keyPath = Path.Combine(_folder.Path, name + ".key");
        File.WriteAllText(certificatePath, issued.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certificatePath, keyPath);
    }

    /// <summary>The settings that give a silo <paramref name="name"/>'s certificate and this CA's trust on its Orleans ports.</summary>
    public string[] SiloSettings(string name)
    {
        var (certificate, key) = Issue(name);
        return ["--Silo:Clustering:Tls:CertificatePath", certificate, "--Silo:Clustering:Tls:KeyPath", key, "--Silo:Clustering:Tls:CaPath", CaPath];
    }

    public void Dispose()
    {
        _ca.Dispose();
        _folder.Dispose();
    }
}
