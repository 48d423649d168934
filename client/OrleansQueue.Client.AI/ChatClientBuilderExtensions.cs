using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansQueue.Client;

public static class ChatClientBuilderExtensions
{
    /// <summary>Calls the rest of the pipeline under leases of <paramref name="resource"/> (see <see cref="OrleansQueueChatClient"/>),
    /// through the container's <see cref="OrleansQueueClient"/>.</summary>
    public static ChatClientBuilder UseOrleansQueue(this ChatClientBuilder builder, string resource, Action<OrleansQueueChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = Configured(configure);
        return builder.Use((inner, services) => new OrleansQueueChatClient(inner, services.GetRequiredService<OrleansQueueClient>(), resource, options));
    }

    /// <summary>Calls the rest of the pipeline under leases of <paramref name="resource"/>, through <paramref name="client"/>.</summary>
    public static ChatClientBuilder UseOrleansQueue(this ChatClientBuilder builder, OrleansQueueClient client, string resource,
        Action<OrleansQueueChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(client);
        var options = Configured(configure);
        return builder.Use(inner => new OrleansQueueChatClient(inner, client, resource, options));
    }

    private static OrleansQueueChatClientOptions Configured(Action<OrleansQueueChatClientOptions>? configure)
    {
        var options = new OrleansQueueChatClientOptions();
        configure?.Invoke(options);
        return options;
    }
}
