using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansQueue.Grains;
using OrleansQueue.Silo.Observability;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Runtime;

/// <summary>
/// The one activation of a resource's grain in this silo: a mailbox drained one turn at a time. A turn runs
/// every call waiting in the mailbox, commits their changes in one write, and only then answers the callers
/// and pushes the turn's events (group commit). Its timer is armed at the grain's next deadline, never polled.
/// </summary>
public sealed partial class GrainActivation
{
    private const int MaxCallsPerTurn = 512;

    private readonly Channel<WorkItem> _mailbox = Channel.CreateUnbounded<WorkItem>(new() { SingleReader = true });
    private readonly Dictionary<long, List<IGrainObserver>> _observers = [];
    private readonly List<RequestUpdate> _announcements = [];
    private readonly List<ResourceEvent> _events = [];
    private readonly IGrainStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<GrainActivation> _onClosed;
    private readonly TimeSpan _idleTimeout;
    private readonly ITimer _deadlineTimer;
    private readonly ITimer _idleTimer;
    private readonly GrainTurn _turn;
    private readonly Cluster.ClusterView _cluster;
    private int _tickPosted;

    internal GrainActivation(string name, long epoch, ResourceDefinition definition, ResourceScheduler grain, IGrainStore store, TimeProvider time,
        SiloMetrics metrics, ILogger logger, TimeSpan idleTimeout, Action<GrainActivation> onClosed, Cluster.ClusterView cluster)
    {
        _cluster = cluster;
        Name = name;
        Epoch = epoch;
        Definition = definition;
        Grain = grain;
        Metrics = metrics;
        _store = store;
        _time = time;
        _logger = logger;
        _idleTimeout = idleTimeout;
        _onClosed = onClosed;
        _turn = new GrainTurn(this);
        _deadlineTimer = time.CreateTimer(_ => PostTick(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _idleTimer = time.CreateTimer(_ => Post(new DeactivateItem()), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _ = Task.Run(RunAsync);
        PostTick(); // the first turn writes what the restore itself changed
    }

    public string Name { get; }

    /// <summary>The ownership epoch this activation commits under.</summary>
    public long Epoch { get; }

    /// <summary>Whether it closed for having nothing to do (rather than moving, stopping or failing).</summary>
    internal bool WentIdle { get; set; }
    public ResourceDefinition Definition { get; internal set; }
    internal ResourceScheduler Grain { get; }
    internal SiloMetrics Metrics { get; }
    internal RecentOutcomes Outcomes { get; } = new();
    internal bool CloseAfterTurn { get; set; }

    /// <summary>Requests waiting, as of the last turn (read by metrics from other threads).</summary>
    public int Waiting { get; private set; }

    /// <summary>Leases, as of the last turn.</summary>
    public int Leases { get; private set; }

    /// <summary>Runs <paramref name="call"/> on the grain's turn and answers once its changes are committed.</summary>
    public Task<T> CallAsync<T>(Func<GrainTurn, T> call)
    {
        var item = new CallItem<T>(call);
        Post(item);
        return item.Task;
    }

    private void Post(WorkItem item)
    {
        if (!_mailbox.Writer.TryWrite(item))
            item.Fail(new ActivationClosedException());
    }

    private void PostTick()
    {
        if (Interlocked.Exchange(ref _tickPosted, 1) == 0)
            Post(new TickItem(this));
    }

    private async Task RunAsync()
    {
        var batch = new List<WorkItem>(); // grows to the largest turn this grain has had: most grains never need 512
        var reader = _mailbox.Reader;
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxCallsPerTurn && reader.TryRead(out var item))
                batch.Add(item);
            if (!await RunTurnAsync(batch))
                return;
        }
    }

    /// <summary>One turn. Returns false when the activation closed.</summary>
    private async Task<bool> RunTurnAsync(List<WorkItem> batch)
    {
        foreach (var item in batch)
        {
            item.Execute(_turn);
            CollectEvents();
        }
        var changes = Grain.TakeChanges();
        if (!changes.IsEmpty)
        {
            try
            {
                // A silo out of touch with the cluster writes nothing: others may be about to take the resource over.
                if (!_cluster.IsHealthy)
                    throw new SiloUnavailableException();
                await _store.CommitAsync(Name, Epoch, changes, CancellationToken.None);
            }
            catch (Exception ex)
            {
                // The grain's memory is now ahead of the store: throw it away; the next call reloads what was committed.
                LogCommitFailed(ex, Name);
                foreach (var item in batch)
                    item.Fail(ex as GrainCallException ?? new StoreUnavailableException(Name, ex));
                _announcements.Clear();
                _events.Clear();
                Close();
                return false;
            }
        }
        Waiting = Grain.WaitingCount;
        Leases = Grain.LeaseCount;
        // Timers are armed before anyone hears of the turn, so nothing a caller does next can outrun them.
        if (!CloseAfterTurn)
            ArmTimers();
        foreach (var item in batch)
            item.Complete();
        Publish();
        if (CloseAfterTurn)
        {
            Close();
            return false;
        }
        return true;
    }

    /// <summary>
    /// Takes the events the last call caused. Endings are remembered at once, so a later call of the same turn
    /// that asks about the request finds how it ended; observers hear of them only after the commit.
    /// </summary>
    private void CollectEvents()
    {
        foreach (var e in Grain.Events)
        {
            _events.Add(e);
            Announce(RequestUpdate.FromEvent(Name, e));
        }
        Grain.ClearEvents();
    }

    private void Publish()
    {
        foreach (var e in _events)
        {
            if (e.Kind == ResourceEventKind.Granted)
                Metrics.Granted(Name, e.Waited);
            else if (e.Rejection is { } rejection)
                Metrics.Rejected(Name, rejection.Reason);
        }
        _events.Clear();
        foreach (var update in _announcements)
        {
            if (!_observers.TryGetValue(update.Id, out var observers))
                continue;
            foreach (var observer in observers.ToArray())
            {
                try
                {
                    observer.OnUpdate(update);
                }
                catch (Exception ex)
                {
                    LogObserverFailed(ex, Name, update.Id);
                    observers.Remove(observer);
                }
            }
            if (update.IsFinal || observers.Count == 0)
                _observers.Remove(update.Id);
        }
        _announcements.Clear();
    }

    internal void Announce(RequestUpdate update)
    {
        _announcements.Add(update);
        if (update.IsFinal)
            Outcomes.Record(update);
    }

    internal void Subscribe(long id, IGrainObserver observer)
    {
        if (!_observers.TryGetValue(id, out var list))
            _observers[id] = list = [];
        if (!list.Contains(observer))
            list.Add(observer);
    }

    internal void Unsubscribe(long id, IGrainObserver observer)
    {
        if (_observers.TryGetValue(id, out var list) && list.Remove(observer) && list.Count == 0)
            _observers.Remove(id);
    }

    private void ArmTimers()
    {
        if (Grain.GetNextDeadline() is { } deadline)
        {
            var due = deadline - _time.GetUtcNow();
            if (due <= TimeSpan.Zero)
                PostTick();
            else
                _deadlineTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _deadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        _idleTimer.Change(IsIdle ? _idleTimeout : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    internal bool HasNoObservers => _observers.Count == 0;

    // With nothing pending, every observed request has ended, so its observers go with this turn's updates.
    private bool IsIdle => !Grain.HasPendingWork;

    private void Close()
    {
        _mailbox.Writer.TryComplete();
        _deadlineTimer.Dispose();
        _idleTimer.Dispose();
        _onClosed(this);
        // Calls that raced the close are retried by the runtime on a fresh activation.
        while (_mailbox.Reader.TryRead(out var late))
            late.Fail(new ActivationClosedException());
        // Whoever still listens (the grain moved, the silo stops) hears so, and attaches again wherever it now lives.
        foreach (var (id, observers) in _observers)
        {
            var moved = new RequestUpdate(Name, id, RequestPhase.Moved, "");
            foreach (var observer in observers)
            {
                try
                {
                    observer.OnUpdate(moved);
                }
                catch (Exception ex)
                {
                    LogObserverFailed(ex, Name, id);
                }
            }
        }
        _observers.Clear();
        LogClosed(Name);
    }

    [LoggerMessage(LogLevel.Error, "Resource {Resource}: store commit failed; the activation is discarded and will reload")]
    private partial void LogCommitFailed(Exception ex, string resource);

    [LoggerMessage(LogLevel.Warning, "Resource {Resource}: observer of request {RequestId} failed and was dropped")]
    private partial void LogObserverFailed(Exception ex, string resource, long requestId);

    [LoggerMessage(LogLevel.Debug, "Resource {Resource} deactivated")]
    private partial void LogClosed(string resource);
}
