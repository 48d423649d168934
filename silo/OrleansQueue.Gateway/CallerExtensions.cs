namespace OrleansQueue.Gateway;

internal static class CallerExtensions
{
    private const string Key = "OrleansQueue.Caller";

    /// <summary>The authenticated caller of a /v1 request (set by the group's filter).</summary>
    public static Caller Caller(this HttpContext context) =>
        context.Items[Key] as Caller ?? throw new InvalidOperationException("The request was not authenticated.");

    /// <summary>Authenticates every endpoint of the group: 401 problem without a valid key.</summary>
    public static RouteGroupBuilder RequireApiKey(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (invocation, next) =>
        {
            var context = invocation.HttpContext;
            // A key in the URL ends up in proxies' and servers' logs: refused, even where no key is needed.
            if (context.Request.Query.Keys.FirstOrDefault(k => k.Replace("_", "").Replace("-", "").Equals("apikey", StringComparison.OrdinalIgnoreCase)) is { } inUrl)
                return HttpResults.Problem(Problem.KeyInUrl(inUrl));
            var caller = context.RequestServices.GetRequiredService<ApiKeyAuthenticator>().Authenticate(context);
            if (caller is null)
                return HttpResults.Problem(Problem.Unauthorized());
            context.Items[Key] = caller;
            return await next(invocation);
        });
        return group;
    }
}
