using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansQueue.Tests.Silo;

/// <summary>Reads what the silo's /metrics says (Prometheus text, whatever other labels a series carries).</summary>
public static partial class PrometheusText
{
    /// <summary>The sum of all of metric <paramref name="name"/>'s series (0 when none is there).</summary>
    public static double Total(string metrics, string name) =>
        metrics.Split('\n').Select(line => Series().Match(line)).Where(m => m.Success && m.Groups["name"].Value == name)
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    /// <summary>The sum of metric <paramref name="name"/>'s series labelled with <paramref name="resource"/>; null when none is there.</summary>
    public static double? Value(string metrics, string name, string resource)
    {
        var values = metrics.Split('\n')
            .Select(line => Series().Match(line))
            .Where(m => m.Success && m.Groups["name"].Value == name && m.Groups["labels"].Value.Contains($"resource=\"{resource}\"", StringComparison.Ordinal))
            .Select(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture))
            .ToList();
        return values.Count == 0 ? null : values.Sum();
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?<labels>[^}]*)\} (?<value>\S+)")]
    private static partial Regex Series();
}
