namespace OrleansQueue.Silo.Runtime;

/// <summary>A call the runtime did not run, for a reason the caller can answer (as a problem) or retry.</summary>
public abstract class GrainCallException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>No resource of that name exists.</summary>
public sealed class UnknownResourceException(string resource)
    : GrainCallException($"Resource \"{resource}\" does not exist; create it with PUT /v1/resources/{resource}.")
{
    public string Resource { get; } = resource;
}

/// <summary>The store refused or failed a write; nothing of the turn was announced.</summary>
public sealed class StoreUnavailableException(string resource, Exception inner)
    : GrainCallException($"The store failed to commit resource \"{resource}\"; the operation did not take effect and can be retried.", inner);

/// <summary>The activation closed (idle, deleted or broken) before it ran the call; the runtime retries on a new one.</summary>
internal sealed class ActivationClosedException() : Exception("The activation closed before it ran the call.");

/// <summary>The resource belongs on another silo (as this silo sees the cluster); the caller should go there, or retry.</summary>
public sealed class NotOwnerException(string resource, Storage.SiloEntry owner)
    : GrainCallException($"Resource \"{resource}\" is placed on silo {owner.Id}; retry the call.")
{
    public string Resource { get; } = resource;
    public Storage.SiloEntry Owner { get; } = owner;
}

/// <summary>This silo has lost touch with the cluster (no recent heartbeat) and runs no grains until it is back.</summary>
public sealed class SiloUnavailableException(string? message = null)
    : GrainCallException(message ?? "This silo has lost contact with the cluster store and does not act on resources now; use another silo or retry.")
{
    internal static SiloUnavailableException Stopping() => new("This silo is shutting down; use another silo or retry.");
}
