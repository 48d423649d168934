using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrleansQueue.Tests.Silo;

/// <summary>Small helpers that keep the API tests reading as sentences.</summary>
public static class Api
{
    public static async Task<(HttpStatusCode Status, JsonElement Body)> Send(this HttpClient client, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, body);
    }

    public static Task<(HttpStatusCode Status, JsonElement Body)> Put(this HttpClient c, string path, string json) => c.Send(HttpMethod.Put, path, json);
    public static Task<(HttpStatusCode Status, JsonElement Body)> Post(this HttpClient c, string path, string? json = null) => c.Send(HttpMethod.Post, path, json);
    public static Task<(HttpStatusCode Status, JsonElement Body)> Get(this HttpClient c, string path) => c.Send(HttpMethod.Get, path);
    public static Task<(HttpStatusCode Status, JsonElement Body)> Delete(this HttpClient c, string path) => c.Send(HttpMethod.Delete, path);

    public static async Task CreateResource(this HttpClient client, string name, string policy = "{\"maxConcurrent\":1}")
    {
        var (status, body) = await client.Put($"/v1/resources/{name}", policy);
        Assert.True(status == HttpStatusCode.Created, $"creating {name}: {status} {body}");
    }

    public static async Task<long> Acquire(this HttpClient client, string resource, string json, string expectedState)
    {
        var (status, body) = await client.Post($"/v1/resources/{resource}/acquire", json);
        Assert.True(body.ValueKind == JsonValueKind.Object && body.TryGetProperty("state", out var state) && state.GetString() == expectedState,
            $"acquire on {resource}: {status} {body}");
        return body.GetProperty("id").GetInt64();
    }

    public static string State(this JsonElement body)
    {
        Assert.True(body.ValueKind == JsonValueKind.Object && body.TryGetProperty("state", out _), $"expected a request, got {body}");
        return body.GetProperty("state").GetString()!;
    }

    public static void AssertProblem(this (HttpStatusCode Status, JsonElement Body) response, HttpStatusCode status, string type, string? field = null)
    {
        Assert.True(response.Status == status, $"expected {status}, got {response.Status}: {response.Body}");
        Assert.EndsWith(type, response.Body.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(response.Body.GetProperty("detail").GetString()));
        if (field is not null)
            Assert.Equal(field, response.Body.GetProperty("field").GetString());
    }

    /// <summary>The next server-sent event on <paramref name="reader"/>: its name, its id (if it has one) and its data, waited
    /// for up to 20 s.</summary>
    public static async Task<(string Name, string? Id, JsonElement Data)> NextEvent(StreamReader reader)
    {
        string? name = null, id = null;
        while (true)
        {
            string? line = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.NotNull(line);
            if (line.StartsWith("event: "))
                name = line["event: ".Length..];
            else if (line.StartsWith("id: "))
                id = line["id: ".Length..];
            else if (line.StartsWith("data: "))
                return (name!, id, JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone());
        }
    }
}
