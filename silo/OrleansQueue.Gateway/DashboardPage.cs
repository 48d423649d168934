using System.Collections.Frozen;

namespace OrleansQueue.Gateway;

/// <summary>
/// The dashboard's page, served from the silo's own assembly (no CDN, nothing fetched at run time): GET /dashboard and
/// its script and stylesheet. The page needs no key to load; it asks for one and sends it as a header on every call.
/// </summary>
internal static class DashboardPage
{
    private static readonly FrozenDictionary<string, (byte[] Body, string Type)> Files = new[]
    {
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    }.ToFrozenDictionary(f => f.Item1, f => (Read(f.Item1), f.Item2));

    /// <param name="prefix">Where the gateway is mounted (the page finds the API beside it).</param>
    public static IEndpointRouteBuilder MapDashboardPage(this IEndpointRouteBuilder root, string prefix)
    {
        root.MapGet("/dashboard", (HttpContext context) => Serve(context, "index.html", prefix)).ExcludeFromDescription();
        root.MapGet("/dashboard/{file}", (string file, HttpContext context) => Serve(context, file, prefix)).ExcludeFromDescription();
        return root;
    }

    private static IResult Serve(HttpContext context, string file, string prefix)
    {
        if (!Files.TryGetValue(file, out var found))
            return HttpResults.Problem(Problem.BareRefusal(404, context.Request.Method, context.Request.Path.Value ?? "/", prefix));
        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";
        return Results.Bytes(found.Body, found.Type);
    }

    private static byte[] Read(string name)
    {
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream("dashboard/" + name)
            ?? throw new InvalidOperationException($"The dashboard's {name} is not embedded in the silo.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
