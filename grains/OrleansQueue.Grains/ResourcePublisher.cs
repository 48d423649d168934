using Orleans.Streams;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Grains;

/// <summary>An update to announce once durable, and the scheduler event it came from (none for a claim or a release).</summary>
internal readonly record struct Notice(RequestUpdate Update, ResourceEvent? Cause);

/// <summary>
/// Tells what a resource's batch changed, once the batch is durable (<see cref="GroupCommit{TNotice}"/> hands it over):
/// the silo's live figures and metrics, each changed job's stream (in order, one change at a time, so watchers see them
/// as they happened), and the requests' observers.
/// </summary>
internal sealed partial class ResourcePublisher(string resource, SiloMetrics metrics, LiveResources live,
    Func<long, IAsyncStream<JobView>> jobStream, ILogger logger)
{
    /// <summary>Who listens to a job's changes sees every worker and client under its full name; the gateway shows each
    /// watcher its own.</summary>
    private static readonly Caller Everyone = new("", IsAdmin: true);

    private Task _jobStreamTail = Task.CompletedTask;

    /// <summary>The observers of the resource's requests (and of its jobs and workers' polls).</summary>
    public RequestObservers Observers { get; } = new((observer, update) => Push(observer, update, logger));

    public void Publish(List<Notice> notices, ResourceScheduler scheduler)
    {
        live.Update(resource, scheduler.WaitingCount, scheduler.LeaseCount, scheduler.WorkingFactor);
        foreach (var (update, cause) in notices)
        {
            if (cause is { Kind: ResourceEventKind.JobOutput, Output: { } chunk })
            {
                // Only the job's followers hear of output: its long-polls wait for its end, not for every chunk.
                if (scheduler.GetJob(chunk.JobId) is { } appendedTo)
                    PublishJob(WireMapping.ViewOf(resource, appendedTo, Everyone, withPayload: false) with { Output = WireMapping.ViewOf(resource, chunk, appendedTo) });
                continue;
            }
            if (cause is { } e)
            {
                if (e.Kind == ResourceEventKind.Granted)
                    metrics.Granted(resource, e.Waited);
                else if (e.Rejection is { } rejection)
                    metrics.Rejected(resource, rejection.Reason.ToWire());
                else if (e.Kind == ResourceEventKind.JobChanged && scheduler.GetJob(e.RequestId) is { } job)
                    PublishJob(WireMapping.ViewOf(resource, job, Everyone, withPayload: false));
            }
            Observers.Publish(update);
        }
    }

    /// <summary>Puts a job's change on its stream, after the ones before it.</summary>
    private void PublishJob(JobView view)
    {
        var previous = _jobStreamTail;
        _jobStreamTail = PublishAfterAsync(previous, view);

        async Task PublishAfterAsync(Task before, JobView change)
        {
            await before;
            try
            {
                await jobStream(change.Id).OnNextAsync(change);
            }
            catch (Exception ex)
            {
                LogJobStreamFailed(logger, ex, resource, change.Id);
            }
        }
    }

    private static void Push(IResourceObserver observer, RequestUpdate update, ILogger logger)
    {
        try
        {
            _ = observer.OnUpdate(update); // one-way: completes at once
        }
        catch (Exception ex)
        {
            LogObserverFailed(logger, ex, update.Resource, update.Id);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Resource {Resource}: the change of job {JobId} could not be put on its stream")]
    private static partial void LogJobStreamFailed(ILogger logger, Exception ex, string resource, long jobId);

    [LoggerMessage(LogLevel.Warning, "Resource {Resource}: observer of request {RequestId} failed")]
    private static partial void LogObserverFailed(ILogger logger, Exception ex, string resource, long requestId);
}
