using System.Text;

namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// A job's output as its workers appended it: chunks in order, each at its offset, the UTF-8 length of everything before
/// it. Offsets are bytes so that every language counts them alike; a reader only ever sends back an offset it was given.
/// </summary>
internal sealed class JobOutput
{
    private readonly List<JobOutputChunk> _chunks = [];

    /// <summary>The UTF-8 length of the whole output.</summary>
    public long Length { get; private set; }

    /// <summary>Appends <paramref name="text"/> unless the output would then pass <paramref name="limit"/> bytes (null).</summary>
    public JobOutputChunk? TryAppend(long jobId, string text, long limit = long.MaxValue)
    {
        long bytes = Encoding.UTF8.GetByteCount(text);
        if (Length + bytes > limit)
            return null;
        var chunk = new JobOutputChunk(jobId, Length, text);
        _chunks.Add(chunk);
        Length += bytes;
        return chunk;
    }

    /// <summary>Puts back a stored chunk; chunks come in order of their offsets, and one that does not follow on is skipped.</summary>
    public void Restore(JobOutputChunk chunk)
    {
        if (chunk.Offset == Length)
            TryAppend(chunk.JobId, chunk.Text);
    }

    /// <summary>Whether <paramref name="text"/> stands at <paramref name="offset"/> already: an append retried after its answer
    /// was lost (usually the last chunk, so the read is short).</summary>
    public bool Holds(long offset, string text) =>
        offset + Encoding.UTF8.GetByteCount(text) <= Length && Read(offset, int.MaxValue) is { } read
        && read.Text.StartsWith(text, StringComparison.Ordinal);

    /// <summary>The output after <paramref name="after"/> bytes, whole chunks up to about <paramref name="maxBytes"/> (at least
    /// one chunk when any is there). Null when <paramref name="after"/> is beyond the output or inside a character.</summary>
    public (string Text, long Next)? Read(long after, int maxBytes)
    {
        if (after < 0 || after > Length)
            return null;
        if (after == Length)
            return ("", Length);
        int first = FirstEndingAfter(after);
        var text = new StringBuilder();
        long next = _chunks[first].Offset;
        for (int i = first; i < _chunks.Count; i++)
        {
            var chunk = _chunks[i];
            long end = i + 1 < _chunks.Count ? _chunks[i + 1].Offset : Length;
            if (i > first && end - after > maxBytes)
                break;
            if (chunk.Offset < after)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(chunk.Text);
                int skip = (int)(after - chunk.Offset);
                if ((bytes[skip] & 0xC0) == 0x80)
                    return null; // inside a character: not an offset this output ever gave
                text.Append(Encoding.UTF8.GetString(bytes, skip, bytes.Length - skip));
            }
            else
            {
                text.Append(chunk.Text);
            }
            next = end;
        }
        return (text.ToString(), next);
    }

    /// <summary>The index of the chunk that holds byte <paramref name="after"/>.</summary>
    private int FirstEndingAfter(long after)
    {
        int lo = 0, hi = _chunks.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_chunks[mid].Offset <= after)
                lo = mid;
            else
                hi = mid - 1;
        }
        return lo;
    }
}
