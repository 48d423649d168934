using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace OrleansQueue.Gateway;

/// <summary>Maps the API key of a request to its <see cref="Caller"/>.</summary>
internal sealed class ApiKeyAuthenticator(IOptions<GatewayOptions> options)
{
    public const string Header = "X-Api-Key";
    private static readonly Caller OpenCaller = new("default", IsAdmin: true);
    private readonly List<ApiKeyOptions> _keys = options.Value.ApiKeys;

    public bool IsOpen => _keys.Count == 0;

    /// <summary>The caller of <paramref name="context"/>, or <c>null</c> when keys are required and none matches.</summary>
    public Caller? Authenticate(HttpContext context)
    {
        if (IsOpen)
            return OpenCaller;
        string? presented = context.Request.Headers[Header].FirstOrDefault();
        string? authorization = context.Request.Headers.Authorization.FirstOrDefault();
        if (presented is null && authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            presented = authorization["Bearer ".Length..].Trim();
        if (string.IsNullOrEmpty(presented))
            return null;
        var bytes = Encoding.UTF8.GetBytes(presented);
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(bytes, Encoding.UTF8.GetBytes(key.Key)))
                return new Caller(key.Tenant, key.Admin);
        }
        return null;
    }
}
