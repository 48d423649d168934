using OrleansQueue.Grains;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Runtime;

/// <summary>
/// What a call sees while it runs on its grain's turn: the grain, the resource's definition, and the ways to
/// tell observers about what the call did. Valid only during the call.
/// </summary>
public sealed class GrainTurn
{
    private readonly GrainActivation _activation;

    internal GrainTurn(GrainActivation activation) => _activation = activation;

    public ResourceScheduler Grain => _activation.Grain;

    public ResourceDefinition Definition => _activation.Definition;

    public string Resource => _activation.Name;

    /// <summary>Where request <paramref name="id"/> stands: live in the grain, recently ended, or unknown.</summary>
    public RequestUpdate Status(long id)
    {
        var status = Grain.GetStatus(id);
        if (status.Kind != RequestStatusKind.Unknown)
            return RequestUpdate.FromStatus(Resource, id, status);
        return _activation.Outcomes.Find(id) ?? new RequestUpdate(Resource, id, RequestPhase.Unknown, "");
    }

    /// <summary>Announces a change the call made (a release, a cancel, a claim) to the request's observers, after the commit.</summary>
    public void Announce(RequestUpdate update) => _activation.Announce(update);

    /// <summary>Subscribes <paramref name="observer"/> to request <paramref name="id"/>'s updates.</summary>
    public void Subscribe(long id, IGrainObserver observer) => _activation.Subscribe(id, observer);

    public void Unsubscribe(long id, IGrainObserver observer) => _activation.Unsubscribe(id, observer);

    /// <summary>Counts an immediate grant in the metrics (grants to waiting requests are counted from their events).</summary>
    public void GrantedNow() => _activation.Metrics.Granted(Resource, TimeSpan.Zero);

    public void Rejected(RejectionReason reason) => _activation.Metrics.Rejected(Resource, reason);

    internal void ApplyDefinition(ResourceDefinition definition)
    {
        Grain.UpdatePolicy(definition.Policy);
        _activation.Definition = definition;
    }

    internal void CloseIfNoObservers()
    {
        if (_activation.HasNoObservers)
            _activation.CloseAfterTurn = _activation.WentIdle = true;
    }

    /// <summary>Ends the activation after this turn, keeping the grain's state in the store (silo shutdown).</summary>
    internal void Deactivate() => _activation.CloseAfterTurn = true;

    internal void Close()
    {
        Grain.Close();
        _activation.CloseAfterTurn = true;
    }
}
