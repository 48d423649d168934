using System.Text.Json;

namespace OrleansQueue.Client;

/// <summary>A refusal by the silo, with its problem type, HTTP status, the field at fault and when to retry.</summary>
public class OrleansQueueException : Exception
{
    public OrleansQueueException(string type, int status, string detail, string? field = null, TimeSpan? retryAfter = null, Exception? inner = null)
        : base(detail, inner)
    {
        Type = type;
        Status = status;
        Field = field;
        RetryAfter = retryAfter;
    }

    /// <summary>The problem type, e.g. urn:orleansqueue:problem:queue-full.</summary>
    public string Type { get; }

    /// <summary>The HTTP status the silo would answer.</summary>
    public int Status { get; }

    /// <summary>The input at fault, when one is.</summary>
    public string? Field { get; }

    /// <summary>When a retry could succeed, when the silo knows.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The typed exception for a problem object of the API.</summary>
    internal static OrleansQueueException FromProblem(JsonElement problem)
    {
        string type = problem.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        int status = problem.TryGetProperty("status", out var s) ? s.GetInt32() : 500;
        string detail = problem.TryGetProperty("detail", out var d) ? d.GetString() ?? type : type;
        string? field = problem.TryGetProperty("field", out var f) ? f.GetString() : null;
        TimeSpan? retry = problem.TryGetProperty("retryAfterMs", out var r) ? TimeSpan.FromMilliseconds(r.GetInt64()) : null;
        return type[(type.LastIndexOf(':') + 1)..] switch
        {
            "queue-full" => new QueueFullException(type, status, detail, field, retry),
            "client-quota" or "tenant-quota" => new ClientQuotaExceededException(type, status, detail, field, retry),
            "timed-out" => new AcquireTimeoutException(type, status, detail, field, retry),
            "invalid-load" => new InvalidLoadException(type, status, detail, field, retry),
            "unknown-resource" => new UnknownResourceException(type, status, detail, field, retry),
            "resource-deleted" => new ResourceDeletedException(type, status, detail, field, retry),
            "request-ended" or "unknown-request" => new LeaseLostException(type, status, detail, field, retry),
            "unauthorized" or "forbidden" => new OrleansQueueAccessException(type, status, detail, field, retry),
            _ => new OrleansQueueException(type, status, detail, field, retry),
        };
    }
}

/// <summary>The resource's waitlist is full.</summary>
public sealed class QueueFullException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The client, or its tenant, has too many requests waiting (client-quota, tenant-quota).</summary>
public sealed class ClientQuotaExceededException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The request was not granted within its maximum wait.</summary>
public sealed class AcquireTimeoutException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The load is not positive, or can never fit the resource's policy.</summary>
public sealed class InvalidLoadException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>No resource of that name exists.</summary>
public sealed class UnknownResourceException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The resource was deleted while the request waited.</summary>
public sealed class ResourceDeletedException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The lease or grant is gone: it expired, was reclaimed, or the request ended otherwise.</summary>
public sealed class LeaseLostException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The API key is missing, wrong, or not allowed to do this.</summary>
public sealed class OrleansQueueAccessException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);
