using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Connections.Security;
using OrleansQueue.Tls;

namespace Orleans.Hosting;

/// <summary>
/// Mutual TLS on the Orleans ports, from <see cref="OrleansTlsOptions"/>: a silo presents its certificate to every silo and
/// Orleans client and requires theirs (silo to silo and at its gateway); an Orleans client presents its own and requires the
/// silo's. Options that break a rule stop the start with an <see cref="OptionsValidationException"/> naming each setting.
/// </summary>
public static class OrleansQueueTlsExtensions
{
    /// <summary>Mutual TLS on this silo's Orleans ports, with options bound from <paramref name="section"/>.</summary>
    public static ISiloBuilder UseOrleansQueueTls(this ISiloBuilder silo, IConfiguration section) =>
        silo.UseOrleansQueueTls(section.Get<OrleansTlsOptions>() ?? new OrleansTlsOptions(), SectionPath(section));

    /// <summary>Mutual TLS on this silo's Orleans ports; <paramref name="section"/> names the options in messages.</summary>
    public static ISiloBuilder UseOrleansQueueTls(this ISiloBuilder silo, OrleansTlsOptions options, string section = "Tls")
    {
        var (certificate, trust) = Load(options, section);
        return silo.UseTls(certificate, tls => Configure(tls, trust));
    }

    /// <summary>Mutual TLS on this Orleans client's connections to the silos' gateways, with options bound from <paramref name="section"/>.</summary>
    public static IClientBuilder UseOrleansQueueTls(this IClientBuilder client, IConfiguration section) =>
        client.UseOrleansQueueTls(section.Get<OrleansTlsOptions>() ?? new OrleansTlsOptions(), SectionPath(section));

    /// <summary>Mutual TLS on this Orleans client's connections to the silos' gateways; <paramref name="section"/> names the
    /// options in messages.</summary>
    public static IClientBuilder UseOrleansQueueTls(this IClientBuilder client, OrleansTlsOptions options, string section = "Tls")
    {
        var (certificate, trust) = Load(options, section);
        return client.UseTls(certificate, tls => Configure(tls, trust));
    }

    private static (X509Certificate2 Certificate, CertificateTrust Trust) Load(OrleansTlsOptions options, string section)
    {
        var errors = options.Validate(section).ToList();
        if (!options.IsEnabled)
            errors.Insert(0, $"{section}:CertificatePath (or {section}:CertificateSubject) must name the certificate this process presents.");
        if (errors.Count > 0)
            throw new OptionsValidationException(section, typeof(OrleansTlsOptions), errors);
        return (options.LoadCertificate(), CertificateTrust.From(options));
    }

    private static void Configure(TlsOptions tls, CertificateTrust trust)
    {
        // Both ends present a certificate and both check the other's: as a server (a silo's inbound connections, from silos
        // and clients) and as a client (a silo calling another, a client calling a gateway).
        tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.RemoteCertificateValidation = (certificate, chain, _) => trust.Accepts(certificate, chain);
    }

    private static string SectionPath(IConfiguration section) => (section as IConfigurationSection)?.Path ?? "Tls";
}
