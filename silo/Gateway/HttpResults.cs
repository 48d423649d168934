using System.Globalization;
using System.Text.Json;

namespace OrleansQueue.Silo.Gateway;

/// <summary>Turns gateway outcomes into HTTP responses: JSON values, or RFC 7807 problem details with Retry-After.</summary>
public static class HttpResults
{
    public static IResult From<T>(Outcome<T> outcome) =>
        outcome.Problem is { } problem ? new ProblemResult(problem) : Results.Json(outcome.Value, ApiJson.Options, statusCode: outcome.Status);

    public static IResult Problem(Problem problem) => new ProblemResult(problem);

    /// <summary>
    /// A refusal that ASP.NET made before any endpoint ran (no route matched, the method is not allowed, a route or query
    /// value did not bind) would go out with an empty body: it gets a problem like every other refusal.
    /// </summary>
    public static async Task ProblemForBareRefusal(Microsoft.AspNetCore.Diagnostics.StatusCodeContext status)
    {
        var context = status.HttpContext;
        var problem = OrleansQueue.Contracts.Problem.BareRefusal(context.Response.StatusCode, context.Request.Method, context.Request.Path.Value ?? "/");
        await new ProblemResult(problem).ExecuteAsync(context);
    }

    private sealed class ProblemResult(Problem problem) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = problem.Status;
            if (problem.RetryAfter is { } retry)
                context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            context.Response.ContentType = "application/problem+json";
            var body = WireJson.Body(problem);
            body["instance"] = context.Request.Path.Value;
            await JsonSerializer.SerializeAsync(context.Response.Body, body, ApiJson.Options, context.RequestAborted);
        }
    }
}
