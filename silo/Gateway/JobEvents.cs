using System.Text.Json;
using OrleansQueue.Contracts;

namespace OrleansQueue.Silo.Gateway;

/// <summary>Server-sent events of one job: the job when the stream opens, then the job after each change (event name =
/// its state), until it finishes or the caller goes.</summary>
public static class JobEvents
{
    public static async Task Stream(string resource, long id, HttpContext context, JobOperations jobs)
    {
        var caller = context.Caller();
        var ct = context.RequestAborted;
        var observer = new ChannelObserver();
        using var registration = jobs.Observe(observer);
        var first = await jobs.WatchAsync(caller, resource, id, registration.Reference, ct);
        if (first.Problem is { } problem)
        {
            await HttpResults.Problem(problem).ExecuteAsync(context);
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var view = first.Value!;
        try
        {
            await WriteAsync(context, view, ct);
            while (!view.IsFinished)
            {
                var update = await observer.Updates.ReadAsync(ct);
                // Moved: the grain that had the subscription is gone; its next activation takes a new one.
                var now = update.Phase == RequestPhase.Moved
                    ? await jobs.WatchAsync(caller, resource, id, registration.Reference, ct)
                    : await jobs.GetAsync(caller, resource, id, ct);
                if (now.Value is null)
                    break;
                if (now.Value == view)
                    continue;
                view = now.Value;
                await WriteAsync(context, view, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            if (!view.IsFinished)
                await jobs.Unwatch(resource, id, registration.Reference);
        }
    }

    private static async Task WriteAsync(HttpContext context, JobView view, CancellationToken ct)
    {
        string name = JsonNamingPolicy.CamelCase.ConvertName(view.State.ToString());
        await context.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(view, ApiJson.Options)}\n\n", ct);
        await context.Response.Body.FlushAsync(ct);
    }
}
