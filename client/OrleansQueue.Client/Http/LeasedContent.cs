using System.Net;

namespace OrleansQueue.Client;

/// <summary>
/// A response body that holds its request's lease until it has been read to its end (buffered by <c>HttpClient</c>, or a
/// stream read to its end) or disposed, then releases it once. While it streams, a lost lease ends the read with
/// <see cref="LeaseLostException"/>.
/// </summary>
internal sealed class LeasedContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly Func<Task> _release;
    private readonly CancellationToken _lost;
    private readonly Func<Exception> _lostError;
    private int _released;

    public LeasedContent(HttpContent inner, Func<Task> release, CancellationToken lost, Func<Exception> lostError)
    {
        _inner = inner;
        _release = release;
        _lost = lost;
        _lostError = lostError;
        foreach (var (name, values) in inner.Headers)
            Headers.TryAddWithoutValidation(name, values);
    }

    /// <summary>Releases the lease, once; the release runs on its own.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
            _ = _release();
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        await SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var body = await CreateContentReadStreamAsync(cancellationToken);
        await body.CopyToAsync(stream, cancellationToken);
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new ReleasingStream(await _inner.ReadAsStreamAsync(cancellationToken), this);

    protected override bool TryComputeLength(out long length)
    {
        length = _inner.Headers.ContentLength ?? -1;
        return length >= 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Release();
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The body's stream: the lease goes at its end or when it is disposed.</summary>
    private sealed class ReleasingStream(Stream inner, LeasedContent content) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Ended(ReadChecked(() => inner.Read(buffer, offset, count)));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ThrowIfLost();
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, content._lost);
            try
            {
                return Ended(await inner.ReadAsync(buffer, reading.Token));
            }
            catch (OperationCanceledException) when (content._lost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw content._lostError();
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int ReadChecked(Func<int> read)
        {
            ThrowIfLost();
            return read();
        }

        private void ThrowIfLost()
        {
            if (content._lost.IsCancellationRequested)
                throw content._lostError();
        }

        private int Ended(int read)
        {
            if (read == 0)
                content.Release();
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                content.Release();
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
