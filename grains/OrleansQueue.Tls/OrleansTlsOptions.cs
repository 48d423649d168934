using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansQueue.Tls;

/// <summary>
/// Mutual TLS on the Orleans ports (silo to silo, and Orleans clients to a silo's gateway): the certificate this process
/// presents, and whose certificates it accepts. Every connection is encrypted and both ends present a certificate; one
/// that does not chain to <see cref="CaPath"/> and is not among <see cref="Thumbprints"/> is refused during the handshake,
/// before a single Orleans message is read. Bound from configuration (the standalone silo's <c>Silo:Clustering:Tls</c>)
/// or set in code.
/// </summary>
/// <remarks>Host names are not checked: silos and clients are reached by address, and a cluster's membership is who holds a
/// certificate from its CA (or one of its pinned thumbprints). Issue those certificates to its silos and trusted clients
/// alone. A certificate with an extended key usage must allow both server and client authentication, since a silo is
/// both ends of its connections.</remarks>
public sealed class OrleansTlsOptions
{
    /// <summary>This process's certificate: a PEM file (its key in <see cref="KeyPath"/> or in the same file) or a PKCS#12
    /// file (<c>.pfx</c>, <c>.p12</c>) with its key.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>, when it is not in the certificate's file.</summary>
    public string? KeyPath { get; set; }

    /// <summary>The password of a PKCS#12 file or of an encrypted PEM key (never logged).</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>Instead of a file: the subject name of a certificate with its private key in a certificate store.</summary>
    public string? CertificateSubject { get; set; }

    /// <summary>The store <see cref="CertificateSubject"/> is looked up in (a <see cref="StoreName"/>).</summary>
    /// <value>The default value is <c>My</c>.</value>
    public string CertificateStore { get; set; } = nameof(StoreName.My);

    /// <summary>The store's location (a <see cref="StoreLocation"/>).</summary>
    /// <value>The default value is <c>CurrentUser</c>.</value>
    public string CertificateLocation { get; set; } = nameof(StoreLocation.CurrentUser);

    /// <summary>A PEM file with the certificate(s) of the CA that issues the cluster's certificates: a peer's certificate
    /// must chain to one of them (the system's trusted roots are not used).</summary>
    public string? CaPath { get; set; }

    /// <summary>SHA-256 thumbprints of certificates accepted as they are, with or without colons (what
    /// <c>openssl x509 -noout -fingerprint -sha256</c> prints).</summary>
    public List<string> Thumbprints { get; set; } = [];

    /// <summary>Whether a certificate is named: TLS is on.</summary>
    public bool IsEnabled => !string.IsNullOrWhiteSpace(CertificatePath) || !string.IsNullOrWhiteSpace(CertificateSubject);

    /// <summary>The rules these options break, each naming its setting under <paramref name="section"/>. Options that name
    /// nothing break none (TLS is off); once a certificate is named, it must load with its private key and something must say
    /// whose certificates to accept.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (!IsEnabled)
        {
            if (!string.IsNullOrWhiteSpace(CaPath) || Thumbprints.Count > 0)
                yield return $"{section}:CertificatePath (or {section}:CertificateSubject) must name this process's certificate: {section}:CaPath and Thumbprints say whom to trust, not what to present.";
            yield break;
        }
        if (!string.IsNullOrWhiteSpace(CertificatePath) && !string.IsNullOrWhiteSpace(CertificateSubject))
            yield return $"{section}:CertificatePath and {section}:CertificateSubject are both set: name the certificate one way.";
        else if (CertificateError(section) is { } error)
            yield return error;
        if (string.IsNullOrWhiteSpace(CaPath) && Thumbprints.Count == 0)
        {
            yield return $"{section}:CaPath (or {section}:Thumbprints) must say whose certificates to accept: the CA that issues the cluster's " +
                "certificates, or their SHA-256 thumbprints (the system's roots would let in anyone with a certificate from a public CA).";
        }
        if (!string.IsNullOrWhiteSpace(CaPath))
        {
            if (!File.Exists(CaPath))
                yield return $"{section}:CaPath: no such file \"{CaPath}\".";
            else if (CaError() is { } error)
                yield return $"{section}:CaPath: \"{CaPath}\" {error}";
        }
        foreach (string thumbprint in Thumbprints.Where(t => CertificateTrust.Normalize(t).Length != 64 || !CertificateTrust.Normalize(t).All(Uri.IsHexDigit)))
            yield return $"{section}:Thumbprints: \"{thumbprint}\" is not a SHA-256 thumbprint (64 hexadecimal digits, colons allowed).";
    }

    private string? CertificateError(string section)
    {
        if (!string.IsNullOrWhiteSpace(CertificateSubject))
        {
            if (!Enum.TryParse<StoreName>(CertificateStore, ignoreCase: true, out _))
                return $"{section}:CertificateStore must be one of {string.Join(", ", Enum.GetNames<StoreName>())}; it is \"{CertificateStore}\".";
            if (!Enum.TryParse<StoreLocation>(CertificateLocation, ignoreCase: true, out _))
                return $"{section}:CertificateLocation must be CurrentUser or LocalMachine; it is \"{CertificateLocation}\".";
        }
        else if (!File.Exists(CertificatePath))
        {
            return $"{section}:CertificatePath: no such file \"{CertificatePath}\".";
        }
        else if (!string.IsNullOrWhiteSpace(KeyPath) && !File.Exists(KeyPath))
        {
            return $"{section}:KeyPath: no such file \"{KeyPath}\".";
        }
        try
        {
            using var certificate = LoadCertificate();
            return certificate.HasPrivateKey ? null : $"{section}: the certificate {certificate.Subject} has no private key.";
        }
        catch (Exception ex) when (ex is CryptographicException or InvalidOperationException or ArgumentException)
        {
            string what = string.IsNullOrWhiteSpace(CertificateSubject) ? $"{section}:CertificatePath: \"{CertificatePath}\" cannot be read as a PEM or PKCS#12 certificate with its private key"
                : $"{section}:CertificateSubject: no certificate with a private key for \"{CertificateSubject}\" in {CertificateLocation}/{CertificateStore}";
            return $"{what} ({ex.Message})";
        }
    }

    private string? CaError()
    {
        try
        {
            return CertificateTrust.ReadCertificates(CaPath!).Count == 0 ? "holds no PEM certificate." : null;
        }
        catch (CryptographicException ex)
        {
            return $"cannot be read as PEM certificates ({ex.Message}).";
        }
    }

    /// <summary>Loads this process's certificate with its private key.</summary>
    internal X509Certificate2 LoadCertificate()
    {
        if (!string.IsNullOrWhiteSpace(CertificateSubject))
        {
            using var store = new X509Store(Enum.Parse<StoreName>(CertificateStore, ignoreCase: true), Enum.Parse<StoreLocation>(CertificateLocation, ignoreCase: true));
            store.Open(OpenFlags.ReadOnly | OpenFlags.OpenExistingOnly);
            var now = DateTime.Now;
            return store.Certificates.Find(X509FindType.FindBySubjectName, CertificateSubject, validOnly: false)
                .Where(c => c.HasPrivateKey && c.NotBefore <= now && now <= c.NotAfter)
                .OrderByDescending(c => c.NotAfter)
                .FirstOrDefault() ?? throw new InvalidOperationException("none is in force with its key");
        }
        string path = CertificatePath!;
        if (Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12")
            return X509CertificateLoader.LoadPkcs12FromFile(path, CertificatePassword);
        using var pem = string.IsNullOrEmpty(CertificatePassword)
            ? X509Certificate2.CreateFromPemFile(path, string.IsNullOrWhiteSpace(KeyPath) ? null : KeyPath)
            : X509Certificate2.CreateFromEncryptedPemFile(path, CertificatePassword, string.IsNullOrWhiteSpace(KeyPath) ? null : KeyPath);
        // A PEM key is ephemeral, which SslStream cannot use on every platform; a PKCS#12 round trip gives it one it can.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}
