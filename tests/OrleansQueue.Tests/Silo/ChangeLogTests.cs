using OrleansQueue.Grains.Storage;
using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;
using JobState = OrleansQueue.Scheduling.JobState;
using Priority = OrleansQueue.Scheduling.Priority;

namespace OrleansQueue.Tests.Silo;

/// <summary>The change log's records, their folding, and the SQLite store folding them at any point.</summary>
public sealed class ChangeLogTests
{
    /// <summary>
    /// Seeded runs of acquires, releases, cancels, idempotent calls, jobs and window spending, committed turn by turn to
    /// SQLite (folding after every few records, or never, and at random claims by a new owner) and to the memory store
    /// (which applies each change to its tables at once): whatever was folded when, both give back the same state.
    /// </summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 5)]
    [InlineData(4, 1_000)]
    public async Task WhateverWasFoldedWhenTheStoreGivesBackWhatEachCommitLeft(int seed, int compactAfter)
    {
        using var folder = new TempDirectory("oq-log-");
        await using var sqlite = new SqliteGrainStore(Path.Combine(folder.Path, "silo.db"), compactAfter: compactAfter);
        await sqlite.InitializeAsync(CancellationToken.None);
        await CompareWithMemoryAsync(sqlite, seed);
    }

    /// <summary>A change with every field of every part set, none to its default (output only from version 2 on).</summary>
    private static ResourceChanges EveryField(bool withOutput = true)
    {
        var changes = new ResourceChanges { SavedAt = 638_900_000_000_000_000, LastId = 41, LastFencingToken = 77, WindowNextSeq = 9, WindowHeadSeq = 3 };
        changes.UpsertRequests.Add(new RequestRecord(40, "tenant:client-é", 2_000, Priority.High, 2, RequestStatusKind.Granted,
            638_900_000_000_000_001, 638_900_000_000_000_002, 638_900_000_000_000_003, 76, 638_900_000_000_000_004, 8, 12));
        changes.UpsertJobs.Add(new JobRecord(41, "tenant:w", 5, Priority.Low, 1, JobState.Running, "{\"prompt\":\"hi\"}", 3, 1,
            638_900_000_000_000_005, 638_900_000_000_000_006, 638_900_000_000_000_007, 13, 77, 638_900_000_000_000_008, 7,
            "worker-1", 0.25, "a quarter", "partial", "none yet", 638_900_000_000_000_009, 638_900_000_000_000_010, 638_900_000_000_000_011));
        changes.UpsertJobs.Add(new JobRecord(39, "c", 1, Priority.Normal, 0, JobState.Queued, "", 1, 0, 1, 2, 3, 4, 0, 0, 0,
            null, null, null, null, null, 1, 0, 0));
        changes.DeleteRequests.AddRange([7, 38]);
        changes.UpsertWindow.Add(new WindowRecord(8, 638_900_000_000_000_012, 2_000, 1));
        changes.AddIdempotency.Add(new IdempotencyRecord("key-1", 40, AcquireOutcome.Queued, 76, 638_900_000_000_000_013, 638_900_000_000_000_014,
            "tenant:client-é", 2_000, Priority.High, 638_900_000_000_000_015));
        changes.DeleteIdempotency.Add("key-0");
        if (withOutput)
        {
            changes.AppendOutput.Add(new JobOutputChunk(41, 0, "Once upon "));
            changes.AppendOutput.Add(new JobOutputChunk(41, 10, "a time, é…"));
        }
        return changes;
    }

    private static string Describe(ResourceChanges c) => string.Join("\n",
        $"{c.SavedAt} {c.LastId} {c.LastFencingToken} {c.WindowNextSeq} {c.WindowHeadSeq} policy:{c.Policy is not null}",
        string.Join(";", c.UpsertRequests), string.Join(";", c.UpsertJobs), string.Join(",", c.DeleteRequests),
        string.Join(";", c.UpsertWindow), string.Join(";", c.AddIdempotency), string.Join(",", c.DeleteIdempotency), string.Join(";", c.AppendOutput));

    [Fact]
    public void ARecordGivesBackEveryFieldItWasWrittenWith()
    {
        var changes = EveryField();
        byte[] record = ChangeRecord.Encode(changes);

        Assert.Equal(ChangeRecord.CurrentVersion, record[0]);
        Assert.Equal(Describe(changes), Describe(ChangeRecord.Decode(record)));
        Assert.Equal(Describe(new ResourceChanges()), Describe(ChangeRecord.Decode(ChangeRecord.Encode(new ResourceChanges()))));
    }

    /// <summary>Records of version 1 as written when it was made: whatever the writer becomes, these stay readable.</summary>
    [Fact]
    public void ARecordOfVersion1ReadsAsItWasWritten()
    {
        const string version1 =
        "018080FAAFC78AEADD11529A01120602502074656E616E743A636C69656E742DC3A9A01F0204048280FAAFC78AEADD118480"
        + "FAAFC78AEADD118680FAAFC78AEADD1198018880FAAFC78AEADD11101804521074656E616E743A770A0602021E7B2270726F"
        + "6D7074223A226869227D06028A80FAAFC78AEADD118C80FAAFC78AEADD118E80FAAFC78AEADD111A9A019080FAAFC78AEADD"
        + "110E0110776F726B65722D3101000000000000D03F0112612071756172746572010E7061727469616C01106E6F6E65207965"
        + "749280FAAFC78AEADD119480FAAFC78AEADD119680FAAFC78AEADD114E026302040000000200020406080000000000000000"
        + "020000040E4C02109880FAAFC78AEADD11A01F02020A6B65792D31500298019A80FAAFC78AEADD119C80FAAFC78AEADD1120"
        + "74656E616E743A636C69656E742DC3A9A01F029E80FAAFC78AEADD11020A6B65792D30";

        Assert.Equal(Describe(EveryField(withOutput: false)), Describe(ChangeRecord.Decode(Convert.FromHexString(version1))));
    }

    /// <summary>Records of version 2 (version 1's parts, then the output appended to jobs) as written when it was made.</summary>
    [Fact]
    public void ARecordOfVersion2ReadsAsItWasWritten()
    {
        const string version2 =
        "028080FAAFC78AEADD11529A01120602502074656E616E743A636C69656E742DC3A9A01F0204048280FAAFC78AEADD118480"
        + "FAAFC78AEADD118680FAAFC78AEADD1198018880FAAFC78AEADD11101804521074656E616E743A770A0602021E7B2270726F"
        + "6D7074223A226869227D06028A80FAAFC78AEADD118C80FAAFC78AEADD118E80FAAFC78AEADD111A9A019080FAAFC78AEADD"
        + "110E0110776F726B65722D3101000000000000D03F0112612071756172746572010E7061727469616C01106E6F6E65207965"
        + "749280FAAFC78AEADD119480FAAFC78AEADD119680FAAFC78AEADD114E026302040000000200020406080000000000000000"
        + "020000040E4C02109880FAAFC78AEADD11A01F02020A6B65792D31500298019A80FAAFC78AEADD119C80FAAFC78AEADD1120"
        + "74656E616E743A636C69656E742DC3A9A01F029E80FAAFC78AEADD11020A6B65792D30045200144F6E63652075706F6E2052"
        + "141A612074696D652C20C3A9E280A6";

        Assert.Equal(Describe(EveryField()), Describe(ChangeRecord.Decode(Convert.FromHexString(version2))));
    }

    [Fact]
    public void ARecordOfAnUnknownVersionOrCutShortIsRefusedByName()
    {
        byte[] record = ChangeRecord.Encode(EveryField());
        byte[] future = [.. record];
        future[0] = 3;
        Assert.Contains("format version 3", Assert.Throws<InvalidDataException>(() => ChangeRecord.Decode(future)).Message);
        for (int length = 1; length < record.Length; length += 7)
            Assert.Throws<InvalidDataException>(() => ChangeRecord.Decode(record.AsSpan(0, length)));
        Assert.Throws<InvalidDataException>(() => ChangeRecord.Decode([.. record, 0]));
    }

    [Fact]
    public void FoldingKeepsEachRowAsItStandsLastAndLeavesTheTablesUntouchedByWhatWasBornAndEndedSinceThen()
    {
        var first = new ResourceChanges { LastId = 12, WindowHeadSeq = 1, WindowNextSeq = 3, SavedAt = 10 };
        first.AppendOutput.Add(new JobOutputChunk(9, 4, "ab"));
        first.AppendOutput.Add(new JobOutputChunk(12, 0, "gone"));
        first.AppendOutput.Add(new JobOutputChunk(9, 6, "cé"));
        first.UpsertRequests.Add(Request(11, RequestStatusKind.Waiting));
        first.UpsertRequests.Add(Request(12, RequestStatusKind.Waiting));
        first.UpsertWindow.Add(new WindowRecord(1, 100, 5, 1));
        first.UpsertWindow.Add(new WindowRecord(2, 110, 5, 1));
        first.AddIdempotency.Add(new IdempotencyRecord("born-and-gone", 11, AcquireOutcome.Queued, 0, 1, 1));
        var second = new ResourceChanges { LastId = 13, WindowHeadSeq = 2, WindowNextSeq = 3, SavedAt = 20 };
        second.UpsertRequests.Add(Request(11, RequestStatusKind.Held));
        second.UpsertRequests.Add(Request(13, RequestStatusKind.Waiting));
        second.DeleteRequests.AddRange([12, 5]); // 12 was born after the tables were written; 5 is in them
        second.UpsertWindow.Add(new WindowRecord(2, 110, 7, 1));
        second.DeleteIdempotency.Add("born-and-gone");
        second.AppendOutput.Add(new JobOutputChunk(9, 9, "d"));

        var folded = ChangeFold.Fold([first, second], tablesLastId: 10)!;

        Assert.Equal([Request(11, RequestStatusKind.Held), Request(13, RequestStatusKind.Waiting)], folded.UpsertRequests.OrderBy(r => r.Id));
        Assert.Equal([5L], folded.DeleteRequests);
        Assert.Equal([new WindowRecord(2, 110, 7, 1)], folded.UpsertWindow); // entry 1 left the window
        Assert.Equal((2L, 3L, 13L, 20L), (folded.WindowHeadSeq, folded.WindowNextSeq, folded.LastId, folded.SavedAt));
        Assert.Equal(["born-and-gone"], folded.DeleteIdempotency);
        Assert.Empty(folded.AddIdempotency);
        Assert.Equal([new JobOutputChunk(9, 4, "abcéd")], folded.AppendOutput); // joined; the output of job 12 went with it
        Assert.Null(ChangeFold.Fold([], 0));
    }

    private static RequestRecord Request(long id, RequestStatusKind state) =>
        new(id, "c", 1, Priority.Normal, 0, state, 1, 2, 3, state == RequestStatusKind.Held ? id : 0, 0, 0, id);

    /// <summary>Seeded steps committed turn by turn to <paramref name="logged"/> and to the memory store, with claims by a
    /// new owner at random steps: both give back the same state at every claim.</summary>
    internal static async Task CompareWithMemoryAsync(IGrainStore logged, int seed)
    {
        var random = new Random(seed);
        var clock = new ManualClock();
        var policy = new ResourcePolicy
        {
            MaxConcurrent = 4, LoadPerWindow = 50, Window = TimeSpan.FromSeconds(10), DefaultMaxWait = TimeSpan.FromMinutes(5),
            JobRetention = TimeSpan.FromSeconds(60), // finished jobs, and their output, go during the run
        };
        var memory = new InMemoryGrainStore();
        IGrainStore[] stores = [logged, memory];
        foreach (var store in stores)
            await store.PutResourceAsync(new ResourceDefinition("r", policy), CancellationToken.None);

        var owners = new (ResourceScheduler Scheduler, long Epoch, long Sequence)[2];
        async Task ClaimAsync(string owner)
        {
            for (int s = 0; s < 2; s++)
            {
                var claim = (await stores[s].ClaimAsync("r", owner, CancellationToken.None))!;
                owners[s] = (ResourceScheduler.Restore("r", claim.Snapshot, clock), claim.Epoch, claim.Sequence);
            }
            Assert.Equal(Snapshot(owners[1].Scheduler), Snapshot(owners[0].Scheduler));
        }
        await ClaimAsync("owner-0");
        for (int step = 0; step < 300; step++)
        {
            int pick = random.Next(100);
            long someId = 1 + random.Next((int)Math.Max(1, owners[0].Scheduler.GetStats().Waiting + owners[0].Scheduler.GetStats().Leases + 20));
            string client = $"c{random.Next(4)}";
            string? key = random.Next(4) == 0 ? $"k{random.Next(6)}" : null;
            for (int s = 0; s < 2; s++)
            {
                var t = owners[s].Scheduler;
                _ = pick switch
                {
                    < 35 => t.Acquire(client, load: 1 + pick % 7, idempotencyKey: key).RequestId,
                    < 60 => (long)t.Release(someId, idempotencyKey: key).Outcome,
                    < 68 => (long)t.Cancel(someId).Outcome,
                    < 76 => t.EnqueueJob(client, $"{{\"n\":{step}}}").RequestId,
                    < 82 => t.TakeJob("w").Job?.Id ?? 0,
                    < 86 => (long)t.CompleteJob(someId, "w", "done"),
                    < 92 => t.GetJobs(1_000).Where(j => j.State == JobState.Running).MinBy(j => (j.Id * 7 + step) % 11) is { } running
                        ? (long)t.AppendOutput(running.Id, "w", $"out {step} é… ") : 0,
                    _ => (long)t.Renew(someId).Outcome,
                };
                t.Tick();
            }
            for (int s = 0; s < 2; s++)
            {
                owners[s].Sequence++;
                await stores[s].CommitAsync("r", owners[s].Epoch, owners[s].Sequence, owners[s].Scheduler.TakeChanges(), CancellationToken.None);
            }
            clock.Advance(TimeSpan.FromMilliseconds(random.Next(0, 900)));
            if (random.Next(40) == 0)
                await ClaimAsync($"owner-{step}"); // a new owner folds the log and reads the tables alone
        }
        await ClaimAsync("last");
    }

    /// <summary>What a restored scheduler holds, in a form that compares by value.</summary>
    private static string Snapshot(ResourceScheduler scheduler)
    {
        var stats = scheduler.GetStats();
        return string.Join("\n",
            $"waiting {stats.Waiting} leases {stats.Leases} load left {stats.LoadLeftInWindow}",
            string.Join(";", scheduler.GetLeases(1_000).OrderBy(l => l.Id).Select(l => $"{l.Id}:{l.FencingToken}:{l.Load}:{l.ExpiresAt:O}:{l.Claimed}")),
            string.Join(";", scheduler.GetJobs(1_000).OrderBy(j => j.Id).Select(j => $"{j.Id}:{j.State}:{j.Result}:{scheduler.ReadOutput(j.Id, 0)!.Text}")));
    }
}

/// <summary>A server store's change log folded at any point (after every record, every few, or only at claims; in the
/// background, beside the commits that follow), against the memory store.</summary>
public abstract class ServerStoreChangeLogTests
{
    /// <summary>A fresh store of the kind under test, folding its log after <paramref name="compactAfter"/> records.</summary>
    internal abstract Task<IGrainStore> OpenAsync(int compactAfter);

    private async Task RunAsync(int seed, int compactAfter)
    {
        await using var store = await OpenAsync(compactAfter);
        await store.InitializeAsync(CancellationToken.None);
        await ChangeLogTests.CompareWithMemoryAsync(store, seed);
    }

    [Cluster.StoreFact]
    public Task FoldedAfterEveryRecord() => RunAsync(1, 1);

    [Cluster.StoreFact]
    public Task FoldedAfterEveryOtherRecord() => RunAsync(2, 2);

    [Cluster.StoreFact]
    public Task FoldedAfterEveryFifthRecord() => RunAsync(3, 5);

    [Cluster.StoreFact]
    public Task FoldedOnlyWhenClaimed() => RunAsync(4, 1_000);
}

public sealed class RedisChangeLogTests : ServerStoreChangeLogTests, Cluster.INeedsRedis
{
    internal override async Task<IGrainStore> OpenAsync(int compactAfter) => new RedisGrainStore(StackExchange.Redis.ConfigurationOptions.Parse(await Cluster.RedisServer.AddressAsync()),
        Microsoft.Extensions.Logging.Abstractions.NullLogger<RedisGrainStore>.Instance, Cluster.RedisServer.NewPrefix(), compactAfter);
}

public sealed class PostgresChangeLogTests : ServerStoreChangeLogTests, Cluster.INeedsPostgres
{
    internal override async Task<IGrainStore> OpenAsync(int compactAfter) =>
        new PostgresGrainStore(await Cluster.PostgresServer.CreateDatabaseAsync(), compactAfter: compactAfter);
}
