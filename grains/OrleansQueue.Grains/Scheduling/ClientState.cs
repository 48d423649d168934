namespace OrleansQueue.Grains.Scheduling;

/// <summary>A client with requests waiting: its queue at each level and how many it has waiting in all.</summary>
internal sealed class ClientState(string id)
{
    public readonly string Id = id;
    public readonly ClientQueue?[] Levels = new ClientQueue?[PriorityLevels.Count];
    public int Waiting;

    public ClientQueue At(int level) => Levels[level] ??= new ClientQueue(this, level);
}
