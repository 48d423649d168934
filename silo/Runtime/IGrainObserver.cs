namespace OrleansQueue.Silo.Runtime;

/// <summary>
/// Receives updates of the requests it subscribed to, after they are committed. Called on the grain's turn:
/// it must not block (queue the update and return). An observer that throws is dropped.
/// </summary>
public interface IGrainObserver
{
    void OnUpdate(RequestUpdate update);
}
