using System.Globalization;
using System.Text.Json;

namespace OrleansQueue.Silo.Gateway;

/// <summary>Turns gateway outcomes into HTTP responses: JSON values, or RFC 7807 problem details with Retry-After.</summary>
public static class HttpResults
{
    public static IResult From<T>(Outcome<T> outcome) =>
        outcome.Problem is { } problem ? new ProblemResult(problem) : Results.Json(outcome.Value, ApiJson.Options, statusCode: outcome.Status);

    public static IResult Problem(Problem problem) => new ProblemResult(problem);

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
