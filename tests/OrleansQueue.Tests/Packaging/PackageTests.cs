using System.Net;
using System.Xml.Linq;
using OrleansQueue.Tests.Examples;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Packaging;

/// <summary>What <c>dotnet pack</c> gives a .NET team: each library a package with its metadata, a client that brings no
/// server, and packages an application outside the repository builds and runs on.</summary>
[Collection(PackagesCollection.Name)]
public sealed class PackageTests(Packages packages)
{
    [Fact]
    public void EveryLibraryIsAPackageWithItsLicenceDescriptionReadmeRepositoryAndSymbols()
    {
        Assert.StartsWith(packages.VersionPrefix + "-", packages.Version);
        foreach (string id in Packages.Libraries)
        {
            string nupkg = Path.Combine(packages.Folder, $"{id}.{packages.Version}.nupkg");
            Assert.True(File.Exists(nupkg), $"{id} was not packed");
            Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"{id} has no symbol package");
            var metadata = packages.Nuspec(id).Element("metadata")!;
            Assert.Equal(id, metadata.Element("id")!.Value);
            Assert.Equal(packages.Version, metadata.Element("version")!.Value);
            Assert.Equal("MIT", metadata.Element("license")!.Value);
            Assert.Equal("expression", metadata.Element("license")!.Attribute("type")!.Value);
            string description = metadata.Element("description")!.Value;
            Assert.True(description.Length > 40 && description != "Package Description", $"{id}: \"{description}\"");
            Assert.Equal("README.md", metadata.Element("readme")!.Value);
            Assert.Contains("README.md", Packages.Files(nupkg));
            Assert.StartsWith("https://", metadata.Element("repository")!.Attribute("url")!.Value);
            Assert.False(string.IsNullOrEmpty(metadata.Element("authors")?.Value));
        }
    }

    [Fact]
    public async Task NothingElseIsAPackage()
    {
        // The standalone silo, the tests, the examples and the tools: every project of the solution but the libraries.
        string root = QueueInYourAppTests.RepositoryRoot();
        var others = Directory.GetFiles(root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !Packages.Libraries.Contains(Path.GetFileNameWithoutExtension(p)))
            .ToList();
        Assert.Contains(others, p => p.EndsWith("OrleansQueue.Silo.csproj", StringComparison.Ordinal));
        foreach (string project in others)
        {
            string packable = (await Packages.RunAsync(root, "dotnet", "msbuild", project, "-getProperty:IsPackable", "-nologo")).Trim();
            Assert.True(packable == "false", $"{Path.GetRelativePath(root, project)} is packable (IsPackable: \"{packable}\")");
        }
    }

    [Fact]
    public void TheClientsDependenciesReachNoAspNetCoreKestrelSchedulerGrainsOrGateway()
    {
        var closure = new Dictionary<string, XElement>(StringComparer.OrdinalIgnoreCase);
        Walk("OrleansQueue.Client", packages.Version);
        Assert.Contains("OrleansQueue.Contracts", closure.Keys);
        Assert.Contains("Microsoft.Orleans.Core", closure.Keys); // the Orleans transport's own
        foreach (var (id, nuspec) in closure)
        {
            // Orleans' networking core itself depends on the ASP.NET Core connection abstractions (a package of interfaces,
            // no server); nothing else of ASP.NET Core may come in.
            bool aspNet = id.StartsWith("Microsoft.AspNetCore.", StringComparison.OrdinalIgnoreCase) && id != "Microsoft.AspNetCore.Connections.Abstractions";
            Assert.False(aspNet || id.Contains("Kestrel", StringComparison.OrdinalIgnoreCase), $"the client brings {id}");
            Assert.DoesNotContain(id, new[] { "OrleansQueue.Scheduling", "OrleansQueue.Grains", "OrleansQueue.Gateway", "Microsoft.Orleans.Server", "Microsoft.Orleans.Runtime" });
            Assert.DoesNotContain(nuspec.Descendants("frameworkReference"), f => f.Attribute("name")?.Value == "Microsoft.AspNetCore.App");
        }

        void Walk(string id, string version)
        {
            if (closure.ContainsKey(id))
                return;
            var nuspec = id.StartsWith("OrleansQueue.", StringComparison.Ordinal) ? packages.Nuspec(id) : CachedNuspec(id, version);
            closure[id] = nuspec;
            // The dependencies of the group the client's target framework takes (or of the only group there is).
            var groups = nuspec.Descendants("group").ToList();
            var group = groups.FirstOrDefault(g => g.Attribute("targetFramework")?.Value is "net10.0")
                ?? groups.Where(g => g.Attribute("targetFramework")?.Value.StartsWith("net", StringComparison.Ordinal) == true
                        && !g.Attribute("targetFramework")!.Value.StartsWith("netstandard", StringComparison.Ordinal))
                    .OrderByDescending(g => g.Attribute("targetFramework")!.Value, StringComparer.Ordinal).FirstOrDefault()
                ?? groups.FirstOrDefault();
            foreach (var dependency in (group ?? nuspec.Descendants("dependencies").FirstOrDefault() ?? new XElement("none")).Elements("dependency"))
            {
                if (dependency.Attribute("exclude")?.Value.Contains("Compile") == true && dependency.Attribute("exclude")!.Value.Contains("Runtime"))
                    continue;
                Walk(dependency.Attribute("id")!.Value, dependency.Attribute("version")!.Value);
            }
        }
    }

    [Fact]
    public async Task AnApplicationOutsideTheRepositoryBuildsOnThePackagesAndServesTheQueueUnderItsPrefix()
    {
        // The example's own code and settings, in a folder outside the repository (no Directory.Build.props, no central
        // package versions), referencing the packages from a local folder as a team would from a feed.
        using var app = new TempDirectory("oq-outside-app-");
        string example = Path.Combine(QueueInYourAppTests.RepositoryRoot(), "examples", "QueueInYourApp");
        File.Copy(Path.Combine(example, "Program.cs"), Path.Combine(app.Path, "Program.cs"));
        File.Copy(Path.Combine(example, "appsettings.json"), Path.Combine(app.Path, "appsettings.json"));
        await File.WriteAllTextAsync(Path.Combine(app.Path, "OutsideApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="OrleansQueue.Gateway" Version="{packages.Version}" />
                <PackageReference Include="OrleansQueue.Client.Cohosting" Version="{packages.Version}" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(app.Path, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <add key="orleansqueue-local" value="{packages.Folder}" />
              </packageSources>
            </configuration>
            """);
        await Packages.RunAsync(app.Path, "dotnet", "build", "-c", "Debug", "-v", "q", "-nologo");

        using var data = new TempDirectory("oq-outside-data-");
        await using var process = await SiloProcess.StartDllAsync(Path.Combine(app.Path, "bin", "Debug", "net10.0", "OutsideApp.dll"),
            data.Path, "queue/healthz", "--contentRoot", app.Path);
        using var http = process.CreateClient();
        await QueueInYourAppTests.AssertServesAsDocumentedAsync(http);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/queue/healthz")).StatusCode);
    }

    /// <summary>A third-party package's .nuspec from the machine's package cache (restored by the build these tests run on):
    /// the lowest version there that satisfies <paramref name="range"/>'s minimum, as NuGet resolves it.</summary>
    private static XElement CachedNuspec(string id, string range)
    {
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string folder = Path.Combine(cache, id.ToLowerInvariant());
        var minimum = Comparable(range.Trim('[', '(', ' ').Split(',')[0]);
        string version = Directory.GetDirectories(folder).Select(Path.GetFileName).OfType<string>()
            .Where(v => Comparable(v) >= minimum).OrderBy(Comparable).First();
        return Packages.ReadNuspec(Directory.GetFiles(Path.Combine(folder, version), "*.nupkg").Single());

        static Version Comparable(string v) => System.Version.Parse(v.Split('-', '+')[0] is var core && core.Count(c => c == '.') == 0 ? core + ".0" : v.Split('-', '+')[0]);
    }
}
