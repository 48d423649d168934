using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Model;

internal sealed partial class ModelRun
{
    /// <summary>Checks a grant against every promise that must hold at the instant it is made.</summary>
    private ReferenceModel.Lease OnGrant(long id, string client, long load, Priority priority, long enqueuedAt, long fencingToken, bool claimed, ReferenceModel.Waiter? waiter = null)
    {
        Expect(fencingToken > _model.LastFencingToken, $"fencing token {fencingToken} after {_model.LastFencingToken}");
        _model.LastFencingToken = fencingToken;
        if (_model.WhyItDoesNotFit(load, Now) is { } why)
            Expect(false, $"granted {id} (load {load}) beyond the budget: {why}");

        int level = waiter is null ? (int)priority : _model.EffectiveLevel(waiter, Now);
        foreach (var other in _model.Waiting.Values)
        {
            if (other.Id == id)
                continue;
            int otherLevel = _model.EffectiveLevel(other, Now);
            Expect(otherLevel >= level, $"granted {id} at level {level} while {other.Id} waits at level {otherLevel}");
            if (_model.Policy.AgingInterval is null && other.Client == client && other.Priority == priority)
                Expect(other.Id > id, $"granted {id} of {client} before its older {other.Id} at the same level");
        }
        if (_equalLoads && _fairness.Granted(client, level) is { } unfair)
            Expect(false, unfair);

        if (waiter is not null)
        {
            _model.Waiting.Remove(id);
            _fairness.Left(waiter, _model);
        }
        Grants++;
        Outcome(id, "granted");
        return _model.AddLease(id, client, load, Now, expiresAt: 0, claimed);
    }

    private void OnEvent(ResourceEvent e)
    {
        switch (e.Kind)
        {
            case ResourceEventKind.Granted:
            {
                Expect(_model.Waiting.TryGetValue(e.RequestId, out var w), $"grant of {e.RequestId}, which was not waiting");
                Expect(e.ExpiresAt?.UtcTicks == Now + _model.Policy.ClaimWindow.Ticks, "a pushed grant must be claimed within the claim window");
                var lease = OnGrant(w!.Id, w.Client, w.Load, w.Priority, w.EnqueuedAt, e.FencingToken, claimed: false, waiter: w);
                lease.ExpiresAt = e.ExpiresAt!.Value.UtcTicks;
                break;
            }
            case ResourceEventKind.TimedOut:
            {
                Expect(_model.Waiting.Remove(e.RequestId, out var w), $"timeout of {e.RequestId}, which was not waiting");
                Expect(w!.Deadline <= Now, $"{w.Id} timed out {TimeSpan.FromTicks(w.Deadline - Now)} before its deadline");
                _fairness.Left(w, _model);
                Outcome(w.Id, "timed out");
                break;
            }
            case ResourceEventKind.Rejected:
            {
                Expect(_model.Waiting.Remove(e.RequestId, out var w), $"late rejection of {e.RequestId}, which was not waiting");
                Expect(w!.Load > _model.Policy.LoadPerWindow, $"{w.Id} rejected though its load {w.Load} fits LoadPerWindow {_model.Policy.LoadPerWindow}");
                _fairness.Left(w, _model);
                Outcome(w.Id, "rejected");
                break;
            }
            default:
            {
                bool claimed = e.Kind == ResourceEventKind.LeaseExpired;
                Expect(_model.Leases.TryGetValue(e.RequestId, out var lease), $"{e.Kind} of {e.RequestId}, which held no lease");
                Expect(lease!.Claimed == claimed, $"{e.Kind} of a lease that was {(lease.Claimed ? "claimed" : "unclaimed")}");
                Expect(lease.ExpiresAt <= Now, $"{e.Kind} of {lease.Id} {TimeSpan.FromTicks(lease.ExpiresAt - Now)} early");
                EndLease(lease, claimed ? "expired" : "reclaimed");
                break;
            }
        }
    }

    /// <summary>What must hold whenever the grain is between operations.</summary>
    private void CheckSettled()
    {
        long now = Now;
        foreach (var w in _model.Waiting.Values)
            Expect(w.Deadline > now, $"{w.Id} still waits {TimeSpan.FromTicks(now - w.Deadline)} past its deadline");
        foreach (var lease in _model.Leases.Values)
            Expect(lease.ExpiresAt > now, $"lease {lease.Id} still held {TimeSpan.FromTicks(now - lease.ExpiresAt)} past its expiry");

        if (_model.Waiting.Count > 0 && !JobsCompete)
        {
            int top = _model.Waiting.Values.Min(w => _model.EffectiveLevel(w, now));
            var atTop = _model.Waiting.Values.Where(w => _model.EffectiveLevel(w, now) == top).ToList();
            // Head-of-line: the head of the top level does not fit. The model does not know which request
            // is the head, but if every request there fits, the head does, and it should have been granted.
            Expect(atTop.Any(w => _model.WhyItDoesNotFit(w.Load, now) is not null),
                $"{atTop.Count} requests at level {top} all fit, yet none was granted");

            var sample = _model.Waiting.Values.ElementAt(_rng.Next(_model.Waiting.Count));
            var status = _grain.GetStatus(sample.Id);
            Expect(status.Kind == RequestStatusKind.Waiting && (int)status.Priority == _model.EffectiveLevel(sample, now),
                $"status of {sample.Id} is {status}, expected waiting at level {_model.EffectiveLevel(sample, now)}");
        }

        if (_step % 16 == 0)
        {
            var stats = _grain.GetStats();
            Expect(stats.Waiting == _model.Waiting.Count, $"grain has {stats.Waiting} waiting, model {_model.Waiting.Count}");
            Expect(stats.Leases == _model.Leases.Count, $"grain has {stats.Leases} leases, model {_model.Leases.Count}");
            Expect(stats.LeasedLoad == _model.Leases.Values.Sum(l => l.Load), "leased load differs from the model");
        }
    }
}
