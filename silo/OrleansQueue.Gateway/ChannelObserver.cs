using System.Threading.Channels;
using OrleansQueue.Contracts;

namespace OrleansQueue.Gateway;

/// <summary>An observer that queues the updates it is pushed, for a gateway call to read one at a time.</summary>
internal sealed class ChannelObserver : IResourceObserver
{
    private readonly Channel<RequestUpdate> _updates = Channel.CreateUnbounded<RequestUpdate>(new() { SingleReader = true });

    public ChannelReader<RequestUpdate> Updates => _updates.Reader;

    public Task OnUpdate(RequestUpdate update)
    {
        _updates.Writer.TryWrite(update);
        return Task.CompletedTask;
    }
}
