using Microsoft.Extensions.DependencyInjection;

namespace OrleansQueue.Client;

public static class HttpClientBuilderExtensions
{
    /// <summary>
    /// Sends every request of this client under a lease of <paramref name="resource"/> (see <see cref="OrleansQueueHandler"/>),
    /// through the container's <see cref="OrleansQueueClient"/> (<c>AddOrleansQueueClient</c>):
    /// <c>services.AddHttpClient("openai").AddOrleansQueueHandler("openai-gpt4", o => o.Load = EstimateTokens)</c>.
    /// </summary>
    public static IHttpClientBuilder AddOrleansQueueHandler(this IHttpClientBuilder builder, string resource, Action<OrleansQueueHandlerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        var options = new OrleansQueueHandlerOptions();
        configure?.Invoke(options);
        return builder.AddHttpMessageHandler(services => new OrleansQueueHandler(services.GetRequiredService<OrleansQueueClient>, resource, options));
    }
}
