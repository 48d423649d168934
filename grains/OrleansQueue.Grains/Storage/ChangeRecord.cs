using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;
using JobState = OrleansQueue.Scheduling.JobState;
using Priority = OrleansQueue.Scheduling.Priority;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// One batch of a grain's changes as a record of the stores' change log: compact binary, its first byte the format's
/// version. Integers are zig-zag variable-length (a request record is a few dozen bytes), strings UTF-8 behind their
/// length, a nullable value behind a presence byte. The policy is not in it: a policy change is rare and is written to the
/// resource's definition at once, in the same transaction as the record.
/// </summary>
/// <remarks>A record is never rewritten: a format change adds a version, and <see cref="Decode"/> keeps reading every
/// version before it. Version 2 added the output appended to jobs, after everything version 1 holds.</remarks>
internal static class ChangeRecord
{
    /// <summary>The version <see cref="Encode"/> writes.</summary>
    public const byte CurrentVersion = 2;

    public static byte[] Encode(ResourceChanges changes)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + 48 * (changes.UpsertRequests.Count + changes.DeleteRequests.Count + changes.AppendOutput.Count));
        var w = new Writer(buffer);
        w.Byte(CurrentVersion);
        w.Long(changes.SavedAt);
        w.Long(changes.LastId);
        w.Long(changes.LastFencingToken);
        w.Long(changes.WindowNextSeq);
        w.Long(changes.WindowHeadSeq);
        w.Long(changes.UpsertRequests.Count);
        foreach (var r in changes.UpsertRequests)
        {
            w.Long(r.Id); w.String(r.ClientId); w.Long(r.Load); w.Long((long)r.Priority); w.Long(r.Level); w.Long((long)r.State);
            w.Long(r.EnqueuedAt); w.Long(r.WaitDeadline); w.Long(r.TimerAt); w.Long(r.FencingToken); w.Long(r.GrantedAt);
            w.Long(r.WindowSeq); w.Long(r.QueueSeq);
        }
        w.Long(changes.UpsertJobs.Count);
        foreach (var j in changes.UpsertJobs)
        {
            w.Long(j.Id); w.String(j.ClientId); w.Long(j.Load); w.Long((long)j.Priority); w.Long(j.Level); w.Long((long)j.State);
            w.String(j.Payload); w.Long(j.MaxAttempts); w.Long(j.Attempts); w.Long(j.EnqueuedAt); w.Long(j.WaitDeadline);
            w.Long(j.TimerAt); w.Long(j.QueueSeq); w.Long(j.FencingToken); w.Long(j.GrantedAt); w.Long(j.WindowSeq);
            w.NullableString(j.WorkerId); w.NullableDouble(j.Progress); w.NullableString(j.ProgressMessage);
            w.NullableString(j.Result); w.NullableString(j.Error); w.Long(j.FirstEnqueuedAt); w.Long(j.StartedAt); w.Long(j.FinishedAt);
        }
        w.Long(changes.DeleteRequests.Count);
        foreach (long id in changes.DeleteRequests)
            w.Long(id);
        w.Long(changes.UpsertWindow.Count);
        foreach (var e in changes.UpsertWindow)
        {
            w.Long(e.Seq); w.Long(e.At); w.Long(e.Load); w.Long(e.Requests);
        }
        w.Long(changes.AddIdempotency.Count);
        foreach (var i in changes.AddIdempotency)
        {
            w.String(i.Key); w.Long(i.RequestId); w.Long((long)i.Outcome); w.Long(i.FencingToken); w.Long(i.ExpiresAt);
            w.Long(i.CreatedAt); w.String(i.ClientId); w.Long(i.Load); w.Long((long)i.Priority); w.Long(i.GrantedAt);
        }
        w.Long(changes.DeleteIdempotency.Count);
        foreach (string key in changes.DeleteIdempotency)
            w.String(key);
        w.Long(changes.AppendOutput.Count);
        foreach (var o in changes.AppendOutput)
        {
            w.Long(o.JobId); w.Long(o.Offset); w.String(o.Text);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <exception cref="InvalidDataException">The record is of a version this code does not know, or is cut short.</exception>
    public static ResourceChanges Decode(ReadOnlySpan<byte> record)
    {
        var r = new Reader(record);
        byte version = r.Byte();
        if (version is < 1 or > CurrentVersion)
            throw new InvalidDataException($"A change record is of format version {version}; this silo reads versions 1 to {CurrentVersion}. Run a silo at least as new as the one that wrote it.");
        var changes = new ResourceChanges
        {
            SavedAt = r.Long(), LastId = r.Long(), LastFencingToken = r.Long(), WindowNextSeq = r.Long(), WindowHeadSeq = r.Long(),
        };
        for (long n = r.Count(); n > 0; n--)
        {
            changes.UpsertRequests.Add(new RequestRecord(r.Long(), r.String(), r.Long(), (Priority)r.Long(), r.Int(), (RequestStatusKind)r.Long(),
                r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long()));
        }
        for (long n = r.Count(); n > 0; n--)
        {
            changes.UpsertJobs.Add(new JobRecord(r.Long(), r.String(), r.Long(), (Priority)r.Long(), r.Int(), (JobState)r.Long(),
                r.String(), r.Int(), r.Int(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(),
                r.NullableString(), r.NullableDouble(), r.NullableString(), r.NullableString(), r.NullableString(), r.Long(), r.Long(), r.Long()));
        }
        for (long n = r.Count(); n > 0; n--)
            changes.DeleteRequests.Add(r.Long());
        for (long n = r.Count(); n > 0; n--)
            changes.UpsertWindow.Add(new WindowRecord(r.Long(), r.Long(), r.Long(), r.Int()));
        for (long n = r.Count(); n > 0; n--)
        {
            changes.AddIdempotency.Add(new IdempotencyRecord(r.String(), r.Long(), (AcquireOutcome)r.Long(), r.Long(), r.Long(), r.Long(),
                r.String(), r.Long(), (Priority)r.Long(), r.Long()));
        }
        for (long n = r.Count(); n > 0; n--)
            changes.DeleteIdempotency.Add(r.String());
        if (version >= 2)
        {
            for (long n = r.Count(); n > 0; n--)
                changes.AppendOutput.Add(new JobOutputChunk(r.Long(), r.Long(), r.String()));
        }
        if (!r.AtEnd)
            throw new InvalidDataException("A change record has bytes after its last field.");
        return changes;
    }

    private readonly ref struct Writer(ArrayBufferWriter<byte> buffer)
    {
        public void Byte(byte value)
        {
            buffer.GetSpan(1)[0] = value;
            buffer.Advance(1);
        }

        public void Long(long value)
        {
            ulong v = (ulong)((value << 1) ^ (value >> 63)); // zig-zag: small magnitudes of either sign take few bytes
            var span = buffer.GetSpan(10);
            int i = 0;
            while (v >= 0x80)
            {
                span[i++] = (byte)(v | 0x80);
                v >>= 7;
            }
            span[i++] = (byte)v;
            buffer.Advance(i);
        }

        public void String(string value)
        {
            int length = Encoding.UTF8.GetByteCount(value);
            Long(length);
            Encoding.UTF8.GetBytes(value, buffer.GetSpan(length));
            buffer.Advance(length);
        }

        public void NullableString(string? value)
        {
            Byte(value is null ? (byte)0 : (byte)1);
            if (value is not null)
                String(value);
        }

        public void NullableDouble(double? value)
        {
            Byte(value is null ? (byte)0 : (byte)1);
            if (value is { } v)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(buffer.GetSpan(8), v);
                buffer.Advance(8);
            }
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> record)
    {
        private readonly ReadOnlySpan<byte> _record = record;
        private int _at;

        public readonly bool AtEnd => _at == _record.Length;

        public byte Byte()
        {
            if (_at >= _record.Length)
                throw Truncated();
            return _record[_at++];
        }

        public long Long()
        {
            ulong v = 0;
            for (int shift = 0; ; shift += 7)
            {
                if (shift > 63)
                    throw new InvalidDataException("A change record holds a malformed number.");
                byte b = Byte();
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                    break;
            }
            return (long)(v >> 1) ^ -(long)(v & 1);
        }

        public int Int() => checked((int)Long());

        /// <summary>A count of items that follow: never more than the bytes left could hold.</summary>
        public long Count()
        {
            long n = Long();
            if (n < 0 || n > _record.Length - _at)
                throw new InvalidDataException("A change record holds a count beyond its length.");
            return n;
        }

        public string String()
        {
            long length = Long();
            if (length < 0 || length > _record.Length - _at)
                throw Truncated();
            string value = Encoding.UTF8.GetString(_record.Slice(_at, (int)length));
            _at += (int)length;
            return value;
        }

        public string? NullableString() => Byte() == 0 ? null : String();

        public double? NullableDouble()
        {
            if (Byte() == 0)
                return null;
            if (_record.Length - _at < 8)
                throw Truncated();
            double value = BinaryPrimitives.ReadDoubleLittleEndian(_record.Slice(_at, 8));
            _at += 8;
            return value;
        }

        private static InvalidDataException Truncated() => new("A change record is cut short.");
    }
}
