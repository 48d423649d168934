using System.Net;
using System.Net.Http.Json;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>The same operations as the WebSocket protocol, over plain HTTP: the fallback when push is unavailable, and the
/// way to the endpoints the WebSocket does not carry (long-poll, workers, resources). All its JSON is here.</summary>
internal sealed class HttpApi(HttpClient http) : IWorkerCalls
{
    /// <summary>Long-poll was refused (a proxy that does not allow it); plain polling from now on.</summary>
    public bool LongPollRefused { get; private set; }

    /// <summary>Runs a request operation as the equivalent HTTP call: the request's view, or the problem thrown typed.</summary>
    public async Task<RequestView> CallAsync(SocketRequest m, CancellationToken ct)
    {
        string resource = Uri.EscapeDataString(m.Resource ?? "");
        string requests = $"v1/resources/{resource}/requests/{m.Id}";
        using var request = m.Op switch
        {
            SocketOps.Acquire => Message(HttpMethod.Post, $"v1/resources/{resource}/acquire", new AcquireBody(m.ClientId, m.Load, m.Priority, m.MaxWaitMs, m.IdempotencyKey)),
            SocketOps.Status => Message(HttpMethod.Get, requests),
            SocketOps.Release => Message(HttpMethod.Post, $"{requests}/release", new ReleaseBody(m.ActualLoad, m.IdempotencyKey, m.Upstream)),
            SocketOps.Report => Message(HttpMethod.Post, $"{requests}/report", m.Upstream ?? new UpstreamBody()),
            SocketOps.Renew or SocketOps.Claim => Message(HttpMethod.Post, $"{requests}/renew"),
            SocketOps.Cancel => Message(HttpMethod.Delete, requests),
            _ => throw new ArgumentException($"No HTTP form for op \"{m.Op}\".", nameof(m)),
        };
        return await SendAsync<RequestView>(request, ct) ?? throw new ConnectionLostException($"{m.Op} was answered with no content.");
    }

    /// <summary>Long-polls a request: its view once it has left the waitlist, or after <paramref name="timeout"/>.</summary>
    public async Task<RequestView> WaitAsync(string resource, long id, TimeSpan timeout, CancellationToken ct)
    {
        using var request = Message(HttpMethod.Get,
            $"v1/resources/{Uri.EscapeDataString(resource)}/requests/{id}/wait?timeoutMs={(long)timeout.TotalMilliseconds}");
        return await SendAsync<RequestView>(request, ct, refusedLongPoll: true) ?? throw new ConnectionLostException("The long-poll was answered with no content.");
    }

    public async Task<IReadOnlyList<JobView>> TakeAsync(string resource, string worker, int max, TimeSpan wait, CancellationToken ct)
    {
        using var request = Message(HttpMethod.Post, $"v1/resources/{Uri.EscapeDataString(resource)}/jobs/take",
            new TakeBody(worker, (long)wait.TotalMilliseconds, max));
        var taken = await SendAsync<TakenJobs>(request, ct) ?? throw new ConnectionLostException("The take was answered with no content.");
        return taken.Jobs;
    }

    public async Task<JobView> AppendOutputAsync(string resource, long id, OutputBody body, CancellationToken ct)
    {
        using var request = Message(HttpMethod.Post, $"v1/resources/{Uri.EscapeDataString(resource)}/jobs/{id}/output", body);
        return await SendAsync<JobView>(request, ct) ?? throw new ConnectionLostException("The append was answered with no content.");
    }

    public async Task<JobOutputView> ReadOutputAsync(string resource, long id, long after, CancellationToken ct)
    {
        using var request = Message(HttpMethod.Get, $"v1/resources/{Uri.EscapeDataString(resource)}/jobs/{id}/output?after={after}");
        return await SendAsync<JobOutputView>(request, ct) ?? throw new ConnectionLostException("The read was answered with no content.");
    }

    public async Task<JobView> ReportAsync(string resource, long id, WorkerReportKind kind, WorkerReport report, CancellationToken ct)
    {
        string name = kind switch
        {
            WorkerReportKind.Heartbeat => "heartbeat",
            WorkerReportKind.Progress => "progress",
            WorkerReportKind.Complete => "complete",
            _ => "fail",
        };
        using var request = Message(HttpMethod.Post, $"v1/resources/{Uri.EscapeDataString(resource)}/jobs/{id}/{name}", report);
        return await SendAsync<JobView>(request, ct) ?? throw new ConnectionLostException($"The {name} was answered with no content.");
    }

    /// <summary>A request to <paramref name="path"/>, with <paramref name="body"/> as the API's JSON.</summary>
    public static HttpRequestMessage Message(HttpMethod method, string path, object? body = null) =>
        new(method, path) { Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: WireJson.Options) };

    /// <summary>Sends one request: the answer as <typeparamref name="T"/>, <c>null</c> for 204, a typed exception for a
    /// problem, and <see cref="ConnectionLostException"/> when the silo cannot be reached or answers 5xx without a problem.</summary>
    public async Task<T?> SendAsync<T>(HttpRequestMessage request, CancellationToken ct, bool refusedLongPoll = false) where T : class
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new ConnectionLostException("The silo did not answer over HTTP.", ex);
        }
        using (response)
        {
            bool problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
            if (refusedLongPoll && !problem && response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented)
            {
                LongPollRefused = true;
                throw new ConnectionLostException("Long-poll is not available here.");
            }
            if ((int)response.StatusCode >= 500 && !problem)
                throw new ConnectionLostException($"The silo answered {(int)response.StatusCode}.");
            if (!response.IsSuccessStatusCode)
            {
                var refusal = await response.Content.ReadFromJsonAsync<ProblemBody>(WireJson.Options, ct)
                    ?? throw new ConnectionLostException($"The silo answered {(int)response.StatusCode} with no problem.");
                throw OrleansQueueException.FromProblem(refusal);
            }
            if (response.StatusCode == HttpStatusCode.NoContent)
                return null;
            return await response.Content.ReadFromJsonAsync<T>(WireJson.Options, ct);
        }
    }
}
