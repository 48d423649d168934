using Npgsql;
using StackExchange.Redis;

namespace OrleansQueue.Grains.Hosting;

/// <summary>A Redis connection (membership or store) from its StackExchange.Redis options and the CA that issued the
/// server's certificate, when the system does not trust it.</summary>
internal static class RedisConnection
{
    public static ConfigurationOptions Options(string connectionString, string? caPath)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        if (!string.IsNullOrWhiteSpace(caPath))
            options.TrustIssuer(caPath);
        return options;
    }

    /// <summary>The first server beyond loopback that <paramref name="options"/> reach without TLS; null if none.</summary>
    public static string? ClearTextHost(ConfigurationOptions options) => options.Ssl ? null
        : options.EndPoints.Select(e => e switch { System.Net.DnsEndPoint d => d.Host, System.Net.IPEndPoint ip => ip.Address.ToString(), _ => e.ToString()! })
            .FirstOrDefault(host => !Loopback.Is(host));
}

/// <summary>A PostgreSQL connection string with the CA to trust, unless the string names one itself.</summary>
internal static class PostgresConnection
{
    public static string String(string connectionString, string? caPath)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!string.IsNullOrWhiteSpace(caPath) && string.IsNullOrWhiteSpace(builder.RootCertificate))
            builder.RootCertificate = caPath;
        return builder.ConnectionString;
    }

    /// <summary>The server beyond loopback that <paramref name="connectionString"/> reaches without requiring TLS; null if none
    /// (a Unix socket, loopback, or an SSL mode of Require or stricter).</summary>
    public static string? ClearTextHost(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.SslMode is SslMode.Require or SslMode.VerifyCA or SslMode.VerifyFull)
            return null;
        return (builder.Host ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(h => h.Split(':')[0])
            .FirstOrDefault(host => !host.StartsWith('/') && !Loopback.Is(host));
    }
}
