using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Grains;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>
/// Calls to the proxy that ask to be answered later (<c>Prefer: respond-async</c>), run as jobs of their resource with the
/// silo as their worker. The call is the job's payload (never the caller's credentials); the caller gets 202 and the job's
/// URLs at once and polls or follows the job. When the budget allows, a silo takes the job under one of the resource's
/// leases, sends the call, appends the upstream's answer to the job's output as it streams in, and completes the job with
/// the whole answer (<c>{status, contentType, body}</c>), charged the usage the upstream reports and reporting what the
/// upstream's headers said (an adaptive resource learns from them as from a lease's release).
/// </summary>
/// <remarks>
/// A silo takes a resource's jobs from its first async call for it, and as long as the resource has jobs queued, running
/// or retrying: its take loop ends after a wait in which no job came and none is pending. Every silo also starts a loop for
/// each resource with an upstream when it starts (calls accepted before a restart are taken) and when a silo dies (its
/// calls go back to the queue when their visibility timeout passes, and a survivor takes them). A resource with an
/// upstream runs its jobs this way, so a job on it that is not a proxied call is failed with a message saying so. An upstream 429 or 5xx, or a failure to reach it, fails the attempt
/// (the job retries after the resource's backoff); any other answer completes the job with it. An attempt that ended after
/// part of the answer was appended is not sent again (its output would repeat): the job fails with what it has.
/// </remarks>
internal sealed partial class ProxyJobs(JobOperations jobs, ProxyUpstreams upstreams, ResourceCatalog catalog, ResourceGrains grains, SiloDeaths deaths,
    IHttpClientFactory clients, IHostApplicationLifetime lifetime, ILogger<ProxyJobs> logger) : IHostedService
{
    private IDisposable? _deaths;

    /// <summary>How long a silo's take waits for the next async call before its loop for the resource ends.</summary>
    private static readonly TimeSpan TakeWait = TimeSpan.FromSeconds(30);

    /// <summary>The silo's worker: admin (it reads the calls' payloads), and a name of its own per process.</summary>
    private static readonly Caller Worker = new("", IsAdmin: true);
    private readonly string _workerId = "proxy-" + Guid.NewGuid().ToString("N");
    private readonly ConcurrentDictionary<string, Task> _loops = new(StringComparer.Ordinal);

    public const string PreferHeader = "Prefer";

    /// <summary>Whether the caller asked to be answered later (RFC 7240's <c>respond-async</c> preference).</summary>
    public static bool AsksForAsync(HttpRequest request) =>
        request.Headers[PreferHeader].SelectMany(v => (v ?? "").Split(',')).Any(p => p.Trim().Split(';')[0].Trim().Equals("respond-async", StringComparison.OrdinalIgnoreCase));

    /// <summary>Queues <paramref name="call"/> as a job and answers 202 with where to follow it.</summary>
    public async Task AcceptAsync(HttpContext context, string resource, ProxyCall call)
    {
        var caller = context.Caller();
        var body = new EnqueueBody(call.ToPayload(), call.ClientId, call.Load, call.Priority, DeadlineMs: call.MaxWaitMs is > 0 ? call.MaxWaitMs : null);
        var queued = await jobs.EnqueueAsync(caller, resource, body, context.RequestAborted);
        if (queued.Problem is { } refused)
        {
            await ProxyProblem.WriteAsync(context, refused);
            return;
        }
        Follow(resource);
        var job = queued.Value!;
        string prefix = context.Request.PathBase + context.Request.Path.Value![..context.Request.Path.Value!.IndexOf("/proxy/", StringComparison.Ordinal)];
        string at = $"{prefix}/resources/{Uri.EscapeDataString(resource)}/jobs/{job.Id}";
        var response = context.Response;
        response.StatusCode = StatusCodes.Status202Accepted;
        response.Headers.Location = at;
        response.Headers["Preference-Applied"] = "respond-async";
        await response.WriteAsJsonAsync(new ProxyJobAccepted(job, at, at + "/output", at + "/events"), ApiJson.Options, context.RequestAborted);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(FollowEveryUpstream);
        _deaths = deaths.OnSiloDeath(FollowEveryUpstream);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _deaths?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>A loop for each resource with an upstream; each ends at once when the resource has no async call pending.</summary>
    private void FollowEveryUpstream() => _ = Task.Run(async () =>
    {
        try
        {
            foreach (var definition in await catalog.ListAsync(lifetime.ApplicationStopping))
            {
                if (definition.Policy.Upstream is not null)
                    Follow(definition.Name);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogListFailed(logger, ex);
        }
    });

    /// <summary>Whether the resource has jobs queued, running or retrying (unknown: yes, so that the loop goes on).</summary>
    private async Task<bool> PendingAsync(string resource)
    {
        try
        {
            var stats = await grains.CallAsync(resource, g => g.Administration.Stats(Worker), lifetime.ApplicationStopping);
            return stats.Value is not { Jobs.ByState: var byState }
                || byState.GetValueOrDefault("queued") + byState.GetValueOrDefault("running") + byState.GetValueOrDefault("retrying") > 0;
        }
        catch (OperationCanceledException)
        {
            return false; // the silo stops
        }
    }

    /// <summary>Makes sure this silo takes the resource's jobs.</summary>
    private void Follow(string resource)
    {
        lock (_loops)
        {
            if (!_loops.TryGetValue(resource, out var loop) || loop.IsCompleted)
                _loops[resource] = Task.Run(() => TakeLoopAsync(resource));
        }
    }

    private async Task TakeLoopAsync(string resource)
    {
        var stop = lifetime.ApplicationStopping;
        while (!stop.IsCancellationRequested)
        {
            Outcome<JobView[]> taken;
            try
            {
                taken = await jobs.TakeAsync(Worker, resource, _workerId, 1, TakeWait, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogTakeFailed(logger, ex, resource);
                await Task.Delay(TimeSpan.FromSeconds(1), stop).ContinueWith(_ => { }, TaskScheduler.Default);
                continue;
            }
            if (taken.Value is not [var job, ..])
            {
                if (taken.Problem is { Status: 503 })
                    continue; // moving between silos: take again
                if (taken.Problem is null && await PendingAsync(resource))
                    continue; // a call another silo runs may come back to the queue (that silo dies)
                lock (_loops)
                {
                    // Nothing came within the wait and nothing is pending: this loop ends (an async call accepted since
                    // starts another).
                    _loops.TryRemove(resource, out _);
                    return;
                }
            }
            _ = RunAsync(resource, job, stop);
        }
    }

    /// <summary>Runs one attempt of a proxied call: sends it, appends the answer as it comes, completes or fails the job.</summary>
    private async Task RunAsync(string resource, JobView job, CancellationToken stop)
    {
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var heartbeats = HeartbeatAsync(resource, job, running.Token);
        try
        {
            var (kind, report) = await AttemptAsync(resource, job, running.Token);
            await ReportUntilHeardAsync(resource, job.Id, kind, report, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The silo stops: the job goes back to the queue when its visibility timeout passes.
        }
        catch (Exception ex)
        {
            LogRunFailed(logger, ex, resource, job.Id);
        }
        finally
        {
            await running.CancelAsync();
            await heartbeats.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task<(WorkerReportKind Kind, WorkerReport Report)> AttemptAsync(string resource, JobView job, CancellationToken ct)
    {
        if (ProxyCall.FromPayload(job.Payload) is not { } call)
            return Fail($"Job {job.Id} on {resource} is not a proxied call: a resource with an upstream runs its jobs on the silos' proxy, which sends only calls queued with Prefer: respond-async.");
        if (job.OutputLength > 0)
            return Fail($"An earlier attempt ended after {job.OutputLength} bytes of the upstream's answer, which the output keeps; the call is not sent again.");
        if (await upstreams.FindAsync(resource, ct) is not { } upstream)
            return Fail(Problem.NoUpstream(resource).Detail);
        HttpResponseMessage answer;
        try
        {
            answer = await clients.CreateClient(ProxyEndpoints.HttpClientName).SendAsync(call.ToUpstream(upstream), HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return Fail($"The upstream could not be reached: {ex.Message}");
        }
        using (answer)
        {
            int status = (int)answer.StatusCode;
            var upstreamSaid = UpstreamHeaderParser.Parse(answer);
            if (status == 429 || status >= 500)
            {
                // Reported with the failure: an adaptive resource pauses its grants as for a lease's 429.
                return (WorkerReportKind.Fail, new WorkerReport(_workerId, Upstream: upstreamSaid,
                    Error: $"The upstream answered {status}{(upstreamSaid.RetryAfterMs is { } ms ? $" (retry after {ms} ms)" : "")}; the call is retried after the resource's backoff."));
            }
            string? mediaType = answer.Content.Headers.ContentType?.MediaType;
            var usage = new UsageReader(mediaType == "text/event-stream");
            var whole = new StringBuilder();
            var decoder = new UTF8Encoding(false).GetDecoder();
            byte[] buffer = new byte[16 * 1024];
            char[] chars = new char[buffer.Length + 1];
            long offset = 0;
            await using var body = await answer.Content.ReadAsStreamAsync(ct);
            while (true)
            {
                // Each append waits for its commit; what the upstream sends meanwhile is read at once next time: one append per
                // read, as large as what arrived.
                int read = await body.ReadAsync(buffer, ct);
                int count = decoder.GetChars(buffer, 0, read, chars, 0, flush: read == 0);
                if (read > 0)
                    usage.Read(buffer.AsSpan(0, read));
                if (count > 0)
                {
                    string text = new(chars, 0, count);
                    whole.Append(text);
                    var appended = await jobs.AppendOutputAsync(Worker, resource, job.Id, new OutputBody(_workerId, text, offset), ct);
                    if (appended.Problem is { } refused)
                        return Fail($"The answer could not be kept as the job's output: {refused.Detail}");
                    offset = appended.Value!.OutputLength;
                }
                if (read == 0)
                    break;
            }
            usage.Complete();
            var result = new JsonObject
            {
                ["status"] = status,
                ["contentType"] = answer.Content.Headers.ContentType?.ToString(),
                ["body"] = mediaType is not null && mediaType.EndsWith("json", StringComparison.OrdinalIgnoreCase) && TryParse(whole.ToString()) is { } json
                    ? json : whole.ToString(),
            };
            return (WorkerReportKind.Complete, new WorkerReport(_workerId, Result: JsonSerializer.SerializeToElement(result), ActualLoad: usage.Tokens, Upstream: upstreamSaid));
        }

        (WorkerReportKind, WorkerReport) Fail(string error) => (WorkerReportKind.Fail, new WorkerReport(_workerId, Error: error));
    }

    /// <summary>Keeps the job from going back to the queue while the upstream thinks before its first byte.</summary>
    private async Task HeartbeatAsync(string resource, JobView job, CancellationToken ct)
    {
        var interval = job.VisibleUntil is { } until ? (until - DateTimeOffset.UtcNow) / 3 : TimeSpan.FromSeconds(5);
        if (interval < TimeSpan.FromMilliseconds(50))
            interval = TimeSpan.FromMilliseconds(50);
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(interval, ct);
            await jobs.ReportAsync(Worker, resource, job.Id, "heartbeat", new WorkerReport(_workerId), ct);
        }
    }

    /// <summary>The completion or failure, sent until the resource answers it (a completion repeated is taken once).</summary>
    private async Task ReportUntilHeardAsync(string resource, long id, WorkerReportKind kind, WorkerReport report, CancellationToken stop)
    {
        string name = kind == WorkerReportKind.Complete ? "complete" : "fail";
        for (int attempt = 0; !stop.IsCancellationRequested; attempt++)
        {
            var answer = await jobs.ReportAsync(Worker, resource, id, name, report, stop);
            if (answer.Problem is not { Status: 503 })
                return;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2_000, 100 << Math.Min(attempt, 4))), stop);
        }
    }

    private static JsonNode? TryParse(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [LoggerMessage(LogLevel.Warning, "The resources with an upstream could not be listed; their async calls are taken once one is accepted")]
    private static partial void LogListFailed(ILogger logger, Exception ex);

    [LoggerMessage(LogLevel.Warning, "Taking the async calls of {Resource} failed; trying again")]
    private static partial void LogTakeFailed(ILogger logger, Exception ex, string resource);

    [LoggerMessage(LogLevel.Warning, "The async call of job {JobId} on {Resource} could not be run; its visibility timeout returns it to the queue")]
    private static partial void LogRunFailed(ILogger logger, Exception ex, string resource, long jobId);
}

/// <summary>What the proxy answers an async call: the job it became, and where to follow it.</summary>
/// <param name="Output">Its output as it grows: <c>GET …?after=N</c>.</param>
/// <param name="Events">Its server-sent events: the output chunk by chunk, its changes, its end.</param>
internal sealed record ProxyJobAccepted(JobView Job, string Location, string Output, string Events);
