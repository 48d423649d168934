namespace OrleansQueue.Contracts;

/// <summary>Who is calling: a tenant, and whether it may manage resources. The gateway authenticates it; the grain trusts it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.Caller")]
public sealed record Caller([property: Id(0)] string Tenant, [property: Id(1)] bool IsAdmin)
{
    /// <summary>The client id the scheduler sees: tenant and client, so tenants never share fairness or requests.</summary>
    public string GrainClientId(string clientId) => new ClientKey(Tenant, clientId).ToString();

    /// <summary>Whether a scheduler client id belongs to this tenant.</summary>
    public bool Owns(string grainClientId) => ClientKey.TryParse(grainClientId, out var key) && key.Tenant == Tenant;

    /// <summary>The client id as the tenant named it.</summary>
    public string ClientIdOf(string grainClientId) =>
        ClientKey.TryParse(grainClientId, out var key) && key.Tenant == Tenant ? key.Name : grainClientId;
}
