using Microsoft.Extensions.Options;
using OrleansQueue.Scheduling;
using OrleansQueue.Contracts;
using OrleansQueue.Grains;

namespace OrleansQueue.Gateway;

/// <summary>Resources: any key may list and read them; only an admin key creates, changes or deletes.</summary>
internal static class ResourceEndpoints
{
    public static RouteGroupBuilder MapResourceEndpoints(this RouteGroupBuilder v1)
    {
        var group = v1.MapGroup("/resources").WithTags("Resources");
        group.MapGet("/", List).WithOperationId("listResources").Produces<ResourceView[]>().WithSummary("Every resource.");
        group.MapGet("/{resource}", Get).WithOperationId("getResource").Produces<ResourceView>().ProducesProblem(404).WithSummary("One resource's definition.");
        group.MapPut("/{resource}", Put).WithOperationId("putResource")
            .WithJsonBody<ResourceBody>()
            .Produces<ResourceView>(200).Produces<ResourceView>(201).ProducesProblem(400).ProducesProblem(403)
            .WithSummary("Creates a resource or replaces its policy; a lowered limit never revokes granted leases.");
        group.MapDelete("/{resource}", Delete).WithOperationId("deleteResource").Produces(204).ProducesProblem(403).ProducesProblem(404)
            .WithSummary("Deletes a resource; its waiting requests are refused as resourceDeleted.");
        group.MapGet("/{resource}/stats", Stats).WithOperationId("getResourceStats").Produces<StatsView>().ProducesProblem(404)
            .WithSummary("Waitlist depth by priority and client, leases, budget left, totals and wait times.");
        return v1;
    }

    private static async Task<IResult> List(ResourceCatalog catalog, CancellationToken ct) =>
        Results.Json((await catalog.ListAsync(ct)).Select(PolicyMapping.ToView), ApiJson.Options);

    private static async Task<IResult> Get(string resource, ResourceCatalog catalog, CancellationToken ct) =>
        Names.IsValidResource(resource) && await catalog.GetAsync(resource, ct) is { } definition
            ? Results.Json(PolicyMapping.ToView(definition), ApiJson.Options)
            : HttpResults.Problem(Problem.UnknownResource(resource));

    private static async Task<IResult> Put(string resource, HttpContext context, ResourceCatalog catalog, IOptions<GatewayOptions> options)
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
        bool created = await catalog.PutAsync(definition.Value!, context.RequestAborted);
        return Results.Json(PolicyMapping.ToView(definition.Value!), ApiJson.Options, statusCode: created ? 201 : 200);
    }

    private static async Task<IResult> Delete(string resource, HttpContext context, ResourceCatalog catalog)
    {
        if (!context.Caller().IsAdmin)
            return HttpResults.Problem(Problem.Forbidden());
        return Names.IsValidResource(resource) && await catalog.DeleteAsync(resource, context.RequestAborted)
            ? Results.NoContent()
            : HttpResults.Problem(Problem.UnknownResource(resource));
    }

    private static async Task<IResult> Stats(string resource, HttpContext context, ResourceGrains grains) =>
        HttpResults.From(await grains.CallAsync(resource, g => g.Administration.Stats(context.Caller()), context.RequestAborted));
}
