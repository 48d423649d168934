namespace OrleansQueue.Contracts;

/// <summary>
/// A typed refusal of the API, rendered as RFC 7807 problem details over HTTP and as a "problem" object over
/// the WebSocket. <see cref="Type"/> is a stable URN per kind; <see cref="Field"/> names the input at fault.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.Problem")]
public sealed record Problem([property: Id(0)] int Status, [property: Id(1)] string Type, [property: Id(2)] string Title, [property: Id(3)] string Detail,
    [property: Id(4)] string? Field = null, [property: Id(5)] TimeSpan? RetryAfter = null)
{
    private const string Prefix = "urn:orleansqueue:problem:";

    public static Problem Invalid(string field, string detail) =>
        new(400, Prefix + "invalid-request", "The request is invalid.", detail, field);

    public static Problem InvalidJson(string? field, string detail) =>
        new(400, Prefix + "invalid-json", "The request body is not valid JSON for this operation.", detail, field);

    public static Problem NotJson(string contentType) =>
        new(415, Prefix + "unsupported-media-type", "The request body must be JSON.",
            $"The body is sent as \"{contentType}\"; send it as application/json.", "Content-Type");

    public static Problem IncompleteBody() =>
        new(400, Prefix + "incomplete-body", "The request body ended early.",
            "The connection ended before the whole body arrived (less than its Content-Length); nothing was done.", "body");

    public static Problem TooLarge(int limit) =>
        new(413, Prefix + "body-too-large", "The request body is too large.", $"The body exceeds the limit of {limit} bytes.");

    public static Problem UnknownResource(string resource) =>
        new(404, Prefix + "unknown-resource", "No such resource.",
            $"Resource \"{resource}\" does not exist; an administrator creates it with PUT /v1/resources/{resource}.", "resource");

    public static Problem UnknownRequest(string resource, long id) =>
        new(404, Prefix + "unknown-request", "No such request.", $"Resource \"{resource}\" has no live request {id} of yours.", "id");

    public static Problem Ended(string resource, long id, string phase) =>
        new(410, Prefix + "request-ended", "The request has ended.", $"Request {id} on resource \"{resource}\" has ended: {phase}.", "id");

    public static Problem NotGranted(string resource, long id) =>
        new(409, Prefix + "not-granted", "The request is still waiting.",
            $"Request {id} on resource \"{resource}\" is waiting, not granted; cancel it with DELETE instead.", "id");

    public static Problem PollingOnly(string resource) =>
        new(409, Prefix + "push-disabled", "The resource does not push.",
            $"Resource \"{resource}\" is polling-only: poll GET /v1/resources/{resource}/requests/{{id}} or long-poll its /wait.");

    public static Problem Unauthorized() =>
        new(401, Prefix + "unauthorized", "An API key is required.", $"Send a valid key in the X-Api-Key header or as a bearer token.");

    public static Problem TooManyStreams(int limit) =>
        new(429, Prefix + "too-many-streams", "Too many open streams.",
            $"This tenant has {limit} WebSocket sessions and event streams open on this silo, its limit (Silo:MaxStreamsPerTenant); close one, or share one WebSocket session between many requests.",
            RetryAfter: TimeSpan.FromSeconds(1));

    public static Problem KeyInUrl(string parameter) =>
        new(400, Prefix + "api-key-in-url", "API keys are not accepted in the URL.",
            $"The query parameter \"{parameter}\" would leave the key in proxies' and servers' logs; send it in the X-Api-Key header or as Authorization: Bearer.", parameter);

    public static Problem Forbidden() =>
        new(403, Prefix + "forbidden", "Only an admin key may do this.", "Creating, changing and deleting resources needs an API key marked Admin.");

    public static Problem Unavailable(string detail) =>
        new(503, Prefix + "unavailable", "The silo cannot serve this now.", detail, RetryAfter: TimeSpan.FromSeconds(1));

    /// <summary>The resource is moving between silos (another activation owns it now): nothing took effect; retry shortly.</summary>
    public static Problem Moved(string detail) =>
        new(503, Prefix + "moved", "The resource is moving to another silo.", detail, RetryAfter: TimeSpan.FromMilliseconds(200));

    /// <summary>The grain could not be reached or could not commit: nothing took effect; retry shortly.</summary>
    public static Problem StoreFailed(string resource) =>
        Unavailable($"The store could not be reached for resource \"{resource}\"; the operation did not take effect and can be retried.");

    /// <summary>The store did not confirm a commit (it timed out or failed on the way): a write the store never answered may
    /// still have landed. Nothing of it was announced; a retry (with the same idempotency key) answers what happened.</summary>
    public static Problem CommitUncertain(string resource) =>
        Unavailable($"The store did not confirm the commit of resource \"{resource}\": the operation may or may not have taken effect. " +
            "Retry it (acquires and releases with the same idempotency key); the answer says where the request stands.");

    public static Problem UnknownJob(string resource, long id) =>
        new(404, Prefix + "unknown-job", "No such job.", $"Resource \"{resource}\" has no job {id} of yours (finished jobs are kept for the resource's JobRetention).", "id");

    public static Problem JobFinished(string resource, long id) =>
        new(410, Prefix + "job-finished", "The job has finished.", $"Job {id} on resource \"{resource}\" has finished and takes no more reports.", "id");

    public static Problem JobRunning(string resource, long id) =>
        new(409, Prefix + "job-running", "The job is running.", $"Job {id} on resource \"{resource}\" is running and cannot be cancelled.", "id");

    public static Problem NotYourJob(string resource, long id, string workerId) =>
        new(409, Prefix + "not-your-job", "The job is not running for this worker.",
            $"Job {id} on resource \"{resource}\" is not running for worker \"{workerId}\": its visibility timeout passed and it went back to the queue, or another worker has it.", "workerId");

    public static Problem OutputFull(string resource, long id, long limit) =>
        new(413, Prefix + "output-full", "The job's output is full.",
            $"Job {id} on resource \"{resource}\" may have at most {limit} bytes of output (its policy's jobMaxOutputBytes); this append would pass it, and nothing was appended.", "text");

    public static Problem OutputConflict(string resource, long id, long length) =>
        new(409, Prefix + "output-conflict", "The output does not end at that offset.",
            $"Job {id} on resource \"{resource}\" has {length} bytes of output, and the text at the offset given is not this one; append at offset {length}, or without an offset.", "offset");

    /// <summary>A refusal made before any endpoint ran: no route matched, the method is not taken, a path or query value did not bind.</summary>
    public static Problem NoUpstream(string resource) =>
        new(404, Prefix + "no-upstream", "The resource has no upstream to proxy to.",
            $"Resource {resource} names no upstream: set its policy's upstream (baseUrl, provider, keySetting) to proxy calls to it.", "resource");

    public static Problem UpstreamFailed(string resource, string reason) =>
        new(502, Prefix + "upstream-failed", "The upstream could not be reached.", $"The upstream of {resource} failed: {reason}.");

    public static Problem UriTooLong(int length, int limit) =>
        new(414, Prefix + "uri-too-long", "The URL is too long.", $"The path and query are {length} bytes; the limit is {limit}.", "url");

    public static Problem HeadersTooLarge(string detail) =>
        new(431, Prefix + "headers-too-large", "The request headers are too large.", detail, "headers");

    /// <param name="prefix">Where the gateway is mounted ("" at the root): the places the answer points to are under it.</param>
    public static Problem BareRefusal(int status, string method, string path, string prefix = "") => status switch
    {
        404 when path == prefix + "/" || path == prefix => new(404, Prefix + "not-found", "Nothing is here.",
            $"The dashboard is at {prefix}/dashboard; the API is under {prefix}/v1 (GET {prefix}/v1/resources lists the resources)."),
        404 => new(404, Prefix + "not-found", "Nothing is here.",
            $"No endpoint answers {method} {path} (an id in the path must be a number); the API is under {prefix}/v1."),
        405 => new(405, Prefix + "method-not-allowed", "The method is not allowed here.",
            $"{path} does not take {method}."),
        400 => new(400, Prefix + "invalid-request", "The request is invalid.",
            $"A value in the path or query of {path} does not parse (numbers are digits only)."),
        _ => new(status, Prefix + "refused", "The request was refused.", $"{method} {path} was refused with HTTP {status}."),
    };

    /// <summary>A request refused by the resource's rules (<paramref name="field"/> as the scheduler names it: maxWait is
    /// the wire's maxWaitMs).</summary>
    public static Problem Refused(RejectionReason reason, string message, TimeSpan? retryAfter = null, string? field = null) => reason switch
    {
        RejectionReason.QueueFull => new(429, Prefix + "queue-full", "The resource's waitlist is full.", message, null, retryAfter),
        RejectionReason.ClientQuotaExceeded => new(429, Prefix + "client-quota", "The client has too many requests waiting.", message, "clientId", retryAfter),
        RejectionReason.TenantQuotaExceeded => new(429, Prefix + "tenant-quota", "The tenant has too many requests waiting.", message, null, retryAfter),
        RejectionReason.TimedOut => new(429, Prefix + "timed-out", "The request was not granted in time.", message, "maxWaitMs", retryAfter),
        RejectionReason.InvalidLoad => new(400, Prefix + "invalid-load", "The load is invalid for this resource.", message, field ?? "load"),
        RejectionReason.UnknownResource => new(404, Prefix + "unknown-resource", "No such resource.", message, "resource"),
        RejectionReason.ResourceDeleted => new(410, Prefix + "resource-deleted", "The resource was deleted.", message, "resource"),
        _ => new(400, Prefix + "invalid-request", "The request is invalid.", message, field == "maxWait" ? "maxWaitMs" : field),
    };
}
