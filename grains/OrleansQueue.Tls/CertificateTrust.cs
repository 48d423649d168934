using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansQueue.Tls;

/// <summary>
/// Whose certificates a process accepts on its Orleans connections: those that chain to the configured CA (only to it: the
/// system's roots play no part) and those whose SHA-256 thumbprint is pinned. Host names are not checked (see
/// <see cref="OrleansTlsOptions"/>).
/// </summary>
internal sealed class CertificateTrust
{
    private readonly X509Certificate2Collection _roots;
    private readonly HashSet<string> _thumbprints;

    private CertificateTrust(X509Certificate2Collection roots, IEnumerable<string> thumbprints)
    {
        _roots = roots;
        _thumbprints = thumbprints.Select(Normalize).ToHashSet(StringComparer.Ordinal);
    }

    public static CertificateTrust From(OrleansTlsOptions options) => new(
        string.IsNullOrWhiteSpace(options.CaPath) ? [] : ReadCertificates(options.CaPath), options.Thumbprints);

    /// <summary>Whether <paramref name="certificate"/> is one of the cluster's: pinned, or issued (through the intermediates
    /// the peer sent, in <paramref name="presented"/>) by the CA, and in force now.</summary>
    public bool Accepts(X509Certificate2 certificate, X509Chain? presented)
    {
        if (_thumbprints.Contains(Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256))))
            return true;
        if (_roots.Count == 0)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        // Revocation needs a CRL or OCSP endpoint the cluster's own CA rarely runs; a certificate is withdrawn by reissuing the
        // CA or dropping its thumbprint.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var element in presented?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
        {
            if (!element.Certificate.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        return chain.Build(certificate);
    }

    /// <summary>A thumbprint as compared: hexadecimal digits alone, upper case.</summary>
    public static string Normalize(string thumbprint) =>
        new(thumbprint.Where(c => c is not (':' or ' ' or '-')).Select(char.ToUpperInvariant).ToArray());

    /// <summary>Every certificate in a PEM file.</summary>
    public static X509Certificate2Collection ReadCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        return certificates;
    }
}
