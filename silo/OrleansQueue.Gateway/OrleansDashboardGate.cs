using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OrleansQueue.Gateway;

/// <summary>
/// Orleans' own dashboard (under <see cref="Path"/>) has no authentication of its own: this admits only an admin key, in
/// the header, or the short-lived cookie that <c>POST /v1/dashboard/session</c> gives an admin (a browser cannot put a
/// header on a page it navigates to). The cookie is signed with a key this silo draws at start, lives
/// <see cref="Lifetime"/>, is sent only to <see cref="Path"/>, and is invisible to scripts.
/// </summary>
internal sealed class OrleansDashboardGate(ApiKeyAuthenticator keys, TimeProvider time)
{
    public const string Path = "/orleans";
    public const string CookieName = "oq-orleans";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);
    private readonly byte[] _secret = RandomNumberGenerator.GetBytes(32);

    public void IssueCookie(HttpContext context)
    {
        var expires = time.GetUtcNow() + Lifetime;
        string payload = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        context.Response.Cookies.Append(CookieName, payload + "." + Sign(payload), new CookieOptions
        {
            Path = Path,
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Expires = expires,
        });
    }

    /// <summary>Whether the request may see Orleans' dashboard: an admin key, or a cookie this silo signed that has not expired.</summary>
    public bool Admits(HttpContext context)
    {
        if (keys.Authenticate(context) is { IsAdmin: true })
            return true;
        if (context.Request.Cookies[CookieName] is not { } cookie || cookie.Split('.') is not [var payload, var signature])
            return false;
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(payload)), Encoding.ASCII.GetBytes(signature)))
            return false;
        return long.TryParse(payload, NumberStyles.None, CultureInfo.InvariantCulture, out long expires)
            && time.GetUtcNow().ToUnixTimeSeconds() < expires;
    }

    private string Sign(string payload) => Convert.ToHexString(HMACSHA256.HashData(_secret, Encoding.ASCII.GetBytes(payload)));
}
