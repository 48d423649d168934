using System.Runtime.CompilerServices;

namespace OrleansQueue.Tests;

internal static class TestEnvironment
{
    /// <summary>
    /// Every silo a test starts, in this process or as a child process (which inherits the environment), takes a free
    /// port for Orleans (and opens no Orleans gateway, the default), so that silos of tests running side by side never collide.
    /// </summary>
    [ModuleInitializer]
    internal static void FreeOrleansPorts()
    {
        Environment.SetEnvironmentVariable("Silo__Clustering__SiloPort", "0");
    }
}
