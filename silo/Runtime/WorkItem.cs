namespace OrleansQueue.Silo.Runtime;

public sealed partial class GrainActivation
{
    private abstract class WorkItem
    {
        public abstract void Execute(GrainTurn turn);
        public abstract void Complete();
        public abstract void Fail(Exception error);
    }

    private sealed class CallItem<T>(Func<GrainTurn, T> call) : WorkItem
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;

        public Task<T> Task => _done.Task;

        public override void Execute(GrainTurn turn)
        {
            try
            {
                _result = call(turn);
            }
            catch (Exception ex)
            {
                _error = ex;
            }
        }

        public override void Complete()
        {
            if (_error is not null)
                _done.TrySetException(_error);
            else
                _done.TrySetResult(_result!);
        }

        public override void Fail(Exception error) => _done.TrySetException(error);
    }

    private sealed class TickItem(GrainActivation activation) : WorkItem
    {
        public override void Execute(GrainTurn turn)
        {
            Volatile.Write(ref activation._tickPosted, 0);
            turn.Grain.Tick();
        }

        public override void Complete() { }
        public override void Fail(Exception error) { }
    }

    private sealed class DeactivateItem : WorkItem
    {
        public override void Execute(GrainTurn turn)
        {
            if (!turn.Grain.HasPendingWork)
                turn.CloseIfNoObservers();
        }

        public override void Complete() { }
        public override void Fail(Exception error) { }
    }
}
