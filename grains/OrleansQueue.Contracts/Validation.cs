
namespace OrleansQueue.Contracts;

/// <summary>
/// The input rules of the operations that take a body, checked by the grain itself so that every way in (the HTTP gateway,
/// the WebSocket, an Orleans client calling the grain) gets the same typed problem naming the field and the rule.
/// </summary>
public static class Validation
{
    public const long MaxWaitMs = 86_400_000;

    /// <summary>The most jobs one take may ask for (the scheduler's own bound).</summary>
    public const int MaxJobsPerTake = 100;

    public static Problem? Of(AcquireBody body)
    {
        if (!Names.IsValidClient(body.ClientId ?? "default"))
            return Problem.Invalid("clientId", $"clientId must be {Names.ClientRule}.");
        if (body.MaxWaitMs is < 0 or > MaxWaitMs)
            return Problem.Invalid("maxWaitMs", $"maxWaitMs must be between 0 and {MaxWaitMs}; it is {body.MaxWaitMs}.");
        return IdempotencyKey(body.IdempotencyKey); // the load is the scheduler's to judge, against the policy
    }

    public static Problem? Of(ReleaseBody body)
    {
        if (body.ActualLoad is < 0 or > Limits.MaxLoad)
            return Problem.Invalid("actualLoad", $"actualLoad must be between 0 and {Limits.MaxLoad}; it is {body.ActualLoad}.");
        return (body.Upstream is { } upstream ? Of(upstream, "upstream.") : null) ?? IdempotencyKey(body.IdempotencyKey);
    }

    /// <summary>An upstream report: a real HTTP status, durations within a day, figures of -1 ("not said") or more.</summary>
    public static Problem? Of(UpstreamBody body, string prefix = "")
    {
        if (body.Status is < 100 or > 599)
            return Problem.Invalid(prefix + "status", $"{prefix}status must be an HTTP status from 100 to 599; it is {body.Status}.");
        if (body.RetryAfterMs is < 0 or > MaxWaitMs)
            return Problem.Invalid(prefix + "retryAfterMs", $"{prefix}retryAfterMs must be between 0 and {MaxWaitMs}; it is {body.RetryAfterMs}.");
        foreach (var (name, budget) in new[] { ("requests", body.Requests), ("load", body.Load) })
        {
            if (budget is null)
                continue;
            string field = prefix + name;
            if (budget.Limit is < -1 || budget.Remaining is < -1)
                return Problem.Invalid(field, $"{field}.limit and .remaining must be -1 (not said) or more; they are {budget.Limit} and {budget.Remaining}.");
            if (budget.ResetMs is < 0 or > MaxWaitMs)
                return Problem.Invalid(field + ".resetMs", $"{field}.resetMs must be between 0 and {MaxWaitMs}; it is {budget.ResetMs}.");
        }
        return null;
    }

    public static Problem? Of(EnqueueBody body)
    {
        if (body.Payload is not { } payload || payload.ValueKind == System.Text.Json.JsonValueKind.Undefined)
            return Problem.Invalid("payload", "payload is required: any JSON value the worker will receive.");
        if (!Names.IsValidClient(body.ClientId ?? "default"))
            return Problem.Invalid("clientId", $"clientId must be {Names.ClientRule}.");
        if (body.DeadlineMs is < 1 or > MaxWaitMs)
            return Problem.Invalid("deadlineMs", $"deadlineMs must be between 1 and {MaxWaitMs}; it is {body.DeadlineMs}.");
        return IdempotencyKey(body.IdempotencyKey);
    }

    /// <summary>A worker's take: only admins run workers (they see every tenant's payloads).</summary>
    public static Problem? OfTake(Caller caller, string workerId, int max)
    {
        if (!caller.IsAdmin)
            return Problem.Forbidden();
        if (!Names.IsValidClient(workerId))
            return Problem.Invalid("workerId", $"workerId must be {Names.ClientRule}.");
        return max is >= 1 and <= MaxJobsPerTake ? null
            : Problem.Invalid("max", $"max must be between 1 and {MaxJobsPerTake}; it is {max}.");
    }

    public static Problem? Of(Caller caller, WorkerReportKind kind, WorkerReport report)
    {
        if (!caller.IsAdmin)
            return Problem.Forbidden();
        if (report.WorkerId is not { } workerId || !Names.IsValidClient(workerId))
            return Problem.Invalid("workerId", $"workerId must be {Names.ClientRule}.");
        if (kind == WorkerReportKind.Progress && report.Progress is null)
            return Problem.Invalid("progress", "progress is required: a number, such as a fraction done.");
        if (kind == WorkerReportKind.Fail && string.IsNullOrWhiteSpace(report.Error))
            return Problem.Invalid("error", "error is required: what went wrong.");
        if (report.ActualLoad is < 0 or > Limits.MaxLoad)
            return Problem.Invalid("actualLoad", $"actualLoad must be between 0 and {Limits.MaxLoad}.");
        return report.Upstream is { } upstream ? Of(upstream, "upstream.") : null;
    }

    public static Problem? Of(Caller caller, OutputBody body)
    {
        if (!caller.IsAdmin)
            return Problem.Forbidden();
        if (body.WorkerId is not { } workerId || !Names.IsValidClient(workerId))
            return Problem.Invalid("workerId", $"workerId must be {Names.ClientRule}.");
        if (body.Text is null)
            return Problem.Invalid("text", "text is required: the output to append, a string.");
        return body.Offset is < 0 ? Problem.Invalid("offset", $"offset must be 0 or more: where the worker believes the output ends; it is {body.Offset}.") : null;
    }

    private static Problem? IdempotencyKey(string? key) =>
        key is { Length: 0 or > Limits.MaxIdempotencyKeyLength } || (key is not null && !Names.IsPrintable(key))
            ? Problem.Invalid("idempotencyKey", $"idempotencyKey must be 1 to {Limits.MaxIdempotencyKeyLength} printable characters (no control or invisible formatting characters).")
            : null;
}
