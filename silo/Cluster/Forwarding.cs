using OrleansQueue.Silo.Gateway;

namespace OrleansQueue.Silo.Cluster;

/// <summary>
/// Makes every silo a gateway: an HTTP call about a resource placed on another silo is forwarded there over the pooled
/// internal connections, and the answer (a server-sent-events stream too) is copied back as it comes.
/// A forwarded call is never forwarded again: the receiver runs it, or answers that the resource is moving.
/// </summary>
public static class Forwarding
{
    private static readonly HashSet<string> RequestHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        ApiKeyAuthenticator.Header, "Authorization", "Accept", "Last-Event-ID",
    };

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Trailer", "TE",
    };

    public static WebApplication UseClusterForwarding(this WebApplication app)
    {
        var view = app.Services.GetRequiredService<ClusterView>();
        if (!view.IsClustered)
            return app;
        var peers = app.Services.GetRequiredService<PeerConnector>();
        app.Use(async (context, next) =>
        {
            if (context.Request.Headers.ContainsKey(PeerConnector.ForwardedHeader))
            {
                if (view.Paused)
                    await HttpResults.Problem(Problem.Moved("This silo is paused.")).ExecuteAsync(context);
                else
                    await next(context);
                return;
            }
            if (ResourceOf(context.Request.Path) is not { } resource || view.IsLocal(resource) || !await ForwardAsync(context, peers, view, resource))
                await next(context);
        });
        return app;
    }

    /// <summary>The resource a path is about: /v1/resources/{name} and everything under it.</summary>
    internal static string? ResourceOf(PathString path)
    {
        if (!path.StartsWithSegments("/v1/resources", StringComparison.Ordinal, out var rest) || !rest.HasValue)
            return null;
        string value = rest.Value!;
        int end = value.IndexOf('/', 1);
        string name = end < 0 ? value[1..] : value[1..end];
        return name.Length == 0 ? null : Uri.UnescapeDataString(name);
    }

    /// <summary>
    /// Forwards the call to the resource's owner. While the owner cannot be reached (it may have died: the cluster needs
    /// up to <see cref="ClusterView.DeadAfter"/> to notice), tries again, placing the resource afresh each time (the body
    /// is buffered for that). Returns false when the resource is now placed here, for the caller to run it.
    /// </summary>
    private static async Task<bool> ForwardAsync(HttpContext context, PeerConnector peers, ClusterView view, string resource)
    {
        var ct = context.RequestAborted;
        context.Request.EnableBuffering();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        HttpResponseMessage response;
        while (true)
        {
            var owner = view.OwnerOf(resource);
            if (owner.Id == view.Local.Id)
                return false;
            context.Request.Body.Position = 0;
            var request = new HttpRequestMessage(new HttpMethod(context.Request.Method),
                new Uri(new Uri(owner.Address), context.Request.PathBase + context.Request.Path + context.Request.QueryString));
            if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
            {
                request.Content = new StreamContent(new NonClosingStream(context.Request.Body));
                if (context.Request.ContentType is { } type)
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            }
            foreach (var (name, values) in context.Request.Headers)
            {
                if (RequestHeaders.Contains(name))
                    request.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
            request.Headers.TryAddWithoutValidation(PeerConnector.ForwardedHeader, view.Local.Id);
            try
            {
                response = await peers.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                break;
            }
            catch (HttpRequestException ex)
            {
                if (deadline.Elapsed > view.DeadAfter * 2)
                {
                    await HttpResults.Problem(Problem.Moved($"The silo that runs this resource did not answer ({ex.Message}).")).ExecuteAsync(context);
                    return true;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
            }
        }
        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(name))
                    context.Response.Headers[name] = values.ToArray();
            }
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await body.ReadAsync(buffer, ct)) > 0)
                {
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
                    await context.Response.Body.FlushAsync(ct); // events are passed on as they come
                }
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException && !ct.IsCancellationRequested)
            {
                context.Abort(); // the owner went away mid-answer: the caller sees the connection drop and retries
            }
        }
        return true;
    }

    /// <summary>The request body, kept open when a failed attempt's content is disposed, so the next attempt can send it again.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { }
    }
}
