using System.Net;
using System.Text.Json;

namespace OrleansQueue.Tests.Silo;

/// <summary>A job's growing output over HTTP, against a real Kestrel: appended by a worker, read by polling with
/// <c>after=</c>, and followed by server-sent events that resume after a reconnect with Last-Event-ID.</summary>
public sealed class JobOutputApiTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    private readonly HttpClient _http = silo.CreateClient();

    private async Task<long> RunningJobAsync(string resource, string policy = """{"maxConcurrent":1}""")
    {
        await _http.CreateResource(resource, policy);
        long id = (await _http.Post($"/v1/resources/{resource}/jobs", """{"payload":{"prompt":"write"}}""")).Body.GetProperty("id").GetInt64();
        Assert.Equal(id, (await _http.Post($"/v1/resources/{resource}/jobs/take", """{"workerId":"w"}""")).Body.GetProperty("id").GetInt64());
        return id;
    }

    [Fact]
    public async Task APollerReadsWhatCameAfterItsOffsetUntilTheOutputIsComplete()
    {
        long id = await RunningJobAsync("output-poll");
        string jobs = "/v1/resources/output-poll/jobs";
        var empty = await _http.Get($"{jobs}/{id}/output");
        Assert.Equal((0L, "", 0L, false), Read(empty.Body));

        var appended = await _http.Post($"{jobs}/{id}/output", """{"workerId":"w","text":"Once upon a time, ","offset":0}""");
        Assert.Equal(HttpStatusCode.OK, appended.Status);
        Assert.Equal(18, appended.Body.GetProperty("outputLength").GetInt64());
        await _http.Post($"{jobs}/{id}/output", """{"workerId":"w","text":"a café…"}""");

        var all = await _http.Get($"{jobs}/{id}/output");
        Assert.Equal((0L, "Once upon a time, a café…", 28L, false), Read(all.Body));
        var rest = await _http.Get($"{jobs}/{id}/output?after=18");
        Assert.Equal((18L, "a café…", 28L, false), Read(rest.Body));
        Assert.Equal("running", rest.Body.GetProperty("state").GetString());

        await _http.Post($"{jobs}/{id}/complete", """{"workerId":"w","result":"Once upon a time, a café…"}""");
        var done = await _http.Get($"{jobs}/{id}/output?after=28");
        Assert.Equal((28L, "", 28L, true), Read(done.Body));
        Assert.Equal(28, (await _http.Get($"{jobs}/{id}")).Body.GetProperty("outputLength").GetInt64());
    }

    [Fact]
    public async Task AppendsAndReadsOutsideTheRulesAreRefusedByName()
    {
        long id = await RunningJobAsync("output-rules", """{"maxConcurrent":1,"jobMaxOutputBytes":10}""");
        string output = $"/v1/resources/output-rules/jobs/{id}/output";
        Assert.Equal(HttpStatusCode.OK, (await _http.Post(output, """{"workerId":"w","text":"12345678"}""")).Status);

        (await _http.Post(output, """{"workerId":"w","text":"abc"}""")).AssertProblem(HttpStatusCode.RequestEntityTooLarge, "output-full", "text");
        (await _http.Post(output, """{"workerId":"w","text":"ab","offset":3}""")).AssertProblem(HttpStatusCode.Conflict, "output-conflict", "offset");
        (await _http.Post(output, """{"workerId":"w"}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "text");
        (await _http.Post(output, """{"workerId":"other","text":"x"}""")).AssertProblem(HttpStatusCode.Conflict, "not-your-job", "workerId");
        (await _http.Get($"{output}?after=9")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "after");
        (await _http.Get("/v1/resources/output-rules/jobs/999/output")).AssertProblem(HttpStatusCode.NotFound, "unknown-job", "id");
        Assert.Equal(10, (await _http.Get("/v1/resources/output-rules")).Body.GetProperty("policy").GetProperty("jobMaxOutputBytes").GetInt64());
        (await _http.Put("/v1/resources/output-rules", """{"jobMaxOutputBytes":-1}""")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "jobMaxOutputBytes");
    }

    [Fact]
    public async Task TheEventStreamSendsEachChunkWithItsOffsetAndAReconnectResumesAfterTheLastOneSeen()
    {
        long id = await RunningJobAsync("output-sse");
        string jobs = "/v1/resources/output-sse/jobs";
        await _http.Post($"{jobs}/{id}/output", """{"workerId":"w","text":"before "}""");

        var first = await OpenEventsAsync($"{jobs}/{id}/events", lastEventId: null);
        var sofar = await Api.NextEvent(first.Reader);
        Assert.Equal(("output", "7", "before "), (sofar.Name, sofar.Id, sofar.Data.GetProperty("text").GetString()));
        Assert.Equal("running", (await Api.NextEvent(first.Reader)).Name);

        await _http.Post($"{jobs}/{id}/output", """{"workerId":"w","text":"live "}""");
        var live = await Api.NextEvent(first.Reader);
        Assert.Equal(("output", "12", 7L, "live "), (live.Name, live.Id, live.Data.GetProperty("offset").GetInt64(), live.Data.GetProperty("text").GetString()));
        first.Response.Dispose(); // the connection drops in the middle of the job

        await _http.Post($"{jobs}/{id}/output", """{"workerId":"w","text":"missed "}""");
        await _http.Post($"{jobs}/{id}/output", """{"workerId":"w","text":"while away"}""");
        var second = await OpenEventsAsync($"{jobs}/{id}/events", lastEventId: live.Id);
        var resumed = await Api.NextEvent(second.Reader);
        Assert.Equal(("output", "29", 12L, "missed while away"), (resumed.Name, resumed.Id, resumed.Data.GetProperty("offset").GetInt64(), resumed.Data.GetProperty("text").GetString()));
        Assert.Equal("running", (await Api.NextEvent(second.Reader)).Name);

        await _http.Post($"{jobs}/{id}/output", """{"workerId":"w","text":"."}""");
        Assert.Equal(("output", "30"), (await Api.NextEvent(second.Reader)) is var last ? (last.Name, last.Id) : default);
        await _http.Post($"{jobs}/{id}/complete", """{"workerId":"w","result":"ok"}""");
        Assert.Equal("completed", (await Api.NextEvent(second.Reader)).Name);
        second.Response.Dispose();

        var after = await OpenEventsAsync($"{jobs}/{id}/events", lastEventId: null); // a finished job: all its output, then its end
        var whole = await Api.NextEvent(after.Reader);
        Assert.Equal(("output", "30", "before live missed while away."), (whole.Name, whole.Id, whole.Data.GetProperty("text").GetString()));
        Assert.True(whole.Data.GetProperty("complete").GetBoolean());
        Assert.Equal("completed", (await Api.NextEvent(after.Reader)).Name);
        after.Response.Dispose();

        var tooFar = await _http.GetAsync($"{jobs}/{id}/events?after=31");
        Assert.Equal(HttpStatusCode.BadRequest, tooFar.StatusCode);
    }

    private static (long Offset, string Text, long Next, bool Complete) Read(JsonElement body) =>
        (body.GetProperty("offset").GetInt64(), body.GetProperty("text").GetString()!, body.GetProperty("next").GetInt64(), body.GetProperty("complete").GetBoolean());

    private async Task<(HttpResponseMessage Response, StreamReader Reader)> OpenEventsAsync(string path, string? lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is not null)
            request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }
}
