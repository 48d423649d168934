using System.Globalization;
using System.Text.Json;

namespace OrleansQueue.Gateway;

/// <summary>Turns gateway outcomes into HTTP responses: JSON values, or RFC 7807 problem details with Retry-After.</summary>
internal static class HttpResults
{
    /// <summary>The value as JSON with 200, or <paramref name="status"/>'s choice for it (202 for what was accepted to wait), or the problem.</summary>
    public static IResult From<T>(Outcome<T> outcome, Func<T, int>? status = null) =>
        outcome.Problem is { } problem ? new ProblemResult(problem)
            : Results.Json(outcome.Value, ApiJson.Options, statusCode: status is not null && outcome.Value is { } value ? status(value) : 200);

    /// <summary>A ticket still waiting was accepted, not served: 202; a lease (or any other state) 200.</summary>
    public static int Accepted(RequestView view) => view.State == RequestPhase.Waiting ? 202 : 200;

    public static IResult Problem(Problem problem) => new ProblemResult(problem);

    /// <summary>
    /// A refusal that ASP.NET made before any endpoint ran (no route matched, the method is not allowed, a route or query
    /// value did not bind) would go out with an empty body: it gets a problem like every other refusal.
    /// </summary>
    public static async Task ProblemForBareRefusal(Microsoft.AspNetCore.Diagnostics.StatusCodeContext status, string prefix)
    {
        var context = status.HttpContext;
        var problem = OrleansQueue.Contracts.Problem.BareRefusal(context.Response.StatusCode, context.Request.Method, context.Request.Path.Value ?? "/", prefix);
        await new ProblemResult(problem).ExecuteAsync(context);
    }

    /// <summary>
    /// Refuses a URL or headers over the silo's limits with a problem (414, 431). Kestrel's own limits sit well past these
    /// (<see cref="GatewayOptions.KestrelLineBytes"/>), so only a request far over them meets Kestrel's bare refusal.
    /// </summary>
    public static async Task RefuseOversizedRequests(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        int url = request.Path.Value?.Length ?? 0;
        url += request.PathBase.Value?.Length ?? 0;
        url += request.QueryString.Value?.Length ?? 0;
        if (url > GatewayOptions.MaxUrlBytes)
        {
            await new ProblemResult(OrleansQueue.Contracts.Problem.UriTooLong(url, GatewayOptions.MaxUrlBytes)).ExecuteAsync(context);
            return;
        }
        int count = 0, bytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (string? value in values)
            {
                count++;
                bytes += name.Length + (value?.Length ?? 0);
            }
        }
        if (count > GatewayOptions.MaxHeaderCount || bytes > GatewayOptions.MaxHeaderBytes)
        {
            await new ProblemResult(OrleansQueue.Contracts.Problem.HeadersTooLarge(
                $"The request has {count} headers of {bytes} bytes; the limits are {GatewayOptions.MaxHeaderCount} headers and {GatewayOptions.MaxHeaderBytes} bytes.")).ExecuteAsync(context);
            return;
        }
        await next(context);
    }

    private sealed class ProblemResult(Problem problem) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = problem.Status;
            if (problem.RetryAfter is { } retry)
                context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            context.Response.ContentType = "application/problem+json";
            var body = ProblemBody.Of(problem)! with { Instance = context.Request.Path.Value };
            await JsonSerializer.SerializeAsync(context.Response.Body, body, ApiJson.Options, context.RequestAborted);
        }
    }
}
