namespace OrleansQueue.Tests;

/// <summary>A throwaway folder for a test's data, removed when the test is done (a file still held open is left behind).</summary>
public sealed class TempDirectory(string prefix) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
