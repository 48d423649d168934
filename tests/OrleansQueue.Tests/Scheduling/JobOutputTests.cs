using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Tests.Scheduling;

/// <summary>A job's output: appended by its worker in chunks at UTF-8 offsets, read after any offset it gave, bounded by
/// the policy, safe to retry, and durable with the job.</summary>
public sealed class JobOutputTests : SchedulerTestBase
{
    private static readonly ResourcePolicy Policy = new()
    {
        MaxConcurrent = 1, JobVisibilityTimeout = TimeSpan.FromSeconds(10), JobRetention = TimeSpan.FromMinutes(5), JobMaxOutputBytes = 64,
    };

    private static long Running(ResourceScheduler scheduler, string worker = "w")
    {
        long id = scheduler.EnqueueJob("caller", "{}").RequestId;
        Assert.Equal(id, scheduler.TakeJob(worker).Job!.Id);
        return id;
    }

    [Fact]
    public void ChunksAreReadAfterAnyOffsetTheyEndAtCountedInUtf8Bytes()
    {
        var scheduler = NewScheduler(Policy);
        long job = Running(scheduler);

        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", "Hello, "));
        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", "wörld…"));
        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", " 🙂"));

        Assert.Equal(7 + 9 + 5, scheduler.GetJob(job)!.OutputLength); // ö is 2 bytes, … 3, 🙂 4
        Assert.Equal(new JobOutputRead(0, "Hello, wörld… 🙂", 21, 21, JobState.Running), scheduler.ReadOutput(job, 0));
        Assert.Equal(new JobOutputRead(7, "wörld… 🙂", 21, 21, JobState.Running), scheduler.ReadOutput(job, 7));
        Assert.Equal(new JobOutputRead(10, "rld… 🙂", 21, 21, JobState.Running), scheduler.ReadOutput(job, 10)); // inside a chunk, at a character
        Assert.Equal(new JobOutputRead(21, "", 21, 21, JobState.Running), scheduler.ReadOutput(job, 21));
        Assert.Equal(new JobOutputRead(0, "Hello, ", 7, 21, JobState.Running), scheduler.ReadOutput(job, 0, maxBytes: 8)); // whole chunks
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.ReadOutput(job, 22));
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.ReadOutput(job, 9)); // inside ö
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.ReadOutput(job, -1));
        Assert.Null(scheduler.ReadOutput(999, 0));
    }

    [Fact]
    public void EachAppendIsAnEventWithItsChunkAndAHeartbeat()
    {
        var scheduler = NewScheduler(Policy);
        long job = Running(scheduler);
        Drain(scheduler);
        var visibleUntil = scheduler.GetJob(job)!.VisibleUntil;
        Clock.Advance(TimeSpan.FromSeconds(6));

        scheduler.AppendOutput(job, "w", "abc");
        scheduler.AppendOutput(job, "w", "");

        var appended = Assert.Single(Drain(scheduler));
        Assert.Equal(ResourceEventKind.JobOutput, appended.Kind);
        Assert.Equal(new JobOutputChunk(job, 0, "abc"), appended.Output);
        Assert.Equal(visibleUntil + TimeSpan.FromSeconds(6), scheduler.GetJob(job)!.VisibleUntil);
    }

    [Fact]
    public void AnAppendAtAnOffsetIsMadeOnlyWhereTheOutputEndsAndARetryOfItChangesNothing()
    {
        var scheduler = NewScheduler(Policy);
        long job = Running(scheduler);
        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", "one ", at: 0));
        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", "two ", at: 4));
        Drain(scheduler);

        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", "two ", at: 4)); // its answer was lost: retried
        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", "one ", at: 0));
        Assert.Equal(JobOutcome.OutputConflict, scheduler.AppendOutput(job, "w", "six ", at: 4));
        Assert.Equal(JobOutcome.OutputConflict, scheduler.AppendOutput(job, "w", "three", at: 9));

        Assert.Equal("one two ", scheduler.ReadOutput(job, 0)!.Text);
        Assert.Empty(Drain(scheduler));
    }

    [Fact]
    public void OutputPastThePolicysBoundIsRefusedWholeAndOnlyTheRunningWorkerAppends()
    {
        var scheduler = NewScheduler(Policy);
        long job = Running(scheduler);
        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", new string('a', 60)));

        Assert.Equal(JobOutcome.OutputFull, scheduler.AppendOutput(job, "w", "12345"));
        Assert.Equal(JobOutcome.Ok, scheduler.AppendOutput(job, "w", "1234"));
        Assert.Equal(JobOutcome.NotYours, scheduler.AppendOutput(job, "other", "x"));
        Assert.Equal(JobOutcome.NotFound, scheduler.AppendOutput(999, "w", "x"));
        Assert.Equal(JobOutcome.Ok, scheduler.CompleteJob(job, "w", "\"done\""));
        Assert.Equal(JobOutcome.Finished, scheduler.AppendOutput(job, "w", "x"));

        var read = scheduler.ReadOutput(job, 0)!;
        Assert.Equal(64, read.Length);
        Assert.Equal(JobState.Completed, read.State);
        Assert.Contains(new PolicyError(nameof(ResourcePolicy.JobMaxOutputBytes), "must be between 0 and 67108864 (64 MiB); it is -1."),
            (Policy with { JobMaxOutputBytes = -1 }).Validate());
    }

    [Fact]
    public void OutputIsWrittenWithTheJobComesBackWithItAndGoesWithItsRetention()
    {
        var store = new StoredResourceState(Policy);
        var scheduler = NewScheduler(Policy);
        scheduler.TrackChanges();
        long job = Running(scheduler);
        scheduler.AppendOutput(job, "w", "first ");
        store.Apply(scheduler.TakeChanges());
        scheduler.AppendOutput(job, "w", "second");
        var changes = scheduler.TakeChanges();
        Assert.Equal([new JobOutputChunk(job, 6, "second")], changes.AppendOutput);
        store.Apply(changes);

        var restored = ResourceScheduler.Restore("test-resource", store.ToSnapshot(), Clock);
        Assert.Equal("first second", restored.ReadOutput(job, 0)!.Text);
        Assert.Equal(12, restored.GetJob(job)!.OutputLength);
        Assert.Equal(JobOutcome.Ok, restored.AppendOutput(job, "w", "!", at: 12));
        restored.CompleteJob(job, "w", null);
        store.Apply(restored.TakeChanges());

        Clock.Advance(Policy.JobRetention + TimeSpan.FromSeconds(1));
        restored.Tick();
        store.Apply(restored.TakeChanges());
        Assert.Empty(store.ToSnapshot().Output);
        Assert.Empty(store.ToSnapshot().Jobs);
    }
}
