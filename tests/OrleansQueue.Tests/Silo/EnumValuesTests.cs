using OrleansQueue.Grains;
using Scheduler = OrleansQueue.Scheduling;
using Wire = OrleansQueue.Contracts;

namespace OrleansQueue.Tests.Silo;

/// <summary>
/// The numbers of the enums that travel (the contracts', sent by name or number) and of those that are stored (the
/// scheduler's, in every store's rows and records) are pinned here: reordering or renumbering one breaks this test, not
/// clients or data. The wire enums and the scheduler's have the same names at the same numbers, which is what the grain's
/// mapping (<see cref="WireMapping"/>) relies on.
/// </summary>
public sealed class EnumValuesTests
{
    private static readonly string[] Priorities = ["Critical", "High", "Normal", "Low", "Background"];
    private static readonly string[] JobStates = ["Queued", "Running", "Retrying", "Completed", "DeadLettered", "Cancelled"];
    private static readonly string[] Reasons = ["QueueFull", "ClientQuotaExceeded", "TimedOut", "InvalidLoad", "InvalidRequest", "UnknownResource", "ResourceDeleted", "TenantQuotaExceeded"];
    private static readonly string[] AdaptiveModes = ["Off", "Headers", "Aimd"];
    private static readonly string[] ActivityKinds = ["Granted", "TimedOut", "Rejected", "Expired", "Reclaimed", "DeadLettered", "Throttled"];

    [Fact]
    public void TheWireEnumsKeepTheirNumbers()
    {
        Pinned<Wire.Priority>(Priorities);
        Pinned<Wire.JobState>(JobStates);
        Pinned<Wire.RejectionReason>(Reasons);
        Pinned<Wire.AdaptiveMode>(AdaptiveModes);
        Pinned<Wire.ActivityKind>(ActivityKinds);
        Pinned<Wire.RequestPhase>(["Waiting", "Granted", "Held", "Released", "Cancelled", "TimedOut", "Rejected", "Expired", "Reclaimed", "Unknown",
            "JobChanged", "JobAssigned", "PollExpired", "Moved"]);
    }

    [Fact]
    public void TheStoredEnumsKeepTheirNumbersAndMatchTheWire()
    {
        Pinned<Scheduler.Priority>(Priorities);
        Pinned<Scheduler.JobState>(JobStates);
        Pinned<Scheduler.RejectionReason>(Reasons);
        Pinned<Scheduler.AdaptiveMode>(AdaptiveModes);
        Pinned<Scheduler.ActivityKind>(ActivityKinds);
        Pinned<Scheduler.RequestStatusKind>(["Unknown", "Waiting", "Granted", "Held"]);
        Pinned<Scheduler.AcquireOutcome>(["Granted", "Queued", "Rejected"]);
        Assert.Equal(Wire.Limits.MaxLoad, Scheduler.ResourcePolicy.MaxLoad);
        Assert.Equal(Wire.Limits.MaxIdempotencyKeyLength, Scheduler.ResourceScheduler.MaxIdempotencyKeyLength);
    }

    [Fact]
    public void TheGrainMapsEveryValueToTheSameName()
    {
        foreach (var p in Enum.GetValues<Scheduler.Priority>())
            Assert.Equal(p.ToString(), p.ToWire().ToString());
        foreach (var p in Enum.GetValues<Wire.Priority>())
            Assert.Equal(p.ToString(), p.ToScheduler().ToString());
        foreach (var s in Enum.GetValues<Scheduler.JobState>())
            Assert.Equal(s.ToString(), s.ToWire().ToString());
        foreach (var r in Enum.GetValues<Scheduler.RejectionReason>())
            Assert.Equal(r.ToString(), r.ToWire().ToString());
        foreach (var m in Enum.GetValues<Scheduler.AdaptiveMode>())
            Assert.Equal(m.ToString(), m.ToWire().ToString());
        foreach (var m in Enum.GetValues<Wire.AdaptiveMode>())
            Assert.Equal(m.ToString(), m.ToScheduler().ToString());
        foreach (var k in Enum.GetValues<Scheduler.ActivityKind>())
            Assert.Equal(k.ToString(), k.ToWire().ToString());
    }

    /// <summary><typeparamref name="T"/> has exactly <paramref name="names"/>, numbered 0, 1, 2, … in that order.</summary>
    private static void Pinned<T>(string[] names) where T : struct, Enum
    {
        Assert.Equal(names, Enum.GetNames<T>());
        Assert.Equal(Enumerable.Range(0, names.Length).ToArray(), Enum.GetValues<T>().Select(v => Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }
}
