using System.Text.Json;

namespace OrleansQueue.Client;

/// <summary>
/// The one table of problem types (problem_types.json, shipped by the Python SDK too, embedded here): each type the silo
/// answers names its HTTP status and an error, which this SDK raises as its exception class; a request that left the
/// waitlist without a lease (its state, and its reason when rejected) is raised as a problem type of the table too.
/// </summary>
public static class ProblemTypes
{
    private const string Prefix = "urn:orleansqueue:problem:";

    private static readonly Lazy<(Dictionary<string, (int Status, string Error, string? Field)> Types, Dictionary<string, string> Endings)> Table = new(Load);

    /// <summary>This SDK's exception for each error of the table.</summary>
    private static readonly Dictionary<string, Func<string, int, string, string?, TimeSpan?, OrleansQueueException>> Exceptions = new(StringComparer.Ordinal)
    {
        ["QueueFull"] = (t, s, d, f, r) => new QueueFullException(t, s, d, f, r),
        ["ClientQuotaExceeded"] = (t, s, d, f, r) => new ClientQuotaExceededException(t, s, d, f, r),
        ["TimedOut"] = (t, s, d, f, r) => new AcquireTimeoutException(t, s, d, f, r),
        ["InvalidLoad"] = (t, s, d, f, r) => new InvalidLoadException(t, s, d, f, r),
        ["InvalidRequest"] = (t, s, d, f, r) => new InvalidRequestException(t, s, d, f, r),
        ["UnknownResource"] = (t, s, d, f, r) => new UnknownResourceException(t, s, d, f, r),
        ["ResourceDeleted"] = (t, s, d, f, r) => new ResourceDeletedException(t, s, d, f, r),
        ["UnknownRequest"] = (t, s, d, f, r) => new UnknownRequestException(t, s, d, f, r),
        ["RequestEnded"] = (t, s, d, f, r) => new LeaseLostException(t, s, d, f, r),
        ["Unauthorized"] = (t, s, d, f, r) => new UnauthorizedException(t, s, d, f, r),
        ["Forbidden"] = (t, s, d, f, r) => new ForbiddenException(t, s, d, f, r),
        ["Unavailable"] = (t, s, d, f, r) => new UnavailableException(t, s, d, f, r),
        ["PushDisabled"] = (t, s, d, f, r) => new PushDisabledException(t, s, d, f, r),
        ["UnknownJob"] = (t, s, d, f, r) => new UnknownJobException(t, s, d, f, r),
        ["JobFinished"] = (t, s, d, f, r) => new JobFinishedException(t, s, d, f, r),
        ["JobRunning"] = (t, s, d, f, r) => new JobRunningException(t, s, d, f, r),
        ["NotYourJob"] = (t, s, d, f, r) => new NotYourJobException(t, s, d, f, r),
        ["OutputFull"] = (t, s, d, f, r) => new OutputFullException(t, s, d, f, r),
        ["OutputConflict"] = (t, s, d, f, r) => new OutputConflictException(t, s, d, f, r),
    };

    /// <summary>The problem types of the table (without the urn prefix), with their errors.</summary>
    public static IReadOnlyDictionary<string, string> Errors => Table.Value.Types.ToDictionary(t => t.Key, t => t.Value.Error);

    /// <summary>The problem types of the table, with the HTTP status the silo answers them with.</summary>
    public static IReadOnlyDictionary<string, int> Statuses => Table.Value.Types.ToDictionary(t => t.Key, t => t.Value.Status);

    /// <summary>The errors this SDK has an exception class for.</summary>
    public static IReadOnlyCollection<string> KnownErrors => Exceptions.Keys;

    /// <summary>The exception for a problem of type <paramref name="type"/>; an unknown type gives the base class.</summary>
    public static OrleansQueueException Create(string type, int status, string detail, string? field = null, TimeSpan? retryAfter = null)
    {
        string name = type.StartsWith(Prefix, StringComparison.Ordinal) ? type[Prefix.Length..] : type;
        return Table.Value.Types.TryGetValue(name, out var entry) && Exceptions.TryGetValue(entry.Error, out var create)
            ? create(type, status, detail, field, retryAfter)
            : new OrleansQueueException(type, status, detail, field, retryAfter);
    }

    /// <summary>The exception for a request that left the waitlist as <paramref name="state"/> (with <paramref name="reason"/>
    /// when rejected) without a lease.</summary>
    public static OrleansQueueException Ended(string state, string? reason, string detail)
    {
        var endings = Table.Value.Endings;
        string type = endings.GetValueOrDefault(reason is null ? state : $"{state}/{reason}") ?? endings.GetValueOrDefault(state) ?? endings["*"];
        var (status, _, field) = Table.Value.Types[type];
        return Create(Prefix + type, status, detail, field);
    }

    /// <summary>The exception for a request that left the waitlist as <paramref name="state"/> without a lease: the table is
    /// keyed by the wire's names of the phase and the reason.</summary>
    internal static OrleansQueueException Ended(OrleansQueue.Contracts.RequestPhase state, OrleansQueue.Contracts.RejectionReason? reason, string detail) =>
        Ended(WireName(state), reason is { } r ? WireName(r) : null, detail);

    private static string WireName<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    private static (Dictionary<string, (int, string, string?)>, Dictionary<string, string>) Load()
    {
        using var stream = typeof(ProblemTypes).Assembly.GetManifestResourceStream("OrleansQueue.Client.problem_types.json")
            ?? throw new InvalidOperationException("problem_types.json is not embedded in OrleansQueue.Client.");
        using var document = JsonDocument.Parse(stream);
        var types = document.RootElement.GetProperty("types").EnumerateObject()
            .ToDictionary(p => p.Name, p => (p.Value.GetProperty("status").GetInt32(), p.Value.GetProperty("error").GetString()!,
                p.Value.TryGetProperty("field", out var field) ? field.GetString() : null), StringComparer.Ordinal);
        var endings = document.RootElement.GetProperty("endings").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
        return (types, endings);
    }
}
