using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace OrleansQueue.Client;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="OrleansQueueClient"/> for the container, configured by <paramref name="configure"/>.
    /// The options are validated when the client is first resolved (and at host start), naming each broken rule.
    /// </summary>
    public static IServiceCollection AddOrleansQueueClient(this IServiceCollection services, Action<OrleansQueueClientOptions> configure)
    {
        services.AddOptions<OrleansQueueClientOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OrleansQueueClientOptions>, ClientOptionsValidator>());
        services.TryAddSingleton(sp => new OrleansQueueClient(sp.GetRequiredService<IOptions<OrleansQueueClientOptions>>().Value));
        return services;
    }

    private sealed class ClientOptionsValidator : IValidateOptions<OrleansQueueClientOptions>
    {
        public ValidateOptionsResult Validate(string? name, OrleansQueueClientOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
