using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using OrleansQueue.Tests.Examples;

namespace OrleansQueue.Tests.Packaging;

/// <summary>
/// The solution's NuGet packages, packed once for the tests of this collection (from the build the tests run on, with a
/// version of their own so that nothing they restore is confused with a real release in the machine's package cache).
/// </summary>
public sealed class Packages : IAsyncLifetime
{
    public static readonly string[] Libraries =
    [
        "OrleansQueue.Contracts", "OrleansQueue.Tls", "OrleansQueue.Scheduling", "OrleansQueue.Grains", "OrleansQueue.Gateway",
        "OrleansQueue.Client", "OrleansQueue.Client.Cohosting", "OrleansQueue.Client.AI",
    ];

    /// <summary>The libraries' projects, from the repository's root.</summary>
    private static readonly string[] Projects =
    [
        "grains/OrleansQueue.Contracts", "grains/OrleansQueue.Tls", "grains/OrleansQueue.Scheduling", "grains/OrleansQueue.Grains", "silo/OrleansQueue.Gateway",
        "client/OrleansQueue.Client", "client/OrleansQueue.Client.Cohosting", "client/OrleansQueue.Client.AI",
    ];

    private readonly TempDirectory _folder = new("oq-packages-");

    public string Folder => _folder.Path;

    /// <summary>The version the packages were given: the repository's <c>VersionPrefix</c> with a suffix of this run.</summary>
    public string Version { get; private set; } = "";

    public string VersionPrefix { get; private set; } = "";

    public async Task InitializeAsync()
    {
        string root = QueueInYourAppTests.RepositoryRoot();
        VersionPrefix = XDocument.Load(Path.Combine(root, "Directory.Build.props")).Descendants("VersionPrefix").Single().Value;
        string suffix = $"check.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        Version = $"{VersionPrefix}-{suffix}";
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0
        // Each library as the tests' build left it (they are all its references), not the solution: its other projects
        // may still be building while tests run.
        foreach (string project in Projects)
        {
            await RunAsync(root, "dotnet", "pack", Path.Combine(root, project), "--no-build", "-c", configuration,
                "-o", Folder, $"-p:VersionSuffix={suffix}", "-v", "q", "-nologo");
        }
    }

    /// <summary>The .nuspec of package <paramref name="id"/>.</summary>
    public XElement Nuspec(string id) => ReadNuspec(Path.Combine(Folder, $"{id}.{Version}.nupkg"));

    public static XElement ReadNuspec(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        using var stream = entry.Open();
        return StripNamespaces(XElement.Load(stream));
    }

    public static IReadOnlyList<string> Files(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        return [.. zip.Entries.Select(e => e.FullName)];
    }

    private static XElement StripNamespaces(XElement element) =>
        new(element.Name.LocalName, element.Attributes().Where(a => !a.IsNamespaceDeclaration).Select(a => new XAttribute(a.Name.LocalName, a.Value)),
            element.Nodes().Select(n => n is XElement child ? StripNamespaces(child) : n));

    /// <summary>Runs a command to its end; its output is the failure's message when it fails.</summary>
    public static async Task<string> RunAsync(string workingDirectory, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        // A build run by a test must not join (or leave behind) build servers that outlive it.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not end within 5 minutes:\n{await output}\n{await error}");
        }
        string all = await output + await error;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{all}");
        return all;
    }

    public Task DisposeAsync()
    {
        // What a restore of this run's version put in the machine's package cache goes with it.
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string id in Libraries)
        {
            string restored = Path.Combine(cache, id.ToLowerInvariant(), Version);
            if (Directory.Exists(restored))
                Directory.Delete(restored, recursive: true);
        }
        _folder.Dispose();
        return Task.CompletedTask;
    }
}

// Alone: packing and building an application take both cores of a small machine, which timing-bound tests should not share.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagesCollection : ICollectionFixture<Packages>
{
    public const string Name = "packages";
}
