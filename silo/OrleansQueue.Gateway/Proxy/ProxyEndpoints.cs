using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>
/// <c>/v1/proxy/{resource}/{**path}</c>: a call forwarded to the resource's upstream under one of its leases. The caller
/// waits in the resource's queue (its client id, priority and longest wait from <c>X-OrleansQueue-*</c> headers), the call
/// goes out with the upstream's key in place of the caller's, the answer streams back unbuffered, and the lease is released
/// with the tokens the upstream says were used and what its headers said of its limits. An upstream 429 is not passed to
/// a caller that can still wait: the call queues again and is retried.
/// </summary>
internal static partial class ProxyEndpoints
{
    public const string HttpClientName = "OrleansQueue.Proxy";

    /// <summary>Response headers never passed back: hop-by-hop ones (the silo's server frames its own answer).</summary>
    private static readonly HashSet<string> NotReturned = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Set-Cookie",
    };

    public static RouteGroupBuilder MapProxyEndpoints(this RouteGroupBuilder v1)
    {
        // One operation per method, each with an id of its own (an OpenAPI document names every operation once).
        foreach (string method in new[] { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" })
        {
            v1.MapMethods("/proxy/{resource}/{**path}", [method], Forward)
                .WithTags("Proxy").WithOperationId("proxy" + method[0] + method[1..].ToLowerInvariant())
                .Produces(200).Produces<ProxyJobAccepted>(202).ProducesProblem(400).ProducesProblem(404).ProducesProblem(429).ProducesProblem(502)
                .WithSummary("Forwards a call to the resource's upstream under one of its leases: queued by X-OrleansQueue-Priority, " +
                    "X-OrleansQueue-Client and X-OrleansQueue-Max-Wait-Ms, streamed back as the upstream answers, released with its usage. " +
                    "With Prefer: respond-async: 202 at once with a job, which a silo runs when the budget allows (its output grows as the upstream streams).");
        }
        return v1;
    }

    private static async Task Forward(string resource, string? path, HttpContext context, RequestOperations requests, ProxyUpstreams upstreams,
        ProxyJobs asyncCalls, ResourceGrains grains, IHttpClientFactory clients, IOptions<GatewayOptions> options, ILoggerFactory loggers)
    {
        var ct = context.RequestAborted;
        var caller = context.Caller();
        if (!Names.IsValidResource(resource))
        {
            await ProxyProblem.WriteAsync(context, Problem.Invalid("resource", $"resource must be {Names.ResourceRule}; it is \"{resource}\"."));
            return;
        }
        var upstream = await upstreams.FindAsync(resource, ct);
        if (upstream is null)
        {
            await ProxyProblem.WriteAsync(context, Problem.NoUpstream(resource));
            return;
        }
        var call = await ProxyCall.ReadAsync(context, path, options.Value.MaxProxyBodyBytes, ct);
        if (call.Problem is { } bad)
        {
            await ProxyProblem.WriteAsync(context, bad);
            return;
        }
        if (upstream.Provider is UpstreamEndpoint.OpenAi or UpstreamEndpoint.AzureOpenAi)
            call.AskForStreamUsage();
        if (ProxyJobs.AsksForAsync(context.Request))
        {
            await asyncCalls.AcceptAsync(context, resource, call);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        // The caller's wait, or the resource's default, bounds every try: an upstream that keeps refusing ends in a 429.
        var deadline = DateTimeOffset.UtcNow + (call.MaxWaitMs is { } wait ? TimeSpan.FromMilliseconds(wait) : upstream.DefaultMaxWait);
        var logger = loggers.CreateLogger(typeof(ProxyEndpoints));
        var lease = await HeldAsync(requests, caller, resource, new AcquireBody(call.ClientId, call.Load, call.Priority, RemainingMs(deadline), IdempotencyKey: null), ct);
        if (lease.Problem is { } refused)
        {
            await ProxyProblem.WriteAsync(context, refused);
            return;
        }
        var (view, position) = lease.Value!;
        using var renewal = Renewal.Start(requests, caller, resource, view);
        // What remains of the budget after this grant, for the caller's RateLimit fields, asked while the upstream works.
        var budget = grains.CallAsync(resource, g => g.Administration.Stats(caller), CancellationToken.None);
        try
        {
            while (true)
            {
                HttpResponseMessage answer;
                try
                {
                    answer = await clients.CreateClient(HttpClientName).SendAsync(call.ToUpstream(upstream), HttpCompletionOption.ResponseHeadersRead, ct);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    await ReleaseAsync(requests, caller, resource, view.Id, actualLoad: 0, upstream: null);
                    LogUpstreamFailed(logger, resource, ex.Message);
                    await ProxyProblem.WriteAsync(context, Problem.UpstreamFailed(resource, ex is TaskCanceledException ? "it did not answer in time" : ex.Message));
                    return;
                }
                using (answer)
                {
                    var report = UpstreamHeaderParser.Parse(answer);
                    // Refused for its rate while the caller can still wait: reported (an adaptive resource pauses its grants),
                    // and sent again when the upstream's retry-after allows. The call keeps its lease meanwhile: nothing queued
                    // after it overtakes it, as if it were first in its level.
                    var retryAfter = TimeSpan.FromMilliseconds(report.RetryAfterMs ?? DefaultRetryAfterMs);
                    if ((int)answer.StatusCode == 429 && DateTimeOffset.UtcNow + retryAfter < deadline)
                    {
                        await requests.ReportAsync(caller, resource, view.Id, report, CancellationToken.None);
                        await Task.Delay(retryAfter, ct);
                        continue;
                    }
                    var headers = context.Response.Headers;
                    headers["X-OrleansQueue-Queued-Ms"] = Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
                    headers["X-OrleansQueue-Position"] = position.ToString(CultureInfo.InvariantCulture);
                    if (view.FencingToken is { } fencing)
                        headers["X-OrleansQueue-Fencing-Token"] = fencing.ToString(CultureInfo.InvariantCulture);
                    if ((await budget).Value is { } stats)
                        upstream.WriteRateLimit(headers, stats);
                    long? used = await PassBackAsync(context, answer, ct);
                    await ReleaseAsync(requests, caller, resource, view.Id, used, report);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The caller left before the answer began: the lease goes back, nothing was used.
            await ReleaseAsync(requests, caller, resource, view.Id, actualLoad: 0, upstream: null);
        }
    }

    /// <summary>Waits for a lease: held at once, or waiting until granted (claimed as it is learned of), refused, or the
    /// caller left (its ticket is withdrawn).</summary>
    private static async Task<Outcome<Granted>> HeldAsync(RequestOperations requests, Caller caller, string resource, AcquireBody body, CancellationToken ct)
    {
        var answer = await requests.AcquireAsync(caller, resource, body, observer: null, ct);
        if (answer.Problem is { } problem)
            return problem;
        var view = answer.Value!;
        int position = view.Position ?? 0;
        try
        {
            while (view.State == RequestPhase.Waiting)
            {
                var next = await requests.WaitAsync(caller, resource, view.Id, requests.MaxLongPoll, ct);
                if (next.Problem is { } lost)
                    return lost;
                view = next.Value!;
            }
        }
        catch (OperationCanceledException)
        {
            await requests.CancelAsync(caller, resource, view.Id, CancellationToken.None);
            throw;
        }
        return view.State == RequestPhase.Held
            ? new Outcome<Granted>(new Granted(view, position), null)
            : Problem.Refused(view.Reason ?? Contracts.RejectionReason.TimedOut, $"Request {view.Id} on {resource} ended {view.State} before its grant.");
    }

    /// <summary>Passes the upstream's answer back as it arrives (each chunk flushed at once), reading its usage on the way.
    /// A caller that leaves stops it (the upstream call is aborted).</summary>
    private static async Task<long?> PassBackAsync(HttpContext context, HttpResponseMessage answer, CancellationToken ct)
    {
        var response = context.Response;
        response.StatusCode = (int)answer.StatusCode;
        foreach (var (name, values) in answer.Headers.Concat(answer.Content.Headers))
        {
            if (!NotReturned.Contains(name))
                response.Headers[name] = values.ToArray();
        }
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        bool stream = answer.Content.Headers.ContentType?.MediaType == "text/event-stream";
        var usage = new UsageReader(stream);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            await using var body = await answer.Content.ReadAsStreamAsync(ct);
            int read;
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
            {
                usage.Read(buffer.AsSpan(0, read));
                await response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
                await response.Body.FlushAsync(ct);
            }
            usage.Complete();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && ct.IsCancellationRequested)
        {
            // The caller left mid-answer: the upstream call ends with it; what was said of usage so far is charged.
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
        return usage.Tokens;
    }

    private static Task ReleaseAsync(RequestOperations requests, Caller caller, string resource, long id, long? actualLoad, UpstreamBody? upstream) =>
        requests.ReleaseAsync(caller, resource, id, new ReleaseBody(actualLoad, IdempotencyKey: null, upstream), CancellationToken.None);

    private static long RemainingMs(DateTimeOffset deadline) => Math.Max(0, (long)(deadline - DateTimeOffset.UtcNow).TotalMilliseconds);

    /// <summary>How long a 429 without a retry-after waits before the call is sent again (as a resource pauses for one).</summary>
    private const long DefaultRetryAfterMs = 1000;

    private sealed record Granted(RequestView View, int Position);

    [LoggerMessage(LogLevel.Warning, "The upstream of {Resource} failed: {Reason}")]
    private static partial void LogUpstreamFailed(ILogger logger, string resource, string reason);
}
