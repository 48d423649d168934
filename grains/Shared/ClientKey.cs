namespace OrleansQueue;

/// <summary>
/// A client as the scheduler knows it: <c>tenant:name</c>, so that tenants never share fairness, quotas or requests. The
/// gateway and the grain compose it from the caller's tenant and the client id the caller gave; the scheduler reads the
/// tenant back for its per-tenant quota and the name for a client's weight; the views give each caller its own name back.
/// One source, compiled into the contracts and the scheduler (neither references the other), so that it is written
/// down and read back in one way.
/// </summary>
internal readonly record struct ClientKey(string Tenant, string Name)
{
    /// <summary>Between the tenant and the name; a tenant never holds one, a name may.</summary>
    public const char Separator = ':';

    public override string ToString() => string.Concat(Tenant, ":", Name);

    /// <summary>Reads <paramref name="id"/> as <c>tenant:name</c> (split at the first colon); false for an id without a tenant.</summary>
    public static bool TryParse(string id, out ClientKey key)
    {
        int colon = id.IndexOf(Separator);
        key = colon > 0 ? new ClientKey(id[..colon], id[(colon + 1)..]) : default;
        return colon > 0;
    }

    /// <summary>The tenant of <paramref name="id"/>; an id without one is a tenant of its own.</summary>
    public static string TenantOf(string id) => TryParse(id, out var key) ? key.Tenant : id;
}
