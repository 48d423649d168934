using System.Globalization;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// The embedded store belongs to one silo process: it holds an exclusive lock on a file beside the database for as long
/// as it is open (the operating system drops it when the process ends, however it ends), and writes who holds it beside
/// that. A second process on the same folder is refused before it opens the database, so it claims nothing of the first
/// one's. Within one process the lock is shared (counted), as a process's own lock is.
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    private static readonly Dictionary<string, (FileStream File, int Holders)> Held = new(StringComparer.Ordinal);
    private readonly string _lockPath;
    private int _disposed;

    private DataFolderLock(string lockPath) => _lockPath = lockPath;

    /// <exception cref="DataFolderInUseException">Another process holds the lock.</exception>
    public static DataFolderLock Take(string databasePath)
    {
        string lockPath = databasePath + ".lock", ownerPath = databasePath + ".owner";
        lock (Held)
        {
            if (Held.TryGetValue(lockPath, out var ours))
            {
                Held[lockPath] = (ours.File, ours.Holders + 1);
                return new DataFolderLock(lockPath);
            }
            FileStream file;
            try
            {
                // FileShare.None takes an exclusive lock (flock on Unix) that no other process's open of the file gets past.
                file = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                string holder = File.Exists(ownerPath) ? File.ReadAllText(ownerPath).Trim() : "another process";
                throw new DataFolderInUseException(Path.GetDirectoryName(databasePath)!, holder);
            }
            File.WriteAllText(ownerPath, string.Create(CultureInfo.InvariantCulture,
                $"process {Environment.ProcessId} on {Environment.MachineName}, started {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} UTC"));
            Held[lockPath] = (file, 1);
            return new DataFolderLock(lockPath);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        lock (Held)
        {
            var (file, holders) = Held[_lockPath];
            if (holders > 1)
            {
                Held[_lockPath] = (file, holders - 1);
                return;
            }
            Held.Remove(_lockPath);
            file.Dispose();
        }
    }
}

/// <summary>A second silo was started on a data folder whose embedded store another silo holds.</summary>
public sealed class DataFolderInUseException(string folder, string holder) : InvalidOperationException(
    $"The data folder {folder} is in use by another silo ({holder}): the embedded SQLite store belongs to one silo at a time. " +
    "Stop that silo, or give this one a folder of its own (--Silo:Store:Path), or a shared store (--Silo:Store:Provider postgres or redis) for a cluster.");
