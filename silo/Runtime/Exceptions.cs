namespace OrleansQueue.Silo.Runtime;

/// <summary>No resource of that name exists.</summary>
public sealed class UnknownResourceException(string resource)
    : Exception($"Resource \"{resource}\" does not exist; create it with PUT /v1/resources/{resource}.")
{
    public string Resource { get; } = resource;
}

/// <summary>The store refused or failed a write; nothing of the turn was announced.</summary>
public sealed class StoreUnavailableException(string resource, Exception inner)
    : Exception($"The store failed to commit resource \"{resource}\"; the operation did not take effect and can be retried.", inner);

/// <summary>The activation closed (idle, deleted or broken) before it ran the call; the runtime retries on a new one.</summary>
internal sealed class ActivationClosedException() : Exception("The activation closed before it ran the call.");
