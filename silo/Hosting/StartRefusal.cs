using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Hosting;

/// <summary>Why the silo refused to start, when the reason is one its user acts on (not a fault): the message to print.</summary>
public static class StartRefusal
{
    public static string? Of(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is DataFolderInUseException inUse)
                return inUse.Message;
            if (e is AggregateException { InnerExceptions.Count: > 0 } all && all.InnerExceptions.Select(Of).FirstOrDefault(m => m is not null) is { } inner)
                return inner;
        }
        return null;
    }
}
