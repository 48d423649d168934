namespace OrleansQueue.Scheduling.Internals;

/// <summary>One client's waiting requests at one priority level, oldest first (an intrusive list).</summary>
internal sealed class ClientQueue(ClientState owner, int level)
{
    public readonly ClientState Owner = owner;
    public readonly int Level = level;
    public Request? Head;
    public Request? Tail;
    public int Count;

    // Fair-queuing tags in units of load: the head's virtual start and finish. The client whose head
    // finishes first is served next; TagSeq breaks ties in the order the tags were set (round-robin).
    public long StartTag;
    public long FinishTag;
    public long TagSeq;
    public long LastFinish;
    public int HeapIndex = -1;

    public void Append(Request request)
    {
        request.Queue = this;
        request.Prev = Tail;
        request.Next = null;
        if (Tail is null)
            Head = request;
        else
            Tail.Next = request;
        Tail = request;
        Count++;
    }

    public void Prepend(Request request)
    {
        request.Queue = this;
        request.Prev = null;
        request.Next = Head;
        if (Head is null)
            Tail = request;
        else
            Head.Prev = request;
        Head = request;
        Count++;
    }

    public void Unlink(Request request)
    {
        if (request.Prev is null)
            Head = request.Next;
        else
            request.Prev.Next = request.Next;
        if (request.Next is null)
            Tail = request.Prev;
        else
            request.Next.Prev = request.Prev;
        request.Prev = request.Next = null;
        request.Queue = null;
        Count--;
    }
}
