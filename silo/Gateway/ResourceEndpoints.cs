using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansQueue.Grains;
using OrleansQueue.Silo.Hosting;
using OrleansQueue.Silo.Runtime;

namespace OrleansQueue.Silo.Gateway;

/// <summary>Resources: any key may list and read them; only an admin key creates, changes or deletes.</summary>
public static class ResourceEndpoints
{
    public static RouteGroupBuilder MapResourceEndpoints(this RouteGroupBuilder v1)
    {
        var group = v1.MapGroup("/resources").WithTags("Resources");
        group.MapGet("/", List).Produces<ResourceView[]>().WithSummary("Every resource.");
        group.MapGet("/{resource}", Get).Produces<ResourceView>().ProducesProblem(404).WithSummary("One resource's definition.");
        group.MapPut("/{resource}", Put)
            .WithJsonBody<ResourceBody>()
            .Produces<ResourceView>(200).Produces<ResourceView>(201).ProducesProblem(400).ProducesProblem(403)
            .WithSummary("Creates a resource or replaces its policy; a lowered limit never revokes granted leases.");
        group.MapDelete("/{resource}", Delete).Produces(204).ProducesProblem(403).ProducesProblem(404)
            .WithSummary("Deletes a resource; its waiting requests are refused as resourceDeleted.");
        group.MapGet("/{resource}/stats", Stats).Produces<StatsView>().ProducesProblem(404)
            .WithSummary("Waitlist depth by priority and client, leases, budget left, totals and wait times.");
        return v1;
    }

    private static async Task<IResult> List(GrainRuntime runtime, CancellationToken ct) =>
        Results.Json((await runtime.ListResourcesAsync(ct)).Select(PolicyMapping.ToView), ApiJson.Options);

    private static async Task<IResult> Get(string resource, GrainRuntime runtime, CancellationToken ct) =>
        Names.IsValidResource(resource) && await runtime.GetResourceAsync(resource, ct) is { } definition
            ? Results.Json(PolicyMapping.ToView(definition), ApiJson.Options)
            : HttpResults.Problem(Problem.UnknownResource(resource));

    private static async Task<IResult> Put(string resource, HttpContext context, GrainRuntime runtime, IOptions<SiloOptions> options)
    {
        if (!context.Caller().IsAdmin)
            return HttpResults.Problem(Problem.Forbidden());
        if (!Names.IsValidResource(resource))
            return HttpResults.Problem(Problem.Invalid("resource", $"resource must be {Names.ResourceRule}; it is \"{resource}\"."));
        var body = await ApiJson.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, new ResourceBody(), context.RequestAborted);
        if (body.Problem is not null)
            return HttpResults.Problem(body.Problem);
        var definition = PolicyMapping.ToDefinition(resource, body.Value!);
        if (definition.Problem is not null)
            return HttpResults.Problem(definition.Problem);
        bool created = await runtime.PutResourceAsync(definition.Value!, context.RequestAborted);
        return Results.Json(PolicyMapping.ToView(definition.Value!), ApiJson.Options, statusCode: created ? 201 : 200);
    }

    private static async Task<IResult> Delete(string resource, HttpContext context, GrainRuntime runtime)
    {
        if (!context.Caller().IsAdmin)
            return HttpResults.Problem(Problem.Forbidden());
        return Names.IsValidResource(resource) && await runtime.DeleteResourceAsync(resource, context.RequestAborted)
            ? Results.NoContent()
            : HttpResults.Problem(Problem.UnknownResource(resource));
    }

    private static async Task<IResult> Stats(string resource, HttpContext context, GrainRuntime runtime)
    {
        if (!Names.IsValidResource(resource))
            return HttpResults.Problem(Problem.UnknownResource(resource));
        var stats = await runtime.CallAsync(resource, turn => turn.Grain.GetStats(), context.RequestAborted);
        return Results.Json(ToView(stats, context.Caller()), ApiJson.Options);
    }

    /// <summary>A tenant sees only its own clients' depths; an admin sees every tenant's.</summary>
    private static StatsView ToView(ResourceStats s, Caller caller) => new(
        s.Name, s.Waiting,
        Enumerable.Range(0, PriorityLevels.Count).ToDictionary(i => ((Priority)i).ToString().ToLowerInvariant(), i => s.WaitingByPriority[i]),
        s.WaitingByClient.Where(c => caller.IsAdmin || caller.Owns(c.Key))
            .ToDictionary(c => caller.IsAdmin ? c.Key : caller.ClientIdOf(c.Key), c => c.Value),
        s.Leases, s.LeasedLoad, s.RequestsLeftInWindow, s.LoadLeftInWindow, s.LastFencingToken,
        s.Granted, s.Released, s.Expired, s.Reclaimed, s.TimedOut, s.Cancelled,
        s.Rejected.ToDictionary(r => r.Key.ToString(), r => r.Value),
        s.WaitP50.TotalMilliseconds, s.WaitP90.TotalMilliseconds, s.WaitP99.TotalMilliseconds, s.WaitMax.TotalMilliseconds,
        new JobsView(
            s.Jobs.ByState.ToDictionary(j => JsonNamingPolicy.CamelCase.ConvertName(j.Key.ToString()), j => j.Value),
            Enumerable.Range(0, PriorityLevels.Count).ToDictionary(i => ((Priority)i).ToString().ToLowerInvariant(), i => s.Jobs.QueuedByPriority[i]),
            s.Jobs.QueuedByClient.Where(c => caller.IsAdmin || caller.Owns(c.Key))
                .ToDictionary(c => caller.IsAdmin ? c.Key : caller.ClientIdOf(c.Key), c => c.Value),
            s.Jobs.WaitingWorkers, s.Jobs.Enqueued, s.Jobs.Completed, s.Jobs.Failed, s.Jobs.Retried, s.Jobs.Recovered, s.Jobs.DeadLettered,
            s.Jobs.QueueTimeP50.TotalMilliseconds, s.Jobs.QueueTimeP99.TotalMilliseconds, s.Jobs.RunTimeP50.TotalMilliseconds, s.Jobs.RunTimeP99.TotalMilliseconds));
}
