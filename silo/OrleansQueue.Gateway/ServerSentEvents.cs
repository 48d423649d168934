using System.Text.Json;
using OrleansQueue.Contracts;

namespace OrleansQueue.Gateway;

/// <summary>
/// A server-sent-events stream of one request: its state when the stream opens, then each change the moment it is
/// committed (event name = the new state), until the request ends or the caller goes. It follows the request across a
/// move of its grain (or the death of its silo) by attaching again. A comment every 15 seconds
/// keeps proxies from closing a quiet stream.
/// </summary>
internal static class ServerSentEvents
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static async Task Stream(string resource, long id, HttpContext context, RequestOperations operations)
    {
        var caller = context.Caller();
        var observer = new ChannelObserver();
        using var registration = operations.Observe(observer);
        var ct = context.RequestAborted;
        var first = await operations.AttachAsync(caller, resource, id, registration.Reference, ct);
        if (first.Problem is { } problem)
        {
            await HttpResults.Problem(problem).ExecuteAsync(context);
            return;
        }
        Begin(context.Response);
        var view = first.Value!;
        try
        {
            await WriteAsync(context, view, ct);
            while (!IsFinal(view))
            {
                using var keepAlive = CancellationTokenSource.CreateLinkedTokenSource(ct);
                keepAlive.CancelAfter(KeepAlive);
                RequestUpdate update;
                try
                {
                    update = await observer.Updates.ReadAsync(keepAlive.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", ct);
                    await context.Response.Body.FlushAsync(ct);
                    continue;
                }
                if (update.Phase == RequestPhase.Moved)
                {
                    // The grain that had the subscription is gone (it moved, or its silo died): attach to its next
                    // activation, which has the request from the store, and say where it stands if that changed.
                    var again = await operations.AttachAsync(caller, resource, id, registration.Reference, ct);
                    if (again.Value is not { } now)
                        break;
                    if (now != view)
                        await WriteAsync(context, view = now, ct);
                    continue;
                }
                view = RequestView.Of(update, caller);
                await WriteAsync(context, view, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The caller went away.
        }
        finally
        {
            if (!IsFinal(view))
                await operations.Detach(resource, id, registration.Reference);
        }
    }

    private static bool IsFinal(RequestView view) => view.State is not (RequestPhase.Waiting or RequestPhase.Granted or RequestPhase.Held);

    private static Task WriteAsync(HttpContext context, RequestView view, CancellationToken ct) =>
        WriteAsync(context, JsonNamingPolicy.CamelCase.ConvertName(view.State.ToString()), view, ct);

    /// <summary>Starts an event stream: its type, and no caching or buffering by proxies.</summary>
    public static void Begin(HttpResponse response)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
    }

    /// <summary>Sends one event, <paramref name="value"/> as JSON, at once; with <paramref name="id"/>, the id a client that
    /// reconnects sends back as Last-Event-ID.</summary>
    public static async Task WriteAsync<T>(HttpContext context, string name, T value, CancellationToken ct, string? id = null)
    {
        string idLine = id is null ? "" : $"id: {id}\n";
        await context.Response.WriteAsync($"event: {name}\n{idLine}data: {JsonSerializer.Serialize(value, ApiJson.Options)}\n\n", ct);
        await context.Response.Body.FlushAsync(ct);
    }
}
