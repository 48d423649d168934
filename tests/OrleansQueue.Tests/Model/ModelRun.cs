using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Tests.Model;

/// <summary>
/// Drives a <see cref="ResourceScheduler"/> with random operations from one seed and checks every promise
/// against a <see cref="ReferenceModel"/> after every step. Deterministic: the seed replays the run.
/// </summary>
internal sealed partial class ModelRun
{
    private static readonly string[] Clients = ["ann", "bob", "cyd", "dee", "eve", "fay"];

    private readonly int _seed;
    private readonly Random _rng;
    private readonly ManualClock _clock = new();
    private readonly StoredResourceState _store;
    private ResourceScheduler _grain;
    private readonly ReferenceModel _model;
    private readonly bool _equalLoads;
    private readonly bool _withJobs;
    private readonly long[] _levelLoads = new long[PriorityLevels.Count];
    private readonly Dictionary<long, string> _outcomes = [];
    private readonly Queue<string> _recent = new();
    private readonly FairnessLedger _fairness = new();
    private int _step;
    private string _op = "";

    public ModelRun(int seed)
    {
        _seed = seed;
        _rng = new Random(seed);
        _equalLoads = seed % 2 == 0;
        _withJobs = seed % 4 == 1;
        var policy = RandomPolicy(aging: !_equalLoads && seed % 3 == 0);
        _grain = new ResourceScheduler("model", policy, _clock);
        _grain.TrackChanges();
        _store = new StoredResourceState(policy);
        _model = new ReferenceModel(policy);
        for (int i = 0; i < _levelLoads.Length; i++)
            _levelLoads[i] = RandomLoad();
    }

    public long Grants { get; private set; }

    private long Now => _clock.GetUtcNow().UtcTicks;

    public void Run(int operations)
    {
        for (_step = 0; _step < operations; _step++)
        {
            int dice = _rng.Next(100);
            if (dice < 40) Acquire();
            else if (dice < 55) Release();
            else if (dice < 63) Renew();
            else if (dice < 70) Cancel();
            else if (dice < 93) AdvanceTime(_rng.Next(4) == 0 ? _model.Policy.Window * 1.5 : TimeSpan.FromSeconds(2));
            else if (dice < 98) Do("spurious tick", () => _grain.Tick());
            else if (dice < 99) ChangePolicy();
            else Restart();
            if (_withJobs && _rng.Next(4) == 0) JobOperation();
            _store.Apply(_grain.TakeChanges());
            CheckSettled();
        }
        DrainToTheEnd();
    }

    private ResourcePolicy RandomPolicy(bool aging)
    {
        var policy = new ResourcePolicy
        {
            MaxConcurrent = _rng.Next(3) == 0 ? null : _rng.Next(1, 6),
            RequestsPerWindow = _rng.Next(3) == 0 ? null : _rng.Next(3, 30),
            LoadPerWindow = _rng.Next(3) == 0 ? null : _rng.Next(200, 3000),
            Window = TimeSpan.FromMilliseconds(_rng.Next(1_000, 20_000)),
            MaxQueueLength = _rng.Next(10, 80),
            MaxQueuedPerClient = _rng.Next(4, 30),
            DefaultMaxWait = TimeSpan.FromMilliseconds(_rng.Next(500, 30_000)),
            MaxWait = TimeSpan.FromSeconds(60),
            LeaseTtl = TimeSpan.FromMilliseconds(_rng.Next(2_000, 20_000)),
            ClaimWindow = TimeSpan.FromMilliseconds(_rng.Next(300, 2_000)),
            AgingInterval = aging ? TimeSpan.FromMilliseconds(_rng.Next(500, 5_000)) : null,
        };
        return policy.MaxConcurrent is null && policy.RequestsPerWindow is null && policy.LoadPerWindow is null
            ? policy with { MaxConcurrent = 2 }
            : policy;
    }

    private long RandomLoad() => _rng.Next(1, 150);

    private void Acquire()
    {
        string client = Clients[_rng.Next(Clients.Length)];
        var priority = (Priority)_rng.Next(PriorityLevels.Count);
        long load = _equalLoads ? _levelLoads[(int)priority] : RandomLoad();
        int waitDice = _rng.Next(10);
        TimeSpan? maxWait = waitDice == 0 ? TimeSpan.Zero : waitDice < 3 ? null : TimeSpan.FromMilliseconds(_rng.Next(1, 60_000));
        bool fitsAndNobodyWaits = _model.Waiting.Count == 0 && !JobsCompete && _model.WhyItDoesNotFit(load, Now) is null;
        int clientWaiting = _model.Waiting.Values.Count(w => w.Client == client);

        AcquireResult result = default;
        Do($"acquire {client} load {load} {priority} wait {maxWait?.TotalMilliseconds.ToString() ?? "default"}",
            () => result = _grain.Acquire(client, load, priority, maxWait));

        if (fitsAndNobodyWaits && _model.Waiting.Count == 0)
            Expect(result.Outcome == AcquireOutcome.Granted, $"an idle resource with budget answered {result}");
        switch (result.Outcome)
        {
            case AcquireOutcome.Granted:
                var lease = OnGrant(result.RequestId, client, load, priority, enqueuedAt: Now, result.FencingToken, claimed: true);
                Expect(result.ExpiresAt.UtcTicks == Now + _model.Policy.LeaseTtl.Ticks, "a lease's expiry is one TTL away");
                lease.ExpiresAt = result.ExpiresAt.UtcTicks;
                break;
            case AcquireOutcome.Queued:
                Expect(_model.Waiting.Count < _model.Policy.MaxQueueLength, "queued beyond MaxQueueLength");
                Expect(clientWaiting < _model.Policy.MaxQueuedPerClient, "queued beyond MaxQueuedPerClient");
                Expect(maxWait != TimeSpan.Zero, "queued a request that may not wait");
                long wait = (maxWait ?? _model.Policy.DefaultMaxWait).Ticks;
                var waiter = new ReferenceModel.Waiter(result.RequestId, client, load, priority, Now, Now + wait);
                _model.Waiting.Add(waiter.Id, waiter);
                _fairness.Joined(waiter, _model);
                break;
            default:
                var reason = result.Rejection.Reason;
                bool justified = reason switch
                {
                    RejectionReason.QueueFull => _model.Waiting.Count >= _model.Policy.MaxQueueLength,
                    RejectionReason.ClientQuotaExceeded => clientWaiting >= _model.Policy.MaxQueuedPerClient,
                    RejectionReason.TimedOut => maxWait == TimeSpan.Zero,
                    RejectionReason.InvalidLoad => load > _model.Policy.LoadPerWindow,
                    _ => false,
                };
                Expect(justified, $"unjustified rejection {reason}: {result.Rejection.Message}");
                break;
        }
    }

    private void Release()
    {
        var lease = PickLease();
        long id = lease?.Id ?? NeverIssuedId();
        long? actual = lease is not null && _rng.Next(2) == 0 ? _rng.NextInt64(0, lease.Load + 1) : null;
        LeaseResult result = default;
        Settle();
        Do($"release {id} actual {actual?.ToString() ?? "-"}", () => result = _grain.Release(id, actual), () =>
        {
            ExpectLeaseAnswer(id, result, lease);
            if (lease is not null)
            {
                if (actual is { } a)
                    _model.Correct(lease, a, Now);
                EndLease(lease, "released");
            }
        });
    }

    /// <summary>Applies what is due at this instant, so that the next operation's events are its own.</summary>
    private void Settle() => Do("settle", () => _grain.Tick());

    private void Renew()
    {
        var lease = PickLease();
        long id = lease?.Id ?? NeverIssuedId();
        LeaseResult result = default;
        Settle();
        Do($"renew {id}", () => result = _grain.Renew(id), () =>
        {
            ExpectLeaseAnswer(id, result, lease);
            if (lease is not null)
            {
                Expect(result.ExpiresAt.UtcTicks == Now + _model.Policy.LeaseTtl.Ticks, "a renewal lasts one TTL");
                lease.Claimed = true;
                lease.ExpiresAt = result.ExpiresAt.UtcTicks;
            }
        });
    }

    private void Cancel()
    {
        long id;
        if (_model.Waiting.Count > 0 && _rng.Next(4) > 0)
            id = _model.Waiting.Keys.ElementAt(_rng.Next(_model.Waiting.Count));
        else
            id = PickLease()?.Id ?? NeverIssuedId();
        LeaseResult result = default;
        Settle();
        Do($"cancel {id}", () => result = _grain.Cancel(id), () =>
        {
            bool known = _model.Waiting.ContainsKey(id) || _model.Leases.ContainsKey(id);
            Expect(result.IsOk == known, $"cancel of {(known ? "a live" : "an unknown")} request answered {result.Outcome}");
            if (_model.Waiting.Remove(id, out var waiter))
            {
                _fairness.Left(waiter, _model);
                Outcome(id, "cancelled");
            }
            else if (_model.Leases.TryGetValue(id, out var lease))
            {
                EndLease(lease, "released");
            }
        });
    }

    private void ChangePolicy()
    {
        var current = _model.Policy;
        var next = RandomPolicy(current.AgingInterval is not null) with { Window = current.Window, MaxWait = current.MaxWait };
        next = next with { DefaultMaxWait = TimeSpan.FromTicks(Math.Min(next.DefaultMaxWait.Ticks, next.MaxWait.Ticks)) };
        // Clocks of the old policy apply up to now; the new one from now on.
        Settle();
        Do($"policy {next}", () => _grain.UpdatePolicy(next), () => _model.ChangePolicy(next, Now));
    }

    /// <summary>
    /// Throws the grain away and restores it from what was committed, at the same instant: the model must not
    /// notice. Fair-queuing credit starts afresh after a restart, so fairness is judged anew from here.
    /// </summary>
    private void Restart()
    {
        Do("restart", () =>
        {
            _store.Apply(_grain.TakeChanges());
            _grain = ResourceScheduler.Restore("model", _store.ToSnapshot(), _clock);
            _grain.TrackChanges();
        }, () => _model.Restored(Now));
        _polls.Clear(); // workers' waits are not stored: after a restart they ask again
        _fairness.StartAfresh();
    }

    /// <summary>Moves time forward as a host would: ticking exactly at each deadline the grain announces.</summary>
    private void AdvanceTime(TimeSpan upTo)
    {
        long target = Now + (long)(_rng.NextDouble() * upTo.Ticks);
        while (_grain.GetNextDeadline() is { } deadline && deadline.UtcTicks <= target)
        {
            _clock.AdvanceTo(deadline);
            Do($"tick at deadline {deadline:HH:mm:ss.fffffff}", () => _grain.Tick());
            CheckSettled();
        }
        _clock.AdvanceTo(new DateTimeOffset(target, TimeSpan.Zero));
    }

    /// <summary>Ends the run: holders release everything, time runs out every wait; everyone must get an answer.</summary>
    private void DrainToTheEnd()
    {
        if (_withJobs)
            DrainJobs();
        for (int round = 0; round < 100_000 && (_model.Waiting.Count > 0 || _model.Leases.Count > 0); round++)
        {
            Settle();
            foreach (var lease in _model.Leases.Values.Where(l => !_jobs.Contains(l.Id)).ToList())
                Do($"final release {lease.Id}", () => _grain.Release(lease.Id), () => EndLease(lease, "released"));
            if (_grain.GetNextDeadline() is { } deadline)
            {
                _clock.AdvanceTo(deadline);
                Do("final tick", () => _grain.Tick());
            }
            CheckSettled();
        }
        Expect(_model.Waiting.Count == 0 && _model.Leases.Count == 0, "requests left unanswered at the end");
        var stats = _grain.GetStats();
        Expect(stats.Waiting == 0 && stats.Leases == 0 && stats.LeasedLoad == 0, "the grain still holds requests at the end");
    }

    /// <summary>An id the grain can never have issued in this run.</summary>
    private long NeverIssuedId() => _rng.Next(2) == 0 ? -_rng.Next(0, 1000) : 1_000_000_000_000 + _rng.Next(1000);

    private ReferenceModel.Lease? PickLease()
    {
        var leases = _model.Leases.Values.Where(l => !_jobs.Contains(l.Id)).ToList();
        if (leases.Count == 0 || _rng.Next(20) == 0)
            return null;
        return leases[_rng.Next(leases.Count)];
    }

    private void ExpectLeaseAnswer(long id, LeaseResult result, ReferenceModel.Lease? lease)
    {
        var expected = lease is not null ? LeaseOutcome.Ok
            : _model.Waiting.ContainsKey(id) ? LeaseOutcome.NotGranted
            : LeaseOutcome.NotFound;
        Expect(result.Outcome == expected, $"expected {expected} for {id}, got {result.Outcome}");
    }

    private void EndLease(ReferenceModel.Lease lease, string how)
    {
        _model.Leases.Remove(lease.Id);
        Outcome(lease.Id, "granted+" + how);
    }

    private void Outcome(long id, string outcome)
    {
        Expect(_outcomes.TryAdd(id, outcome) || _outcomes[id] == "granted" && outcome.StartsWith("granted+"),
            $"request {id} ended twice: {_outcomes.GetValueOrDefault(id)} then {outcome}");
        _outcomes[id] = outcome;
    }

    /// <summary>
    /// Runs one grain operation, then applies its own effect to the model (<paramref name="applyToModel"/>),
    /// then checks the events it caused, in order. Callers settle due timers first with a tick, so every event
    /// comes after the operation's own effect.
    /// </summary>
    private void Do(string op, Action action, Action? applyToModel = null)
    {
        _op = op;
        _recent.Enqueue($"{_step}: {op}");
        if (_recent.Count > 25)
            _recent.Dequeue();
        action();
        applyToModel?.Invoke();
        foreach (var e in _grain.Events)
        {
            if (!OnJobEvent(e))
                OnEvent(e);
        }
        _grain.ClearEvents();
    }

    private void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new Xunit.Sdk.XunitException(
                $"Model violation with seed {_seed} at step {_step} ({_op}): {what}.\nReplay with seed {_seed}. Last operations:\n  "
                + string.Join("\n  ", _recent));
        }
    }
}
