namespace OrleansQueue.Silo.Gateway;

/// <summary>Who is calling: a tenant, and whether it may manage resources.</summary>
public sealed record Caller(string Tenant, bool IsAdmin)
{
    /// <summary>The client id the grain sees: tenant and client, so tenants never share fairness or requests.</summary>
    public string GrainClientId(string clientId) => Tenant + ":" + clientId;

    /// <summary>Whether a grain client id belongs to this tenant.</summary>
    public bool Owns(string grainClientId) => grainClientId.StartsWith(Tenant + ":", StringComparison.Ordinal);

    /// <summary>The client id as the tenant named it.</summary>
    public string ClientIdOf(string grainClientId) => Owns(grainClientId) ? grainClientId[(Tenant.Length + 1)..] : grainClientId;
}
