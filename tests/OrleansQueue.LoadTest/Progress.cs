using System.Diagnostics;

namespace OrleansQueue.LoadTest;

/// <summary>One line on the terminal that shows the step running, its progress and the time so far; plain lines when the
/// output is not a terminal.</summary>
internal static class Progress
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private static string _step = "";
    private static int _done, _total;

    public static void Step(string step, int total = 0)
    {
        End();
        (_step, _done, _total) = (step, 0, total);
        if (Console.IsOutputRedirected)
            Console.WriteLine($"[{Clock.Elapsed:mm\\:ss}] {step}");
        Draw();
    }

    public static void Advance(int by = 1)
    {
        if (Interlocked.Add(ref _done, by) % 64 == 0)
            Draw();
    }

    /// <summary>Sets the count done, for a step whose progress is read rather than counted.</summary>
    public static void Set(int done)
    {
        Volatile.Write(ref _done, done);
        Draw();
    }

    public static void End()
    {
        if (!Console.IsOutputRedirected && _step.Length > 0)
            Console.WriteLine();
        _step = "";
    }

    private static void Draw()
    {
        if (Console.IsOutputRedirected)
            return;
        const int width = 30;
        string bar = _total > 0 ? new string('#', Math.Min(width, width * _done / _total)).PadRight(width, '.') : "";
        string count = _total > 0 ? $" {Math.Min(_done, _total)}/{_total}" : _done > 0 ? $" {_done}" : "";
        Console.Write($"\r[{Clock.Elapsed:mm\\:ss}] {_step} {bar}{count}".PadRight(Math.Max(20, Console.WindowWidth - 1)));
    }
}
