using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace OrleansQueue.Silo.Observability;

/// <summary>
/// Listens to the OrleansQueue meter and renders what it measured in the Prometheus text format (0.0.4):
/// counters as <c>_total</c>, histograms as cumulative buckets with <c>_sum</c> and <c>_count</c>, gauges as read at scrape.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] Bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Series> _series = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Type, string Help)> _meta = [];
    private Dictionary<string, double>? _gaugeScrape;

    /// <param name="metrics">The silo whose meter to render; other silos in the same process are not mixed in.</param>
    public PrometheusExporter(SiloMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter != metrics.Meter)
                return;
            string type = instrument switch
            {
                Counter<long> => "counter",
                Histogram<double> => "histogram",
                _ => "gauge",
            };
            lock (_lock)
                _meta[instrument.Name] = (type, instrument.Description ?? instrument.Name);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string key = instrument.Name + Labels(tags);
        lock (_lock)
        {
            if (instrument is ObservableGauge<int>)
            {
                if (_gaugeScrape is not null)
                    _gaugeScrape[key] = value;
                return;
            }
            if (!_series.TryGetValue(key, out var series))
                _series[key] = series = new Series(instrument.Name, Labels(tags), instrument is Histogram<double>);
            series.Add(value);
        }
    }

    /// <summary>The current figures in Prometheus text format.</summary>
    public string Render()
    {
        var gauges = new Dictionary<string, double>(StringComparer.Ordinal);
        lock (_lock)
            _gaugeScrape = gauges;
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        lock (_lock)
        {
            _gaugeScrape = null;
            foreach (var (name, (type, help)) in _meta.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                string exposed = type == "counter" ? name + "_total" : name;
                text.Append("# HELP ").Append(exposed).Append(' ').Append(help).Append('\n');
                text.Append("# TYPE ").Append(exposed).Append(' ').Append(type).Append('\n');
                if (type == "gauge")
                {
                    foreach (var (key, value) in gauges.Where(g => g.Key.StartsWith(name + "{", StringComparison.Ordinal) || g.Key == name))
                        text.Append(key).Append(' ').Append(Format(value)).Append('\n');
                    continue;
                }
                foreach (var series in _series.Values.Where(s => s.Name == name))
                    series.Render(text, exposed);
            }
        }
        return text.ToString();
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
            return "";
        var pairs = new List<string>(tags.Length);
        foreach (var tag in tags)
            pairs.Add($"{tag.Key}=\"{Escape(tag.Value?.ToString() ?? "")}\"");
        pairs.Sort(StringComparer.Ordinal);
        return "{" + string.Join(",", pairs) + "}";
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string Format(double value) => value.ToString("G17", CultureInfo.InvariantCulture);

    public void Dispose() => _listener.Dispose();

    private sealed class Series(string name, string labels, bool histogram)
    {
        private readonly long[] _buckets = histogram ? new long[Bounds.Length] : [];
        private double _sum;
        private long _count;

        public string Name { get; } = name;

        public void Add(double value)
        {
            _sum += value;
            _count++;
            for (int i = 0; i < _buckets.Length; i++)
            {
                if (value <= Bounds[i])
                    _buckets[i]++;
            }
        }

        public void Render(StringBuilder text, string exposed)
        {
            if (!histogram)
            {
                text.Append(exposed).Append(labels).Append(' ').Append(Format(_sum)).Append('\n');
                return;
            }
            string inner = labels.Length > 0 ? labels[1..^1] + "," : "";
            for (int i = 0; i < Bounds.Length; i++)
                text.Append(exposed).Append("_bucket{").Append(inner).Append("le=\"").Append(Format(Bounds[i])).Append("\"} ").Append(_buckets[i]).Append('\n');
            text.Append(exposed).Append("_bucket{").Append(inner).Append("le=\"+Inf\"} ").Append(_count).Append('\n');
            text.Append(exposed).Append("_sum").Append(labels).Append(' ').Append(Format(_sum)).Append('\n');
            text.Append(exposed).Append("_count").Append(labels).Append(' ').Append(_count).Append('\n');
        }
    }
}
