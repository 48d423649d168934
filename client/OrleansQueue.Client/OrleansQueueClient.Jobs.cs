using System.Text.Json;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

public sealed partial class OrleansQueueClient
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Resource, long Id), TaskCompletionSource<JobView>> _jobWaiters = new();

    /// <summary>Enqueues a job whose <paramref name="payload"/> (serialised as JSON) a worker will run under the resource's limits.</summary>
    /// <param name="idempotencyKey">A retry with the same key answers the same job; one is generated when none is given.</param>
    public async Task<QueueJob> EnqueueAsync<T>(string resource, T payload, long load = 1, Priority priority = Priority.Normal, string? clientId = null,
        TimeSpan? deadline = null, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        using var activity = ClientTelemetry.Source.StartActivity($"enqueue {resource}", System.Diagnostics.ActivityKind.Producer);
        activity?.SetTag("orleansqueue.resource", resource).SetTag("orleansqueue.load", load).SetTag("orleansqueue.priority", priority.ToString());
        var body = new EnqueueBody(JsonSerializer.SerializeToElement(payload), clientId ?? Options.ClientId, load, priority,
            deadline is { } d ? (long)d.TotalMilliseconds : null, idempotencyKey ?? Guid.NewGuid().ToString("N"));
        if (await SocketAsync(cancellationToken) is not null)
        {
            return QueueJob.From(await JobOpAsync(new SocketRequest(SocketOps.EnqueueJob, Resource: resource, ClientId: body.ClientId, Load: body.Load,
                Priority: body.Priority, IdempotencyKey: body.IdempotencyKey, Payload: body.Payload, DeadlineMs: body.DeadlineMs), cancellationToken));
        }
        return QueueJob.From(await JobCallAsync(HttpMethod.Post, $"v1/resources/{Uri.EscapeDataString(resource)}/jobs", body, cancellationToken));
    }

    /// <summary>A job as it stands.</summary>
    public async Task<QueueJob> GetJobAsync(string resource, long jobId, CancellationToken cancellationToken = default) =>
        await SocketAsync(cancellationToken) is not null
            ? QueueJob.From(await JobOpAsync(Op(SocketOps.Job, resource, jobId), cancellationToken))
            : QueueJob.From(await JobCallAsync(HttpMethod.Get, JobPath(resource, jobId), null, cancellationToken));

    /// <summary>Cancels a job that no worker has taken yet; a running or finished job is refused (typed).</summary>
    public async Task<QueueJob> CancelJobAsync(string resource, long jobId, CancellationToken cancellationToken = default) =>
        await SocketAsync(cancellationToken) is not null
            ? QueueJob.From(await JobOpAsync(Op(SocketOps.CancelJob, resource, jobId), cancellationToken))
            : QueueJob.From(await JobCallAsync(HttpMethod.Delete, JobPath(resource, jobId), null, cancellationToken));

    /// <summary>Waits for a job to finish and returns its result: pushed over the WebSocket the moment it finishes, or by
    /// long-poll when there is no WebSocket.</summary>
    /// <exception cref="JobFailedException">The job was dead-lettered or cancelled.</exception>
    public async Task<JsonElement?> WaitForResultAsync(string resource, long jobId, CancellationToken cancellationToken = default)
    {
        if (await SocketAsync(cancellationToken) is not null)
        {
            var key = (resource, jobId);
            var finished = _jobWaiters.GetOrAdd(key, _ => new TaskCompletionSource<JobView>(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                // Registered before the watch goes out, so a push that overtakes the reply still lands.
                OnJobUpdate(await JobOpAsync(Op(SocketOps.WatchJob, resource, jobId), cancellationToken));
                return Finished(QueueJob.From(await finished.Task.WaitAsync(cancellationToken)));
            }
            catch (OrleansQueueException ex) when (ex.Type.EndsWith(":push-disabled", StringComparison.Ordinal))
            {
                // A polling-only resource: fall through to long-poll, or (with no gateway to long-poll) to polling.
            }
            finally
            {
                _jobWaiters.TryRemove(key, out _);
            }
        }
        while (true)
        {
            var job = _http.BaseAddress is not null
                ? QueueJob.From(await JobCallAsync(HttpMethod.Get, JobPath(resource, jobId) + "/wait?timeoutMs=30000", null, cancellationToken))
                : await PolledJobAsync(resource, jobId, cancellationToken);
            if (job.State == JobState.Completed)
                return job.Result;
            if (job.IsFinished)
                throw new JobFailedException(job);
        }
    }

    /// <summary>
    /// Runs jobs of <paramref name="resource"/> with <paramref name="handler"/>, <paramref name="concurrency"/> at a time, until
    /// cancelled. Jobs are taken by long-poll, as many at once as there are free slots; each is kept alive by heartbeats while
    /// the handler runs, and completed with the handler's result, or failed with its exception (the silo retries it with
    /// backoff). A client with a grain factory takes and reports through Orleans, otherwise over the gateway's HTTP API
    /// (an admin API key). On cancellation the jobs already running are left to their visibility timeout.
    /// </summary>
    public async Task RunWorkerAsync(string resource, Func<JobContext, CancellationToken, Task<object?>> handler, int concurrency = 1,
        string? workerId = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(concurrency, Validation.MaxJobsPerTake);
        string worker = workerId ?? $"{Options.ClientId}-{Environment.ProcessId}";
        var calls = await WorkerCallsAsync(cancellationToken);
        using var free = new SemaphoreSlim(concurrency);
        var running = new HashSet<Task>();
        var backoff = new Backoff(Options);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await free.WaitAsync(cancellationToken);
                int slots = 1;
                while (free.Wait(0))
                    slots++;
                IReadOnlyList<JobView> taken = [];
                try
                {
                    taken = await calls.TakeAsync(resource, worker, slots, TimeSpan.FromSeconds(30), cancellationToken);
                    backoff.Reset();
                }
                catch (Exception ex) when (ex is ConnectionLostException or OrleansQueueException { Status: 503 })
                {
                    // Unreachable, or the resource is moving between silos: take again after a pause.
                    await backoff.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
                }
                finally
                {
                    if (slots > taken.Count)
                        free.Release(slots - taken.Count);
                }
                lock (running)
                    running.RemoveWhere(t => t.IsCompleted);
                foreach (var view in taken)
                {
                    var run = RunOneAsync(calls, resource, QueueJob.From(view), handler, worker, cancellationToken).ContinueWith(_ => free.Release(), TaskScheduler.Default);
                    lock (running)
                        running.Add(run);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        Task[] left;
        lock (running)
            left = [.. running];
        await Task.WhenAll(left);
    }

    private async Task RunOneAsync(IWorkerCalls calls, string resource, QueueJob job, Func<JobContext, CancellationToken, Task<object?>> handler,
        string worker, CancellationToken stop)
    {
        using var activity = ClientTelemetry.Source.StartActivity($"run job {resource}", System.Diagnostics.ActivityKind.Consumer);
        activity?.SetTag("orleansqueue.resource", resource).SetTag("orleansqueue.job_id", job.Id).SetTag("orleansqueue.worker_id", worker);
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stop);
        // Three heartbeats per visibility timeout: one lost or late heartbeat does not lose the job.
        var interval = job.VisibleUntil is { } until ? (until - DateTimeOffset.UtcNow) / 3 : TimeSpan.FromSeconds(5);
        if (interval < TimeSpan.FromMilliseconds(50))
            interval = TimeSpan.FromMilliseconds(50);
        var heartbeats = Task.Run(async () =>
        {
            while (!running.IsCancellationRequested)
            {
                await Task.Delay(interval, running.Token);
                try
                {
                    await calls.ReportAsync(resource, job.Id, WorkerReportKind.Heartbeat, new WorkerReport(worker), running.Token);
                }
                catch (OrleansQueueException)
                {
                    await running.CancelAsync(); // the job is no longer ours: stop working on it
                }
                catch (ConnectionLostException)
                {
                    // The silo is away; the next heartbeat may reach it while the job is still ours.
                }
            }
        });
        WorkerReportKind outcome;
        WorkerReport report;
        try
        {
            var context = new JobContext(job, (p, m, ct) => calls.ReportAsync(resource, job.Id, WorkerReportKind.Progress, new WorkerReport(worker, p, m), ct),
                (text, offset, ct) => AppendUntilHeardAsync(calls, resource, job.Id, new OutputBody(worker, text, offset), ct));
            var result = await handler(context, running.Token);
            (outcome, report) = (WorkerReportKind.Complete, new WorkerReport(worker, Result: JsonSerializer.SerializeToElement(result)));
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
            return; // stopping, or the job was taken back: its visibility timeout returns it to the queue
        }
        catch (Exception ex)
        {
            (outcome, report) = (WorkerReportKind.Fail, new WorkerReport(worker, Error: $"{ex.GetType().Name}: {ex.Message}"));
        }
        finally
        {
            await running.CancelAsync();
            await heartbeats.ContinueWith(_ => { }, TaskScheduler.Default);
        }
        // Reported until heard: a completion repeated by the same worker is accepted once.
        var backoff = new Backoff(Options);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await calls.ReportAsync(resource, job.Id, outcome, report, stop);
                return;
            }
            catch (OrleansQueueException ex) when (ex.Status != 503)
            {
                return; // too late: the job timed out and went back to the queue; another worker runs it
            }
            catch (Exception ex) when (ex is ConnectionLostException or OrleansQueueException)
            {
                // Unreachable, or the resource is moving (503): nothing took effect, or it did and the repeat is taken once.
                await backoff.WaitAsync(stop).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>An append sent until it is heard: at its offset, a repeat of one that landed changes nothing.</summary>
    private async Task AppendUntilHeardAsync(IWorkerCalls calls, string resource, long id, OutputBody body, CancellationToken ct)
    {
        var backoff = new Backoff(Options);
        while (true)
        {
            try
            {
                await calls.AppendOutputAsync(resource, id, body, ct);
                return;
            }
            catch (Exception ex) when (ex is ConnectionLostException or OrleansQueueException { Status: 503 } && !ct.IsCancellationRequested)
            {
                await backoff.WaitAsync(ct);
            }
        }
    }

    /// <summary>A job's output after byte <paramref name="after"/> (0: from the start), up to about a MiB at once: read again
    /// after <see cref="JobOutputView.Next"/> until <see cref="JobOutputView.Complete"/>.</summary>
    public async Task<JobOutputView> ReadJobOutputAsync(string resource, long jobId, long after = 0, CancellationToken cancellationToken = default) =>
        await (await WorkerCallsAsync(cancellationToken)).ReadOutputAsync(resource, jobId, after, cancellationToken);

    /// <summary>A job's output as it grows: what came after <paramref name="after"/>, then each new stretch, read every
    /// <see cref="OrleansQueueClientOptions.PollInterval"/>, until the job has finished and all its output was read.</summary>
    public async IAsyncEnumerable<JobOutputView> FollowJobOutputAsync(string resource, long jobId, long after = 0,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var calls = await WorkerCallsAsync(cancellationToken);
        while (true)
        {
            var read = await calls.ReadOutputAsync(resource, jobId, after, cancellationToken);
            if (read.Next > after)
                yield return read;
            if (read.Complete)
                yield break;
            if (read.Next == read.Length)
                await Task.Delay(Options.PollInterval, cancellationToken); // caught up: wait for more
            after = read.Next;
        }
    }

    /// <summary>Where a worker takes and reports: the grains when this client has a grain factory, else the gateway's HTTP API.</summary>
    private async Task<IWorkerCalls> WorkerCallsAsync(CancellationToken ct)
    {
        if (_orleans is not null && await SocketAsync(ct) is IWorkerCalls grains)
            return grains;
        return _http.BaseAddress is not null ? _httpApi
            : throw new NotSupportedException("Running a worker needs a grain factory or the silo's HTTP address (OrleansQueueClientOptions.BaseAddress).");
    }

    /// <summary>The job after one poll interval (a polling-only resource reached through Orleans).</summary>
    private async Task<QueueJob> PolledJobAsync(string resource, long jobId, CancellationToken ct)
    {
        await Task.Delay(Options.PollInterval, ct);
        return await GetJobAsync(resource, jobId, ct);
    }

    private static JsonElement? Finished(QueueJob job) =>
        job.State == JobState.Completed ? job.Result : throw new JobFailedException(job);

    private void OnJobUpdate(JobView view)
    {
        if (view.IsFinished && _jobWaiters.TryRemove((view.Resource, view.Id), out var waiter))
            waiter.TrySetResult(view);
    }

    /// <summary>One job operation over the connection (the WebSocket, or Orleans), retried after a lost connection or while
    /// the resource moves (503): each is idempotent, an enqueue by its key. Returns the job.</summary>
    private async Task<JobView> JobOpAsync(SocketRequest message, CancellationToken ct)
    {
        var backoff = new Backoff(Options);
        while (true)
        {
            try
            {
                var connection = await SocketAsync(ct) ?? throw new InvalidOperationException("Job operations over the connection need one.");
                return Answer(await connection.CallAsync(message, ct)).Job
                    ?? throw new ConnectionLostException($"{message.Op} was answered without its job.");
            }
            catch (Exception ex) when (ex is ConnectionLostException || (ex is OrleansQueueException { Status: 503 } && !ct.IsCancellationRequested))
            {
                await backoff.WaitAsync(ct);
            }
        }
    }

    private async Task<IConnection?> SocketAsync(CancellationToken ct) => await _socket.Value.WaitAsync(ct);

    private static string JobPath(string resource, long id) => $"v1/resources/{Uri.EscapeDataString(resource)}/jobs/{id}";

    private async Task<JobView> JobCallAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        if (_http.BaseAddress is null)
            throw new NotSupportedException("This job call needs the silo's HTTP address (OrleansQueueClientOptions.BaseAddress) or a connection.");
        using var request = HttpApi.Message(method, path, body);
        return await _httpApi.SendAsync<JobView>(request, ct)
            ?? throw new OrleansQueueException("urn:orleansqueue:problem:no-content", 204, $"{path} answered no content.");
    }
}
