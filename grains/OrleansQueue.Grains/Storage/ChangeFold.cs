using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// Folds a run of a resource's change records, oldest first, into the one change that leaves its tables as applying each
/// in turn would: a row written many times is written once, as it stands last. What compaction writes.
/// </summary>
internal static class ChangeFold
{
    /// <param name="records">The records, in the order they were appended.</param>
    /// <param name="tablesLastId">The last request id the tables have seen. Ids are never reused, so a request or job with a
    /// greater id was born after the tables were last written: if it also ended, it never touches them.</param>
    /// <returns>The folded change, or <c>null</c> when there are no records.</returns>
    public static ResourceChanges? Fold(IEnumerable<ResourceChanges> records, long tablesLastId)
    {
        var rows = new Dictionary<long, object?>(); // a RequestRecord, a JobRecord, or null once it ended
        var window = new Dictionary<long, WindowRecord>();
        var idempotency = new Dictionary<string, IdempotencyRecord?>(StringComparer.Ordinal);
        var output = new Dictionary<long, (long Offset, System.Text.StringBuilder Text)>();
        ResourceChanges? last = null;
        foreach (var c in records)
        {
            // The order a commit applies its parts in: upserts, then deletions, window entries, then keys added and removed.
            foreach (var r in c.UpsertRequests)
                rows[r.Id] = r;
            foreach (var j in c.UpsertJobs)
                rows[j.Id] = j;
            foreach (var o in c.AppendOutput)
            {
                // A job's chunks follow on from each other: they join into one row.
                if (output.TryGetValue(o.JobId, out var joined))
                    joined.Text.Append(o.Text);
                else
                    output[o.JobId] = (o.Offset, new System.Text.StringBuilder(o.Text));
            }
            foreach (long id in c.DeleteRequests)
            {
                rows[id] = null;
                output.Remove(id);
            }
            foreach (var e in c.UpsertWindow)
                window[e.Seq] = e;
            foreach (var i in c.AddIdempotency)
                idempotency[i.Key] = i;
            foreach (string key in c.DeleteIdempotency)
                idempotency[key] = null;
            last = c;
        }
        if (last is null)
            return null;

        var folded = new ResourceChanges
        {
            SavedAt = last.SavedAt, LastId = last.LastId, LastFencingToken = last.LastFencingToken,
            WindowNextSeq = last.WindowNextSeq, WindowHeadSeq = last.WindowHeadSeq,
        };
        foreach (var (id, row) in rows)
        {
            switch (row)
            {
                case RequestRecord request:
                    folded.UpsertRequests.Add(request);
                    break;
                case JobRecord job:
                    folded.UpsertJobs.Add(job);
                    break;
                case null when id <= tablesLastId:
                    folded.DeleteRequests.Add(id);
                    break;
            }
        }
        foreach (var (jobId, (offset, text)) in output)
            folded.AppendOutput.Add(new JobOutputChunk(jobId, offset, text.ToString()));
        folded.UpsertWindow.AddRange(window.Values.Where(e => e.Seq >= last.WindowHeadSeq).OrderBy(e => e.Seq));
        foreach (var (key, record) in idempotency)
        {
            if (record is null)
                folded.DeleteIdempotency.Add(key);
            else
                folded.AddIdempotency.Add(record);
        }
        return folded;
    }
}
