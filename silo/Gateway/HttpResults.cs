using System.Globalization;
using System.Text.Json;

namespace OrleansQueue.Silo.Gateway;

/// <summary>Turns gateway outcomes into HTTP responses: JSON values, or RFC 7807 problem details with Retry-After.</summary>
public static class HttpResults
{
    public static IResult From<T>(Outcome<T> outcome) =>
        outcome.Problem is { } problem ? new ProblemResult(problem) : Results.Json(outcome.Value, ApiJson.Options, statusCode: outcome.Status);

    public static IResult Problem(Problem problem) => new ProblemResult(problem);

    /// <summary>The problem as the JSON object both HTTP and WebSocket answers carry.</summary>
    public static Dictionary<string, object?> Body(Problem problem)
    {
        var body = new Dictionary<string, object?>
        {
            ["type"] = problem.Type,
            ["title"] = problem.Title,
            ["status"] = problem.Status,
            ["detail"] = problem.Detail,
        };
        if (problem.Field is not null)
            body["field"] = problem.Field;
        if (problem.RetryAfter is { } retry)
            body["retryAfterMs"] = (long)Math.Ceiling(retry.TotalMilliseconds);
        return body;
    }

    private sealed class ProblemResult(Problem problem) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = problem.Status;
            if (problem.RetryAfter is { } retry)
                context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            context.Response.ContentType = "application/problem+json";
            var body = Body(problem);
            body["instance"] = context.Request.Path.Value;
            await JsonSerializer.SerializeAsync(context.Response.Body, body, ApiJson.Options, context.RequestAborted);
        }
    }
}
