using System.Text.RegularExpressions;
using OrleansQueue.Client;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// The one table of problem types (client/python/orleansqueue/problem_types.json, which the Python SDK's tests check the same
/// way): every type the silo can answer is in it, and the .NET SDK raises, for each, the exception of the error the table
/// names; a request that ended without a lease is raised through the same table.
/// </summary>
public sealed partial class ProblemTypesTests
{
    private static readonly Dictionary<string, Type> ExceptionOfError = new()
    {
        ["QueueFull"] = typeof(QueueFullException),
        ["ClientQuotaExceeded"] = typeof(ClientQuotaExceededException),
        ["TimedOut"] = typeof(AcquireTimeoutException),
        ["InvalidLoad"] = typeof(InvalidLoadException),
        ["InvalidRequest"] = typeof(InvalidRequestException),
        ["UnknownResource"] = typeof(UnknownResourceException),
        ["ResourceDeleted"] = typeof(ResourceDeletedException),
        ["UnknownRequest"] = typeof(UnknownRequestException),
        ["RequestEnded"] = typeof(LeaseLostException),
        ["Unauthorized"] = typeof(UnauthorizedException),
        ["Forbidden"] = typeof(ForbiddenException),
        ["Unavailable"] = typeof(UnavailableException),
        ["PushDisabled"] = typeof(PushDisabledException),
        ["UnknownJob"] = typeof(UnknownJobException),
        ["JobFinished"] = typeof(JobFinishedException),
        ["JobRunning"] = typeof(JobRunningException),
        ["NotYourJob"] = typeof(NotYourJobException),
        ["OutputFull"] = typeof(OutputFullException),
        ["OutputConflict"] = typeof(OutputConflictException),
    };

    [Fact]
    public void EveryProblemTypeTheSiloCanAnswerIsInTheTable()
    {
        var answered = ProblemTypesOfTheSilo();
        Assert.True(answered.Count > 25, $"only {answered.Count} problem types found in Problem.cs");
        Assert.Empty(answered.Except(ProblemTypes.Errors.Keys));
        Assert.Empty(ProblemTypes.Errors.Keys.Except(answered)); // nor one the silo no longer answers
        foreach (var (type, status) in StatusesOfTheSilo())
            Assert.True(ProblemTypes.Statuses[type] == status, $"{type}: the table says {ProblemTypes.Statuses[type]}, the silo answers {status}");
    }

    [Fact]
    public void EachTypeRaisesTheExceptionOfItsErrorAndNoneTheBaseClass()
    {
        Assert.Equal(ProblemTypes.Errors.Values.Distinct().Order(), ProblemTypes.KnownErrors.Order());
        foreach (var (type, error) in ProblemTypes.Errors)
        {
            var raised = ProblemTypes.Create("urn:orleansqueue:problem:" + type, 400, "d", "f", TimeSpan.FromSeconds(1.5));
            Assert.IsType(ExceptionOfError[error], raised);
            Assert.Equal(("urn:orleansqueue:problem:" + type, "d", "f", TimeSpan.FromSeconds(1.5)), (raised.Type, raised.Message, raised.Field, raised.RetryAfter));
        }
        Assert.IsType<OrleansQueueException>(ProblemTypes.Create("urn:example:teapot", 418, "I am a teapot"));
    }

    [Fact]
    public void ARequestThatEndedWithoutALeaseIsRaisedThroughTheTable()
    {
        Assert.IsType<AcquireTimeoutException>(ProblemTypes.Ended("timedOut", null, "d"));
        Assert.IsType<ResourceDeletedException>(ProblemTypes.Ended("rejected", "resourceDeleted", "d"));
        Assert.IsType<QueueFullException>(ProblemTypes.Ended("rejected", "queueFull", "d"));
        Assert.IsType<InvalidLoadException>(ProblemTypes.Ended("rejected", "invalidLoad", "d"));
        var ended = ProblemTypes.Ended("expired", null, "d");
        Assert.IsType<LeaseLostException>(ended);
        Assert.Equal(("urn:orleansqueue:problem:request-ended", 410), (ended.Type, ended.Status));
    }

    /// <summary>The problem types the silo defines, read from the one place that defines them.</summary>
    private static HashSet<string> ProblemTypesOfTheSilo() => [.. TypeInSource().Matches(ProblemSource()).Select(m => m.Groups[1].Value)];

    /// <summary>The types the silo answers with a fixed status (new(429, Prefix + "queue-full", …)), with that status.</summary>
    private static IEnumerable<(string Type, int Status)> StatusesOfTheSilo() =>
        StatusInSource().Matches(ProblemSource()).Select(m => (m.Groups[2].Value, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));

    private static string ProblemSource()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "OrleansQueue.sln")))
            root = root.Parent ?? throw new InvalidOperationException("No OrleansQueue.sln above the test assembly.");
        return File.ReadAllText(Path.Combine(root.FullName, "grains", "OrleansQueue.Contracts", "Problem.cs"));
    }

    [GeneratedRegex("Prefix \\+ \"([a-z-]+)\"")]
    private static partial Regex TypeInSource();

    [GeneratedRegex("new\\((\\d{3}), Prefix \\+ \"([a-z-]+)\"")]
    private static partial Regex StatusInSource();
}
