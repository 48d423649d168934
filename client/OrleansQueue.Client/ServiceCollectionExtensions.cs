using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace OrleansQueue.Client;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="OrleansQueueClient"/> for the container, configured by <paramref name="configure"/>. With a
    /// <see cref="OrleansQueueClientOptions.BaseAddress"/> it talks to a silo's gateway (WebSocket, long-poll, polling);
    /// without one, in an application that runs an Orleans client of the cluster (<c>UseOrleansClient</c>), it calls the
    /// grains through Orleans. The options are validated when the client is first resolved (and at host start), naming
    /// each broken rule.
    /// </summary>
    public static IServiceCollection AddOrleansQueueClient(this IServiceCollection services, Action<OrleansQueueClientOptions> configure)
    {
        services.AddOptions<OrleansQueueClientOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OrleansQueueClientOptions>, ClientOptionsValidator>());
        services.TryAddSingleton<GatewayLosses>();
        // An Orleans client tells when it loses a gateway (its silo died): what was followed there is followed again.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterConnectionStatusObserver, GatewayLosses>(sp => sp.GetRequiredService<GatewayLosses>()));
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<OrleansQueueClientOptions>>().Value;
            if (UsesOrleans(sp, options))
            {
                var grains = sp.GetRequiredService<IGrainFactory>();
                var losses = sp.GetService<SiloLosses>()?.Subscribe ?? sp.GetRequiredService<GatewayLosses>().Subscribe;
                return new OrleansQueueClient(options, () => new OrleansConnection(grains, losses));
            }
            return new OrleansQueueClient(options);
        });
        return services;
    }

    private static bool UsesOrleans(IServiceProvider services, OrleansQueueClientOptions options) =>
        options.BaseAddress is null && options.ConnectWebSocket is null && services.GetService<IGrainFactory>() is not null;

    private sealed class ClientOptionsValidator(IServiceProvider services) : IValidateOptions<OrleansQueueClientOptions>
    {
        public ValidateOptionsResult Validate(string? name, OrleansQueueClientOptions options)
        {
            var errors = options.ValidateFor(needsAddress: !UsesOrleans(services, options));
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}

/// <summary>How a host that runs a silo says a silo of the cluster died (co-hosting registers it from membership).</summary>
internal sealed class SiloLosses(Func<Action, IDisposable> subscribe)
{
    public Func<Action, IDisposable> Subscribe { get; } = subscribe;
}

/// <summary>An Orleans client's connection status: a drop in the number of gateways means a silo went away.</summary>
internal sealed class GatewayLosses : IClusterConnectionStatusObserver
{
    private readonly ConcurrentDictionary<object, Action> _listeners = new();

    public IDisposable Subscribe(Action lost)
    {
        var key = new object();
        _listeners[key] = lost;
        return new Subscription(() => _listeners.TryRemove(key, out _));
    }

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways < previousNumberOfGateways || connectionRecovered)
            Raise();
    }

    public void NotifyClusterConnectionLost()
    {
    }

    private void Raise()
    {
        foreach (var lost in _listeners.Values)
            lost();
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
