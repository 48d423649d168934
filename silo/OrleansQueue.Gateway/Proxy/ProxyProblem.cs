using System.Globalization;
using System.Text.Json;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>
/// A refusal of the proxy: the API's problem (RFC 7807, with its stable type), and beside it the <c>error</c> object the
/// provider SDKs read (<c>message</c>, <c>type</c>, <c>code</c>), so that an OpenAI SDK raises its own typed exception
/// (a rate-limit error for a 429, a bad-request error for a 400).
/// </summary>
internal static class ProxyProblem
{
    public static async Task WriteAsync(HttpContext context, Problem problem)
    {
        var response = context.Response;
        response.StatusCode = problem.Status;
        if (problem.RetryAfter is { } retry)
            response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        response.ContentType = "application/problem+json";
        var body = ProblemBody.Of(problem)! with { Instance = context.Request.Path.Value };
        var json = JsonSerializer.SerializeToNode(body, ApiJson.Options)!.AsObject();
        json["error"] = new System.Text.Json.Nodes.JsonObject
        {
            ["message"] = problem.Detail,
            ["type"] = problem.Status switch { 429 => "rate_limit_exceeded", 401 => "authentication_error", 404 => "not_found_error", >= 500 => "api_error", _ => "invalid_request_error" },
            ["code"] = problem.Type[(problem.Type.LastIndexOf(':') + 1)..],
            ["param"] = problem.Field,
        };
        await response.WriteAsync(json.ToJsonString(ApiJson.Options), context.RequestAborted);
    }
}
