using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace OrleansQueue.Gateway;

/// <summary>
/// What the generated OpenAPI document would otherwise get wrong, so that strict generated clients accept real answers:
/// the API keys (an <c>X-Api-Key</c> header or a bearer token) as security schemes, and the problem schema as the silo
/// writes it (with <c>field</c> and <c>retryAfterMs</c>, and open to further members, as RFC 7807 allows).
/// </summary>
internal static class OpenApiDocumentation
{
    public const string ApiKeyScheme = "apiKey";
    public const string BearerScheme = "bearer";

    public static void Configure(OpenApiOptions options)
    {
        options.AddOperationTransformer(JsonBodyMetadata.Transform);
        options.AddDocumentTransformer(AddSecurity);
        options.AddSchemaTransformer(DescribeProblem);
    }

    private static Task AddSecurity(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = ApiKeyAuthenticator.Header,
            Description = "A key of Silo:ApiKeys. Not needed by a silo without keys (loopback only). Never in the URL: refused there.",
        };
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http, Scheme = "bearer", Description = "The same key as a bearer token.",
        };
        // Either scheme will do for every /v1 operation.
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
        ];
        return Task.CompletedTask;
    }

    private static Task DescribeProblem(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        if (context.JsonTypeInfo.Type != typeof(ProblemDetails) && context.JsonTypeInfo.Type != typeof(HttpValidationProblemDetails))
            return Task.CompletedTask;
        schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
        schema.Properties["field"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String, Description = "The input at fault: a body field, a path or query parameter, or a header.",
        };
        schema.Properties["retryAfterMs"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Integer, Format = "int64", Description = "When a retry could succeed, in milliseconds (also the Retry-After header, in seconds).",
        };
        schema.AdditionalPropertiesAllowed = true;
        schema.AdditionalProperties = null;
        return Task.CompletedTask;
    }
}
