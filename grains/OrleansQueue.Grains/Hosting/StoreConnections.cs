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
}
