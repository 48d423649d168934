using System.IO.Pipelines;
using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using OrleansQueue.Silo.Gateway;

namespace OrleansQueue.Silo.Hosting;

/// <summary>
/// Opens a WebSocket session to this silo without a socket: two in-memory pipes carry the WebSocket frames, and the
/// silo end runs the same <see cref="WebSocketSession"/> as a network client gets. A co-hosted client uses it, so
/// the protocol and all its behaviour are the same in process and over the network. The caller is tenant "default".
/// </summary>
public sealed class InProcessConnector(RequestOperations operations, JobOperations jobs, IOptions<SiloOptions> options, IHostApplicationLifetime lifetime)
{
    private static readonly Caller InProcess = new("default", IsAdmin: true);

    public Task<WebSocket> ConnectAsync(CancellationToken cancellationToken)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
            throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The co-hosted silo is stopping.");
        var toSilo = new Pipe();
        var toClient = new Pipe();
        var siloSocket = WebSocket.CreateFromStream(new DuplexStream(toSilo.Reader.AsStream(), toClient.Writer.AsStream()),
            new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = Timeout.InfiniteTimeSpan });
        var clientSocket = WebSocket.CreateFromStream(new DuplexStream(toClient.Reader.AsStream(), toSilo.Writer.AsStream()),
            new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = Timeout.InfiniteTimeSpan });
        var session = new WebSocketSession(siloSocket, InProcess, operations, jobs, options.Value.MaxRequestBodyBytes);
        _ = Task.Run(async () =>
        {
            try
            {
                await session.RunAsync(lifetime.ApplicationStopping);
            }
            finally
            {
                siloSocket.Dispose();
                await toClient.Writer.CompleteAsync();
            }
        }, CancellationToken.None);
        return Task.FromResult(clientSocket);
    }

    /// <summary>Reads from one pipe, writes to the other.</summary>
    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => input.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => input.ReadAsync(buffer, offset, count, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => output.WriteAsync(buffer, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => output.WriteAsync(buffer, offset, count, cancellationToken);
        public override void Flush() => output.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                input.Dispose();
                output.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
