using System.Text.Json;

namespace OrleansQueue.Contracts;

/// <summary>The operations of the WebSocket protocol (<c>op</c> of a <see cref="SocketRequest"/>).</summary>
public static class SocketOps
{
    public const string Acquire = "acquire", Status = "status", Release = "release", Report = "report", Renew = "renew",
        Claim = "claim", Cancel = "cancel", Attach = "attach", EnqueueJob = "enqueueJob", Job = "job", WatchJob = "watchJob",
        CancelJob = "cancelJob", Ping = "ping";
}

/// <summary>The kinds of message the gateway sends on the WebSocket (<c>type</c> of a <see cref="SocketMessage"/>).</summary>
public static class SocketMessageTypes
{
    /// <summary>The answer to one request, with its <c>corr</c>.</summary>
    public const string Reply = "reply";

    /// <summary>A pushed change of a followed request.</summary>
    public const string Update = "update";

    /// <summary>A pushed change of a watched job.</summary>
    public const string Job = "job";
}

/// <summary>
/// One operation sent on the WebSocket (<c>GET /v1/ws</c>): <see cref="Op"/> names it (<see cref="SocketOps"/>), and
/// <see cref="Corr"/> comes back on its reply. The other fields are the operation's, as in the HTTP API's bodies.
/// </summary>
public sealed record SocketRequest(
    string Op,
    long Corr = 0,
    string? Resource = null,
    long? Id = null,
    long[]? Ids = null,
    string? ClientId = null,
    long? Load = null,
    Priority? Priority = null,
    long? MaxWaitMs = null,
    long? ActualLoad = null,
    string? IdempotencyKey = null,
    JsonElement? Payload = null,
    long? DeadlineMs = null,
    UpstreamBody? Upstream = null,
    string? Traceparent = null,
    string? Tracestate = null);

/// <summary>
/// One message from the gateway on the WebSocket: a reply (<see cref="SocketMessageTypes.Reply"/>: a request, a job, the
/// results of an attach, or a problem), or a push (<see cref="SocketMessageTypes.Update"/> with a request,
/// <see cref="SocketMessageTypes.Job"/> with a job).
/// </summary>
public sealed record SocketMessage(
    string Type,
    long? Corr = null,
    RequestView? Request = null,
    JobView? Job = null,
    ProblemBody? Problem = null,
    IReadOnlyList<SocketResult>? Results = null)
{
    public static SocketMessage Reply(long corr, Outcome<RequestView> outcome) =>
        new(SocketMessageTypes.Reply, corr, Request: outcome.Value, Problem: ProblemBody.Of(outcome.Problem));

    public static SocketMessage Reply(long corr, Outcome<JobView> outcome) =>
        new(SocketMessageTypes.Reply, corr, Job: outcome.Value, Problem: ProblemBody.Of(outcome.Problem));

    public static SocketMessage Refusal(long corr, Problem problem) => new(SocketMessageTypes.Reply, corr, Problem: ProblemBody.Of(problem));
}

/// <summary>What an attach answers for each of its requests: the request, or the problem.</summary>
public sealed record SocketResult(RequestView? Request = null, ProblemBody? Problem = null)
{
    public static SocketResult Of(Outcome<RequestView> outcome) => new(outcome.Value, ProblemBody.Of(outcome.Problem));
}

/// <summary>A problem as JSON carries it, on HTTP (RFC 7807, <c>application/problem+json</c>, with the path as its
/// <see cref="Instance"/>) and on the WebSocket alike.</summary>
public sealed record ProblemBody(string Type, string Title, int Status, string Detail, string? Field = null, long? RetryAfterMs = null,
    string? Instance = null)
{
    public static ProblemBody? Of(Problem? problem) => problem is null ? null : new(problem.Type, problem.Title, problem.Status, problem.Detail,
        problem.Field, problem.RetryAfter is { } retry ? (long)Math.Ceiling(retry.TotalMilliseconds) : null);
}
