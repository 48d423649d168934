using System.Diagnostics;

namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// A min-heap of request deadlines with lazy deletion: ending a request or moving its deadline only
/// bumps <see cref="Request.Version"/>, and stale entries are dropped when they reach the top or when
/// they outnumber the live ones (an O(n) rebuild, amortised O(1)). Grants and releases thus never sift
/// the heap, which keeps their cost flat as the waitlist grows.
/// </summary>
internal sealed class TimerQueue
{
    private struct Entry
    {
        public long At;
        public Request Request;
        public int Version;
    }

    private Entry[] _heap = new Entry[16];
    private int _count;

    public int Count => _count;

    /// <summary>Arms <paramref name="request"/>'s timer at <paramref name="at"/>, superseding any earlier one.</summary>
    /// <remarks><paramref name="liveTimers"/> (how many requests have a timer) decides when to purge stale entries.</remarks>
    public void Schedule(Request request, long at, int liveTimers)
    {
        request.Version++;
        request.TimerAt = at;
        if (_count >= 64 && _count > 2 * liveTimers)
            Purge();
        if (_count == _heap.Length)
            Array.Resize(ref _heap, _heap.Length * 2);
        _heap[_count] = new Entry { At = at, Request = request, Version = request.Version };
        SiftUp(_count++);
    }

    /// <summary>Disarms <paramref name="request"/>'s timer.</summary>
    public static void Cancel(Request request) => request.Version++;

    /// <summary>The earliest live deadline, or <see cref="long.MaxValue"/> when none.</summary>
    public long PeekAt()
    {
        DropStaleTop();
        return _count == 0 ? long.MaxValue : _heap[0].At;
    }

    /// <summary>Takes the earliest live request whose deadline is at or before <paramref name="now"/>.</summary>
    public Request? PopDue(long now)
    {
        DropStaleTop();
        if (_count == 0 || _heap[0].At > now)
            return null;
        var request = _heap[0].Request;
        RemoveTop();
        request.Version++;
        return request;
    }

    private void DropStaleTop()
    {
        while (_count > 0 && _heap[0].Version != _heap[0].Request.Version)
            RemoveTop();
    }

    private void RemoveTop()
    {
        _count--;
        _heap[0] = _heap[_count];
        _heap[_count] = default;
        if (_count > 0)
            SiftDown(0);
    }

    private void Purge()
    {
        int kept = 0;
        for (int i = 0; i < _count; i++)
        {
            if (_heap[i].Version == _heap[i].Request.Version)
                _heap[kept++] = _heap[i];
        }
        Array.Clear(_heap, kept, _count - kept);
        _count = kept;
        for (int i = (_count >> 1) - 1; i >= 0; i--)
            SiftDown(i);
    }

    private void SiftUp(int i)
    {
        var item = _heap[i];
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (_heap[parent].At <= item.At)
                break;
            _heap[i] = _heap[parent];
            i = parent;
        }
        _heap[i] = item;
    }

    private void SiftDown(int i)
    {
        var item = _heap[i];
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _count)
                break;
            if (child + 1 < _count && _heap[child + 1].At < _heap[child].At)
                child++;
            if (item.At <= _heap[child].At)
                break;
            _heap[i] = _heap[child];
            i = child;
        }
        _heap[i] = item;
        Debug.Assert(_count == 0 || i < _count);
    }
}
