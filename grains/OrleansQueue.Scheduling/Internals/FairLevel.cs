namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// One priority level: a min-heap of its backlogged clients ordered by the virtual finish tag of each
/// client's head request. This is deficit round-robin by load, kept exact for any load size: a client's
/// head is charged its load in virtual time, so a client sending big or many requests falls behind the
/// others in proportion, a newcomer starts at the current virtual time (no hoarded credit), and a big
/// request is passed only until the small ones' tags catch up with its own. A client's weight divides what its
/// requests cost in virtual time, so backlogged clients receive load in proportion to their weights.
/// </summary>
internal sealed class FairLevel
{
    // Tags are renormalised before they could overflow: a cost is at most 2^40 x Scale (under 2^55).
    private const long RenormaliseAbove = 1L << 61;

    /// <summary>Virtual time per unit of load at weight 1: divisible by every weight up to 12, so that common weights cost exactly.</summary>
    private const long Scale = 27_720;

    private static long Cost(ClientQueue queue, long load) => load * Scale / queue.Owner.Weight;

    private ClientQueue[] _heap = new ClientQueue[8];
    private int _count;
    private long _tagSeq;

    public long VirtualTime;
    public int Waiting;

    public ClientQueue? Top => _count == 0 ? null : _heap[0];

    /// <summary>Adds <paramref name="request"/> at the tail of its client's queue at this level.</summary>
    public void Enqueue(ClientQueue queue, Request request)
    {
        queue.Append(request);
        Waiting++;
        if (queue.Count == 1)
        {
            // LastFinish is at most one load ahead of virtual time, unless tags were renormalised since.
            long last = queue.LastFinish > VirtualTime + ResourcePolicy.MaxLoad * Scale ? VirtualTime : queue.LastFinish;
            queue.StartTag = Math.Max(VirtualTime, last);
            queue.FinishTag = queue.StartTag + Cost(queue, request.Load);
            queue.TagSeq = ++_tagSeq;
            Insert(queue);
        }
    }

    /// <summary>Puts <paramref name="request"/> back at the head of its client's queue (a job recovered from a worker that
    /// stopped answering keeps its place); the client keeps its place in virtual time.</summary>
    public void EnqueueFront(ClientQueue queue, Request request)
    {
        if (queue.Count == 0)
        {
            Enqueue(queue, request);
            return;
        }
        queue.Prepend(request);
        Waiting++;
        queue.FinishTag = queue.StartTag + Cost(queue, request.Load);
        Update(queue.HeapIndex);
    }

    /// <summary>Removes the head of the top client, advancing virtual time: the request is being served.</summary>
    public Request ServeTop()
    {
        var queue = _heap[0];
        var request = queue.Head!;
        VirtualTime = Math.Max(VirtualTime, queue.StartTag);
        queue.Unlink(request);
        Waiting--;
        if (queue.Head is { } next)
        {
            queue.StartTag = queue.FinishTag;
            queue.FinishTag = queue.StartTag + Cost(queue, next.Load);
            queue.TagSeq = ++_tagSeq;
            SiftDown(0);
        }
        else
        {
            queue.LastFinish = queue.FinishTag;
            RemoveAt(0);
        }
        if (VirtualTime > RenormaliseAbove)
            Renormalise();
        return request;
    }

    /// <summary>Removes a request that leaves without being served (cancelled, timed out, promoted).</summary>
    public void Remove(Request request)
    {
        var queue = request.Queue!;
        bool wasHead = queue.Head == request;
        queue.Unlink(request);
        Waiting--;
        if (!wasHead)
            return;
        if (queue.Head is { } next)
        {
            // The client keeps its place in virtual time; only its head's size changed.
            queue.FinishTag = queue.StartTag + Cost(queue, next.Load);
            Update(queue.HeapIndex);
        }
        else
        {
            queue.LastFinish = queue.StartTag;
            RemoveAt(queue.HeapIndex);
        }
    }

    private void Renormalise()
    {
        long shift = VirtualTime;
        VirtualTime = 0;
        for (int i = 0; i < _count; i++)
        {
            _heap[i].StartTag -= shift;
            _heap[i].FinishTag -= shift;
        }
    }

    private static bool Less(ClientQueue a, ClientQueue b) =>
        a.FinishTag < b.FinishTag || (a.FinishTag == b.FinishTag && a.TagSeq < b.TagSeq);

    private void Insert(ClientQueue queue)
    {
        if (_count == _heap.Length)
            Array.Resize(ref _heap, _count * 2);
        _heap[_count] = queue;
        queue.HeapIndex = _count;
        SiftUp(_count++);
    }

    private void RemoveAt(int i)
    {
        var removed = _heap[i];
        _count--;
        if (i != _count)
        {
            _heap[i] = _heap[_count];
            _heap[i].HeapIndex = i;
            _heap[_count] = null!;
            Update(i);
        }
        else
        {
            _heap[_count] = null!;
        }
        removed.HeapIndex = -1;
    }

    private void Update(int i)
    {
        if (i > 0 && Less(_heap[i], _heap[(i - 1) >> 1]))
            SiftUp(i);
        else
            SiftDown(i);
    }

    private void SiftUp(int i)
    {
        var item = _heap[i];
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!Less(item, _heap[parent]))
                break;
            Place(i, _heap[parent]);
            i = parent;
        }
        Place(i, item);
    }

    private void SiftDown(int i)
    {
        var item = _heap[i];
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _count)
                break;
            if (child + 1 < _count && Less(_heap[child + 1], _heap[child]))
                child++;
            if (!Less(_heap[child], item))
                break;
            Place(i, _heap[child]);
            i = child;
        }
        Place(i, item);
    }

    private void Place(int i, ClientQueue queue)
    {
        _heap[i] = queue;
        queue.HeapIndex = i;
    }
}
