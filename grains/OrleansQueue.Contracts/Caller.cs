namespace OrleansQueue.Contracts;

/// <summary>Who is calling: a tenant, and whether it may manage resources. The gateway authenticates it; the grain trusts it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.Caller")]
public sealed record Caller([property: Id(0)] string Tenant, [property: Id(1)] bool IsAdmin)
{
    /// <summary>The client id the scheduler sees: tenant and client, so tenants never share fairness or requests.</summary>
    public string GrainClientId(string clientId) => Tenant + ":" + clientId;

    /// <summary>Whether a scheduler client id belongs to this tenant.</summary>
    public bool Owns(string grainClientId) => grainClientId.StartsWith(Tenant + ":", StringComparison.Ordinal);

    /// <summary>The client id as the tenant named it.</summary>
    public string ClientIdOf(string grainClientId) => Owns(grainClientId) ? grainClientId[(Tenant.Length + 1)..] : grainClientId;
}
