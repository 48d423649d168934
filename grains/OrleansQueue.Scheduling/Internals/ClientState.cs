namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// A client with requests waiting, or one that has none but was served ahead of virtual time (its debt
/// must outlive its queue, or it could come back with a clean slate and pass a big request forever).
/// </summary>
internal sealed class ClientState(string id)
{
    public readonly string Id = id;
    public readonly ClientQueue?[] Levels = new ClientQueue?[PriorityLevels.Count];
    public int Waiting;
    public bool Idle;

    /// <summary>Its weight within a level (1 to <see cref="ResourcePolicy.MaxWeight"/>): it receives load in proportion.</summary>
    public int Weight = 1;

    public ClientQueue At(int level) => Levels[level] ??= new ClientQueue(this, level);

    /// <summary>Whether forgetting this client loses nothing: at every level it is not ahead of virtual time.</summary>
    public bool OwesNothing(FairLevel[] levels)
    {
        for (int i = 0; i < Levels.Length; i++)
        {
            if (Levels[i] is { } queue && queue.LastFinish > levels[i].VirtualTime)
                return false;
        }
        return true;
    }
}
