using System.ClientModel;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// A <see cref="DelegatingChatClient"/> that calls the inner client under a lease of one resource: it waits in the queue for
/// the call's estimated tokens (the prompt counted with the tokenizer, a few tokens a message for the chat format, plus the
/// most it may answer), and releases the lease with the usage the response reports (for a stream, its last usage update),
/// so the resource's tokens per window are charged what was really used. An upstream refusal the inner client raises as
/// <see cref="ClientResultException"/> (OpenAI's and Azure's SDKs) is reported with its status and headers, so an adaptive
/// resource learns from it. A lost lease cancels the call.
/// </summary>
public sealed class OrleansQueueChatClient : DelegatingChatClient
{
    /// <summary>Tokens OpenAI's chat format adds per message, and once for the reply's start.</summary>
    private const int PerMessageTokens = 3;

    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    private readonly OrleansQueueClient _client;
    private readonly string _resource;
    private readonly OrleansQueueChatClientOptions _options;

    public OrleansQueueChatClient(IChatClient inner, OrleansQueueClient client, string resource, OrleansQueueChatClientOptions? options = null)
        : base(inner)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        _client = client;
        _resource = resource;
        _options = options ?? new OrleansQueueChatClientOptions();
    }

    /// <summary>The load a call asks for: its estimate, or the options' own.</summary>
    public long Estimate(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (_options.EstimateLoad is { } estimate)
            return Math.Max(1, estimate(messages, options));
        var tokenizer = _options.Tokenizer ?? O200k.Value;
        long prompt = PerMessageTokens;
        foreach (var message in messages)
            prompt += PerMessageTokens + tokenizer.CountTokens(message.Text ?? "");
        return prompt + (options?.MaxOutputTokens ?? _options.DefaultMaxOutputTokens);
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyCollection<ChatMessage> ?? messages.ToList();
        var lease = await AcquireAsync(list, options, cancellationToken);
        ChatResponse response;
        using (var calling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost))
        {
            try
            {
                response = await base.GetResponseAsync(list, options, calling.Token);
            }
            catch (Exception error)
            {
                await ReleaseAfterAsync(lease, error);
                throw;
            }
        }
        await lease.ReleaseAsync(response.Usage?.TotalTokenCount);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyCollection<ChatMessage> ?? messages.ToList();
        var lease = await AcquireAsync(list, options, cancellationToken);
        long? used = null;
        bool released = false;
        using var calling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost);
        try
        {
            await using var updates = base.GetStreamingResponseAsync(list, options, calling.Token).GetAsyncEnumerator(calling.Token);
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync())
                        break;
                }
                catch (Exception error)
                {
                    released = true;
                    await ReleaseAfterAsync(lease, error);
                    throw;
                }
                foreach (var content in updates.Current.Contents)
                {
                    if (content is UsageContent { Details.TotalTokenCount: { } total })
                        used = total;
                }
                yield return updates.Current;
            }
        }
        finally
        {
            // Read to its end, or left by the caller: either way the slot goes back, charged what the stream reported.
            if (!released)
                await lease.ReleaseAsync(used);
        }
    }

    private Task<Lease> AcquireAsync(IReadOnlyCollection<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken) =>
        _client.AcquireAsync(_resource, Estimate(messages, options), _options.Priority, _options.ClientId, _options.MaxWait, cancellationToken);

    /// <summary>Releases after a failed call, reporting the upstream's answer when the error carries it.</summary>
    private static async Task ReleaseAfterAsync(Lease lease, Exception error)
    {
        UpstreamBody? upstream = null;
        if (error is ClientResultException { Status: > 0 } refused)
        {
            var headers = refused.GetRawResponse()?.Headers.Select(h => new KeyValuePair<string, IEnumerable<string>>(h.Key, [h.Value]));
            upstream = UpstreamHeaders.Parse(refused.Status, headers ?? []);
        }
        try
        {
            await (upstream is null ? lease.ReleaseAsync() : lease.ReleaseAsync(upstream));
        }
        catch (Exception)
        {
            // The silo could not be told: the lease, no longer renewed, expires at the end of its time to live.
        }
    }
}
