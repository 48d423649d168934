using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>How an <see cref="OrleansQueueChatClient"/> ranks and weighs each chat call.</summary>
public sealed class OrleansQueueChatClientOptions
{
    /// <summary>The priority of every call.</summary>
    public Priority Priority { get; set; } = Priority.Normal;

    /// <summary>Who asks (fairness and quotas are per client); null for the client's own id.</summary>
    public string? ClientId { get; set; }

    /// <summary>How long a call may wait in the queue; null for the resource's default.</summary>
    public TimeSpan? MaxWait { get; set; }

    /// <summary>The most a call may answer when its <see cref="ChatOptions.MaxOutputTokens"/> is not set: part of its estimate.</summary>
    public int DefaultMaxOutputTokens { get; set; } = 1024;

    /// <summary>Counts the prompt's tokens; null for o200k (the vocabulary of gpt-4o and later OpenAI models), offline.</summary>
    public Tokenizer? Tokenizer { get; set; }

    /// <summary>Replaces the estimate altogether (the prompt's tokens plus the most it may answer) when set.</summary>
    public Func<IEnumerable<ChatMessage>, ChatOptions?, long>? EstimateLoad { get; set; }
}
