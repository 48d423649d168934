using Orleans.Streams;

namespace OrleansQueue.Grains;

/// <summary>
/// A job's changes (state, progress, partial output) go on an Orleans stream of its own, which whoever watches the job
/// follows (the gateway's SSE and WebSocket watches). Memory streams: a change in flight when a silo dies is lost, and a
/// watcher that attaches again reads the job as it stands first.
/// </summary>
internal static class JobStreams
{
    public const string Provider = "jobs";
    public const string PubSubStore = "PubSubStore";

    /// <summary>The stream of job <paramref name="id"/> of <paramref name="resource"/>.</summary>
    public static IAsyncStream<JobView> Of(IClusterClient client, string resource, long id) =>
        client.GetStreamProvider(Provider).GetStream<JobView>(StreamId.Create("job", $"{resource}/{id}"));

    public static IAsyncStream<JobView> Of(Grain grain, string resource, long id) =>
        grain.GetStreamProvider(Provider).GetStream<JobView>(StreamId.Create("job", $"{resource}/{id}"));

    /// <summary>Memory streams polled every 5 ms (the default 100 ms would be the latency of every progress report). Their
    /// subscriptions (one per watch) are kept with Orleans' own binary serializer: the default, JSON through Newtonsoft,
    /// was a tenth of the silo's CPU on the jobs path.</summary>
    public static ISiloBuilder AddJobStreams(this ISiloBuilder silo)
    {
        silo.AddMemoryGrainStorage(PubSubStore, options => options.Configure<Orleans.Serialization.Serializer>((o, serializer) =>
            o.GrainStorageSerializer = new Orleans.Storage.OrleansGrainStorageSerializer(serializer)));
        silo.AddMemoryStreams(Provider, streams => streams.ConfigurePullingAgent(agent =>
            agent.Configure(o => o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(5))));
        return silo;
    }
}
