using System.Globalization;

namespace OrleansQueue.Scheduling.Internals;

/// <summary>A duration as people read it in a message ("250 ms", "1.5 s", "5 min 30 s", "2 h", "1 d"), never a raw
/// <see cref="TimeSpan"/> ("00:00:01").</summary>
internal static class DurationText
{
    public static string Of(TimeSpan t)
    {
        if (t < TimeSpan.Zero)
            return "minus " + Of(t == TimeSpan.MinValue ? TimeSpan.MaxValue : -t);
        var c = CultureInfo.InvariantCulture;
        if (t < TimeSpan.FromSeconds(1))
            return string.Create(c, $"{t.TotalMilliseconds:0.###} ms");
        if (t < TimeSpan.FromMinutes(1))
            return string.Create(c, $"{t.TotalSeconds:0.###} s");
        if (t < TimeSpan.FromHours(1))
            return Two((long)t.TotalMinutes, "min", t.Seconds, "s");
        if (t < TimeSpan.FromDays(1))
            return Two((long)t.TotalHours, "h", t.Minutes, "min");
        return Two((long)t.TotalDays, "d", t.Hours, "h");

        static string Two(long whole, string unit, int part, string partUnit) =>
            part == 0 ? $"{whole} {unit}" : $"{whole} {unit} {part} {partUnit}";
    }
}
