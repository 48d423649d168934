namespace OrleansQueue.Contracts;

/// <summary>The bounds the wire's inputs are checked against before any grain runs them (the scheduler holds the same ones;
/// a test keeps them equal).</summary>
public static class Limits
{
    /// <summary>The largest load one request may ask for or report.</summary>
    public const long MaxLoad = 1L << 40;

    /// <summary>The most requests one attach on the WebSocket may name; a client re-attaching more sends several.</summary>
    public const int MaxAttachIds = 1000;

    /// <summary>The longest idempotency key accepted.</summary>
    public const int MaxIdempotencyKeyLength = 200;
}
