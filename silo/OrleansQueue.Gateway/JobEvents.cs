using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;

namespace OrleansQueue.Gateway;

/// <summary>
/// Server-sent events of one job, following its Orleans stream: its output so far and the job when the stream opens (event
/// name = its state), then the job after each change and each chunk of output as it is appended, until it finishes or the
/// caller goes. Output events are named <c>output</c>, carry a <see cref="JobOutputView"/>, and have the offset after them
/// as their <c>id</c>: a client that reconnects with <c>Last-Event-ID</c> (or <c>?after=</c>) gets only what came after.
/// Output always goes out in order and whole: a chunk the stream lost (a silo died) or that raced the first read is read
/// from the job instead, and a job's end goes out only after all its output.
/// </summary>
internal static class JobEvents
{
    public static async Task Stream(string resource, long id, long? after, HttpContext context, JobOperations jobs)
    {
        var caller = context.Caller();
        var ct = context.RequestAborted;
        if (ResumeOffset(context, after) is not { } sent)
        {
            await HttpResults.Problem(Problem.Invalid("Last-Event-ID", "Last-Event-ID (or after) must be an output offset this stream sent: a whole number, 0 or more.")).ExecuteAsync(context);
            return;
        }
        var changes = Channel.CreateUnbounded<JobView>(new() { SingleReader = true });
        var (first, watch) = await jobs.FollowAsync(caller, resource, id, view => changes.Writer.WriteAsync(view).AsTask(), ct);
        if (first.Problem is null && sent > first.Value!.OutputLength)
            first = Problem.Invalid("Last-Event-ID", $"Last-Event-ID (or after) is {sent}, beyond the job's output ({first.Value.OutputLength} bytes).");
        if (first.Problem is { } problem)
        {
            if (watch is not null)
                await watch.DisposeAsync();
            await HttpResults.Problem(problem).ExecuteAsync(context);
            return;
        }
        ServerSentEvents.Begin(context.Response);
        await using (watch)
        {
            var view = first.Value!;
            try
            {
                sent = await CatchUpAsync(sent, view.OutputLength);
                await WriteAsync(context, view, ct);
                while (!view.IsFinished)
                {
                    var now = await changes.Reader.ReadAsync(ct);
                    if (now.Output is { } chunk)
                    {
                        if (chunk.Offset == sent)
                            sent = await WriteOutputAsync(context, chunk, ct);
                        else if (chunk.Next > sent)
                            sent = await CatchUpAsync(sent, chunk.Next);
                        continue;
                    }
                    // A change made before the job was read can reach the stream after it (the stream is pulled): a view with
                    // less output than the one sent is older than it, and is not sent.
                    if (now == view || now.OutputLength < view.OutputLength)
                        continue;
                    sent = await CatchUpAsync(sent, now.OutputLength);
                    view = now;
                    await WriteAsync(context, view, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
        }

        // Reads and sends the output from where the stream stands up to at least `upTo` bytes.
        async Task<long> CatchUpAsync(long from, long upTo)
        {
            while (from < upTo)
            {
                var read = await jobs.ReadOutputAsync(caller, resource, id, from, ct);
                if (read.Value is not { } output || output.Next <= from)
                    break;
                from = await WriteOutputAsync(context, output, ct);
            }
            return from;
        }
    }

    /// <summary>Where the caller's output resumes: <c>Last-Event-ID</c>, else <c>?after=</c>, else the start; null when malformed.</summary>
    private static long? ResumeOffset(HttpContext context, long? after)
    {
        string? last = context.Request.Headers["Last-Event-ID"];
        if (string.IsNullOrEmpty(last))
            return after is null or >= 0 ? after ?? 0 : null;
        return long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out long offset) ? offset : null;
    }

    private static async Task<long> WriteOutputAsync(HttpContext context, JobOutputView output, CancellationToken ct)
    {
        await ServerSentEvents.WriteAsync(context, "output", output, ct, id: output.Next.ToString(CultureInfo.InvariantCulture));
        return output.Next;
    }

    private static Task WriteAsync(HttpContext context, JobView view, CancellationToken ct) =>
        ServerSentEvents.WriteAsync(context, JsonNamingPolicy.CamelCase.ConvertName(view.State.ToString()), view, ct);
}
