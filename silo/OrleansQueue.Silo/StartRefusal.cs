using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Silo;

/// <summary>Why the silo refused to start, when the reason is one its user acts on (its configuration, a data folder in
/// use; not a fault): the message to print, without a stack trace.</summary>
public static class StartRefusal
{
    public static string? Of(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is DataFolderInUseException or HttpAddressInUseException or SiloConfigurationException or Microsoft.Extensions.Options.OptionsValidationException)
                return e.Message;
            if (e is AggregateException { InnerExceptions.Count: > 0 } all && all.InnerExceptions.Select(Of).FirstOrDefault(m => m is not null) is { } inner)
                return inner;
        }
        return null;
    }
}

/// <summary>The silo's configuration breaks a rule: the message names each setting and its rule.</summary>
public sealed class SiloConfigurationException(IEnumerable<string> errors)
    : InvalidOperationException("Invalid silo configuration: " + string.Join(" ", errors));
