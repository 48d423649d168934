using System.Diagnostics;

namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// The exact sliding-window log of what grants spent: a ring of (time, load, requests) entries.
/// A grant at time t fits when the spending in (t - window, t] plus its own stays within the limits, so no
/// window-long interval ever holds more than the limits allow. (A token bucket of the same capacity
/// can let through twice the limit in one window: a full bucket, then its refill.)
/// </summary>
internal sealed class RateWindow
{
    internal struct Entry
    {
        public long At;
        public long Load;
        public int Requests;
    }

    private Entry[] _ring = new Entry[16];
    private int _head;
    private int _count;
    private long _headSeq;

    public long HeadSeq => _headSeq;
    public long NextSeq => _headSeq + _count;

    public long Requests { get; private set; }
    public long Load { get; private set; }
    public int Count => _count;

    /// <summary>Forgets entries that have left the window ending at <paramref name="now"/>.</summary>
    public void Prune(long now, long window)
    {
        long horizon = now - window;
        while (_count > 0 && _ring[_head].At <= horizon)
        {
            ref var e = ref _ring[_head];
            Requests -= e.Requests;
            Load -= e.Load;
            e = default;
            _head = (_head + 1) & (_ring.Length - 1);
            _headSeq++;
            _count--;
        }
        Debug.Assert(Requests >= 0 && Load >= 0);
    }

    /// <summary>Records spending at <paramref name="now"/>; returns the entry's sequence number.</summary>
    public long Record(long now, long load, int requests)
    {
        if (_count == _ring.Length)
            Grow();
        _ring[(_head + _count) & (_ring.Length - 1)] = new Entry { At = now, Load = load, Requests = requests };
        _count++;
        Requests += requests;
        Load += load;
        return _headSeq + _count - 1;
    }

    /// <summary>
    /// Corrects the load of entry <paramref name="seq"/> by <paramref name="delta"/>. If that entry has left the
    /// window already, extra spending is recorded now (late, so never undercounted) and a refund is moot.
    /// </summary>
    public void Correct(long seq, long delta, long now, long window)
    {
        if (delta == 0)
            return;
        Prune(now, window);
        if (seq >= _headSeq && seq < _headSeq + _count)
        {
            ref var e = ref _ring[(int)((_head + (seq - _headSeq)) & (_ring.Length - 1))];
            // A refund can take an entry to zero but never below: it cannot return more than it took.
            long applied = Math.Max(delta, -e.Load);
            e.Load += applied;
            Load += applied;
        }
        else if (delta > 0)
        {
            Record(now, delta, 0);
        }
    }

    /// <summary>
    /// The earliest time, no sooner than <paramref name="now"/>, at which spending <paramref name="load"/> as one
    /// request fits the limits, assuming nothing else is spent meanwhile. Walks only the entries that must leave.
    /// </summary>
    public long ReadyAt(long now, long window, long? requestLimit, long? loadLimit, long load)
    {
        long ready = now;
        if (requestLimit is { } rl && Requests + 1 > rl)
        {
            long mustFree = Requests + 1 - rl;
            for (int i = 0; i < _count && mustFree > 0; i++)
            {
                ref var e = ref _ring[(_head + i) & (_ring.Length - 1)];
                mustFree -= e.Requests;
                ready = Math.Max(ready, e.At + window);
            }
        }
        if (loadLimit is { } ll && Load + load > ll)
        {
            long mustFree = Load + load - ll;
            for (int i = 0; i < _count && mustFree > 0; i++)
            {
                ref var e = ref _ring[(_head + i) & (_ring.Length - 1)];
                mustFree -= e.Load;
                ready = Math.Max(ready, e.At + window);
            }
        }
        return ready;
    }

    public void Clear()
    {
        Array.Clear(_ring);
        _head = 0;
        _headSeq += _count;
        _count = 0;
        Requests = 0;
        Load = 0;
    }

    public Entry Get(long seq) => _ring[(int)((_head + (seq - _headSeq)) & (_ring.Length - 1))];

    /// <summary>Refills the log from stored entries (contiguous sequence numbers, any order).</summary>
    public void Restore(IEnumerable<(long Seq, long At, long Load, int Requests)> entries, long nextSeq)
    {
        Clear();
        var sorted = entries.OrderBy(e => e.Seq).ToList();
        _headSeq = sorted.Count > 0 ? sorted[0].Seq : nextSeq;
        foreach (var e in sorted)
        {
            if (e.Seq != NextSeq)
                throw new InvalidOperationException($"The stored window log skips from sequence {NextSeq} to {e.Seq}.");
            Record(e.At, e.Load, e.Requests);
        }
    }

    private void Grow()
    {
        var bigger = new Entry[_ring.Length * 2];
        for (int i = 0; i < _count; i++)
            bigger[i] = _ring[(_head + i) & (_ring.Length - 1)];
        _ring = bigger;
        _head = 0;
    }
}
