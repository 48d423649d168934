using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace OrleansQueue.Gateway;

/// <summary>
/// Documents an endpoint's JSON body in the OpenAPI document without making routing refuse other content types:
/// the gateway reads the body itself, so that a body that is not JSON is refused with a 415 problem naming the
/// Content-Type (routing's own refusal would be an empty 415), and bad JSON with a problem that names the field.
/// </summary>
internal sealed record JsonBodyMetadata(Type BodyType)
{
    public static async Task Transform(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata.OfType<JsonBodyMetadata>().FirstOrDefault();
        if (metadata is null)
            return;
        var schema = await context.GetOrCreateSchemaAsync(metadata.BodyType, null, ct);
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = false,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
        };
    }
}

internal static class JsonBodyExtensions
{
    public static RouteHandlerBuilder WithJsonBody<T>(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new JsonBodyMetadata(typeof(T)));
}
