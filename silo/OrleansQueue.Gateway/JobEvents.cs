using System.Text.Json;
using System.Threading.Channels;

namespace OrleansQueue.Gateway;

/// <summary>Server-sent events of one job, following its Orleans stream: the job when the stream opens, then the job
/// after each change (event name = its state), until it finishes or the caller goes.</summary>
internal static class JobEvents
{
    public static async Task Stream(string resource, long id, HttpContext context, JobOperations jobs)
    {
        var caller = context.Caller();
        var ct = context.RequestAborted;
        var changes = Channel.CreateUnbounded<JobView>(new() { SingleReader = true });
        var (first, watch) = await jobs.FollowAsync(caller, resource, id, view => changes.Writer.WriteAsync(view).AsTask(), ct);
        if (first.Problem is { } problem)
        {
            await HttpResults.Problem(problem).ExecuteAsync(context);
            return;
        }
        ServerSentEvents.Begin(context.Response);
        await using (watch)
        {
            var view = first.Value!;
            try
            {
                await WriteAsync(context, view, ct);
                while (!view.IsFinished)
                {
                    var now = await changes.Reader.ReadAsync(ct);
                    if (now == view)
                        continue;
                    view = now;
                    await WriteAsync(context, view, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
        }
    }

    private static Task WriteAsync(HttpContext context, JobView view, CancellationToken ct) =>
        ServerSentEvents.WriteAsync(context, JsonNamingPolicy.CamelCase.ConvertName(view.State.ToString()), view, ct);
}
