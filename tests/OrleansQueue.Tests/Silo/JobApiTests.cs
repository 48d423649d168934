using System.Net;

namespace OrleansQueue.Tests.Silo;

public sealed class JobApiTests(SiloFactory factory) : IClassFixture<SiloFactory>
{
    private readonly HttpClient _http = factory.CreateClient();

    [Fact]
    public async Task AJobIsEnqueuedTakenWithItsPayloadReportedOnAndCompletedWithItsResult()
    {
        await _http.CreateResource("jobs-flow", """{"maxConcurrent":2}""");
        var enqueued = await _http.Post("/v1/resources/jobs-flow/jobs", """{"payload":{"prompt":"hello"},"clientId":"caller","priority":"high"}""");
        Assert.Equal(HttpStatusCode.Accepted, enqueued.Status);
        Assert.Equal("queued", enqueued.Body.State());
        long id = enqueued.Body.GetProperty("id").GetInt64();

        var taken = await _http.Post("/v1/resources/jobs-flow/jobs/take", """{"workerId":"w1"}""");
        Assert.Equal(HttpStatusCode.OK, taken.Status);
        Assert.Equal(id, taken.Body.GetProperty("id").GetInt64());
        Assert.Equal("hello", taken.Body.GetProperty("payload").GetProperty("prompt").GetString());

        var progress = await _http.Post($"/v1/resources/jobs-flow/jobs/{id}/progress", """{"workerId":"w1","progress":0.5,"message":"half"}""");
        Assert.Equal(0.5, progress.Body.GetProperty("progress").GetDouble());
        var waiting = _http.Get($"/v1/resources/jobs-flow/jobs/{id}/wait?timeoutMs=30000");
        await _http.Post($"/v1/resources/jobs-flow/jobs/{id}/complete", """{"workerId":"w1","result":{"answer":42}}""");

        var done = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("completed", done.Body.State());
        Assert.Equal(42, done.Body.GetProperty("result").GetProperty("answer").GetInt32());
        Assert.Equal(1, done.Body.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task ATakeWithAMaximumAnswersTheJobsItCouldHaveAsAListEmptyWhenNoneCame()
    {
        await _http.CreateResource("jobs-batch", """{"maxConcurrent":3}""");
        var ids = new List<long>();
        for (int n = 0; n < 5; n++)
            ids.Add((await _http.Post("/v1/resources/jobs-batch/jobs", $$"""{"payload":{{n}}}""")).Body.GetProperty("id").GetInt64());

        var taken = await _http.Post("/v1/resources/jobs-batch/jobs/take", """{"workerId":"w1","max":10}""");

        Assert.Equal(HttpStatusCode.OK, taken.Status);
        var jobs = taken.Body.GetProperty("jobs").EnumerateArray().ToList();
        Assert.Equal(ids.Take(3), jobs.Select(j => j.GetProperty("id").GetInt64())); // the budget allows three
        Assert.Equal([0, 1, 2], jobs.Select(j => j.GetProperty("payload").GetInt32()));
        var none = await _http.Post("/v1/resources/jobs-batch/jobs/take", """{"workerId":"w2","max":2,"waitMs":0}""");
        Assert.Equal(HttpStatusCode.OK, none.Status);
        Assert.Empty(none.Body.GetProperty("jobs").EnumerateArray());
        (await _http.Post("/v1/resources/jobs-batch/jobs/take", """{"workerId":"w1","max":0}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "max");
        (await _http.Post("/v1/resources/jobs-batch/jobs/take", """{"workerId":"w1","max":101}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "max");
    }

    [Fact]
    public async Task AWaitingWorkerGetsAJobTheMomentItIsEnqueuedAndAnIdleOneGetsNoContent()
    {
        await _http.CreateResource("jobs-longpoll");
        Assert.Equal(HttpStatusCode.NoContent, (await _http.Post("/v1/resources/jobs-longpoll/jobs/take", """{"workerId":"w1"}""")).Status);

        var take = _http.Post("/v1/resources/jobs-longpoll/jobs/take", """{"workerId":"w1","waitMs":30000}""");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await _http.Get("/v1/resources/jobs-longpoll/stats")).Body.GetProperty("jobs").GetProperty("waitingWorkers").GetInt32() == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the worker never waited");
            await Task.Delay(10); // nothing signals the test that the worker's wait is registered
        }
        var enqueued = await _http.Post("/v1/resources/jobs-longpoll/jobs", """{"payload":[1,2,3]}""");

        var taken = await take.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(enqueued.Body.GetProperty("id").GetInt64(), taken.Body.GetProperty("id").GetInt64());
        Assert.Equal(3, taken.Body.GetProperty("payload").GetArrayLength());
    }

    [Fact]
    public async Task AFailedJobRetriesAndReportsFromAnotherWorkerAreRefused()
    {
        await _http.CreateResource("jobs-fail", """{"maxConcurrent":2}""");
        long id = (await _http.Post("/v1/resources/jobs-fail/jobs", """{"payload":"x"}""")).Body.GetProperty("id").GetInt64();
        await _http.Post("/v1/resources/jobs-fail/jobs/take", """{"workerId":"w1"}""");

        (await _http.Post($"/v1/resources/jobs-fail/jobs/{id}/complete", """{"workerId":"w2","result":1}""")).AssertProblem(HttpStatusCode.Conflict, "not-your-job", "workerId");
        var failed = await _http.Post($"/v1/resources/jobs-fail/jobs/{id}/fail", """{"workerId":"w1","error":"boom"}""");

        Assert.Equal("retrying", failed.Body.State());
        Assert.Equal("boom", failed.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task BadJobInputIsRefusedNamingTheField()
    {
        await _http.CreateResource("jobs-bad");
        (await _http.Post("/v1/resources/jobs-bad/jobs", """{"clientId":"c"}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "payload");
        (await _http.Post("/v1/resources/jobs-bad/jobs", """{"payload":1,"deadlineMs":0}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "deadlineMs");
        (await _http.Post("/v1/resources/jobs-bad/jobs/take", """{"workerId":""}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "workerId");
        (await _http.Post("/v1/resources/jobs-bad/jobs/1/fail", """{"workerId":"w"}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "error");
        (await _http.Get("/v1/resources/jobs-bad/jobs/999")).AssertProblem(HttpStatusCode.NotFound, "unknown-job", "id");
    }

    [Fact]
    public async Task AnEnqueueRetriedWithItsIdempotencyKeyAnswersTheSameJob()
    {
        await _http.CreateResource("jobs-idempotent");
        var first = await _http.Post("/v1/resources/jobs-idempotent/jobs", """{"payload":1,"idempotencyKey":"k"}""");
        var again = await _http.Post("/v1/resources/jobs-idempotent/jobs", """{"payload":1,"idempotencyKey":"k"}""");
        Assert.Equal(first.Body.GetProperty("id").GetInt64(), again.Body.GetProperty("id").GetInt64());
    }
}
