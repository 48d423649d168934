using OrleansQueue.Contracts;

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

    /// <summary>The typed exception for a problem object of the API (its type's error in <see cref="ProblemTypes"/>).</summary>
    internal static OrleansQueueException FromProblem(ProblemBody problem) =>
        ProblemTypes.Create(problem.Type ?? "", problem.Status == 0 ? 500 : problem.Status, problem.Detail ?? problem.Type ?? "", problem.Field,
            problem.RetryAfterMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null);
}

/// <summary>The resource's waitlist is full.</summary>
public sealed class QueueFullException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The client, or its tenant, has too many requests waiting (client-quota, tenant-quota).</summary>
public sealed class ClientQuotaExceededException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The request was not granted within its maximum wait.</summary>
public sealed class AcquireTimeoutException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The load is not positive, or can never fit the resource's policy.</summary>
public sealed class InvalidLoadException(string type, int status, string detail, string? field, TimeSpan? retry) : InvalidRequestException(type, status, detail, field, retry);

/// <summary>No resource of that name exists.</summary>
public sealed class UnknownResourceException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The resource was deleted while the request waited.</summary>
public sealed class ResourceDeletedException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The lease or grant is gone: it expired, was reclaimed, or the request ended otherwise.</summary>
public class LeaseLostException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The API key is missing, wrong, or not allowed to do this.</summary>
public class OrleansQueueAccessException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>A request the silo does not know (never issued, or ended long enough ago to be forgotten), or not of this caller.</summary>
public sealed class UnknownRequestException(string type, int status, string detail, string? field, TimeSpan? retry) : LeaseLostException(type, status, detail, field, retry);

/// <summary>The request broke a rule of the API; <see cref="OrleansQueueException.Field"/> names the input at fault.</summary>
public class InvalidRequestException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>No API key, or one the silo does not know.</summary>
public sealed class UnauthorizedException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueAccessException(type, status, detail, field, retry);

/// <summary>The key may not do this (an admin's call, another tenant's request).</summary>
public sealed class ForbiddenException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueAccessException(type, status, detail, field, retry);

/// <summary>The silo cannot serve this now, or the resource is moving between silos: safe to retry (the client does by itself).</summary>
public sealed class UnavailableException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The resource is polling-only: nothing is pushed (the client polls by itself).</summary>
public sealed class PushDisabledException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>No job of that id of yours; finished jobs are kept for the resource's retention.</summary>
public sealed class UnknownJobException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The job has finished and takes no more reports.</summary>
public sealed class JobFinishedException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The job is running and cannot be cancelled.</summary>
public sealed class JobRunningException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>An append would take the job's output past its resource's <c>jobMaxOutputBytes</c>; nothing was appended.</summary>
public sealed class OutputFullException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The job's output does not end at the offset the worker gave, and the text there is not the one appended: another
/// attempt of the job, or the worker's own count, went astray.</summary>
public sealed class OutputConflictException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);

/// <summary>The job is not running for this worker: its visibility timeout passed and it went back to the queue, or another worker has it.</summary>
public sealed class NotYourJobException(string type, int status, string detail, string? field, TimeSpan? retry) : OrleansQueueException(type, status, detail, field, retry);
