using OrleansQueue.Grains;

namespace OrleansQueue.Silo.Gateway;

/// <summary>
/// A typed refusal of the API, rendered as RFC 7807 problem details over HTTP and as a "problem" object over
/// the WebSocket. <see cref="Type"/> is a stable URN per kind; <see cref="Field"/> names the input at fault.
/// </summary>
public sealed record Problem(int Status, string Type, string Title, string Detail, string? Field = null, TimeSpan? RetryAfter = null)
{
    private const string Prefix = "urn:orleansqueue:problem:";

    public static Problem Invalid(string field, string detail) =>
        new(400, Prefix + "invalid-request", "The request is invalid.", detail, field);

    public static Problem InvalidJson(string? field, string detail) =>
        new(400, Prefix + "invalid-json", "The request body is not valid JSON for this operation.", detail, field);

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
        new(401, Prefix + "unauthorized", "An API key is required.", $"Send a valid key in the {ApiKeyAuthenticator.Header} header or as a bearer token.");

    public static Problem Forbidden() =>
        new(403, Prefix + "forbidden", "Only an admin key may do this.", "Creating, changing and deleting resources needs an API key marked Admin.");

    public static Problem Unavailable(string detail) =>
        new(503, Prefix + "unavailable", "The silo cannot serve this now.", detail, RetryAfter: TimeSpan.FromSeconds(1));

    /// <summary>The resource is moving between silos (or this silo lost the cluster): nothing took effect; retry shortly.</summary>
    public static Problem Moved(string detail) =>
        new(503, Prefix + "moved", "The resource is moving to another silo.", detail, RetryAfter: TimeSpan.FromMilliseconds(200));

    /// <summary>The problem for a call the runtime did not run.</summary>
    public static Problem From(string resource, Runtime.GrainCallException error) => error switch
    {
        Runtime.UnknownResourceException => UnknownResource(resource),
        Runtime.NotOwnerException or Runtime.SiloUnavailableException => Moved(error.Message),
        _ => Unavailable(error.Message),
    };

    public static Problem From(Rejection rejection) => rejection.Reason switch
    {
        RejectionReason.QueueFull => new(429, Prefix + "queue-full", "The resource's waitlist is full.", rejection.Message, null, rejection.RetryAfter),
        RejectionReason.ClientQuotaExceeded => new(429, Prefix + "client-quota", "The client has too many requests waiting.", rejection.Message, "clientId", rejection.RetryAfter),
        RejectionReason.TimedOut => new(429, Prefix + "timed-out", "The request was not granted in time.", rejection.Message, "maxWaitMs", rejection.RetryAfter),
        RejectionReason.InvalidLoad => new(400, Prefix + "invalid-load", "The load is invalid for this resource.", rejection.Message, rejection.Field ?? "load"),
        RejectionReason.UnknownResource => new(404, Prefix + "unknown-resource", "No such resource.", rejection.Message, "resource"),
        RejectionReason.ResourceDeleted => new(410, Prefix + "resource-deleted", "The resource was deleted.", rejection.Message, "resource"),
        _ => new(400, Prefix + "invalid-request", "The request is invalid.", rejection.Message, JsonField(rejection.Field)),
    };

    private static string? JsonField(string? field) => field == "maxWait" ? "maxWaitMs" : field;
}
