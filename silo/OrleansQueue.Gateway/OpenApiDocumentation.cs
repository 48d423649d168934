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
    /// <summary>Names the endpoint's operation in the OpenAPI document (without an endpoint name, which is global to the
    /// application the gateway is mounted in).</summary>
    public static RouteHandlerBuilder WithOperationId(this RouteHandlerBuilder builder, string operationId) =>
        builder.WithMetadata(new OperationIdMetadata(operationId));

    private sealed record OperationIdMetadata(string OperationId);

    public const string ApiKeyScheme = "apiKey";
    public const string BearerScheme = "bearer";

    public static void Configure(OpenApiOptions options)
    {
        options.AddOperationTransformer(JsonBodyMetadata.Transform);
        options.AddOperationTransformer(DescribeOperation);
        options.AddDocumentTransformer(AddSecurity);
        options.AddDocumentTransformer(DescribeDocument);
        options.AddSchemaTransformer(DescribeProblem);
    }

    /// <summary>What each group of operations is for (the document's tags).</summary>
    private static readonly Dictionary<string, string> Tags = new()
    {
        ["Resources"] = "Rate-limited resources and their policies: define (an admin key), read, delete, and their live figures.",
        ["Requests"] = "Acquire a slot, wait for it (pushed over server-sent events, or long-poll), renew, report what the upstream answered, release.",
        ["Jobs"] = "Long requests run by workers under the resource's limits: enqueue, follow, cancel; workers take and report.",
        ["WebSocket"] = "One connection for every operation, with grants and job changes pushed the moment they are durable.",
        ["Dashboard"] = "What the dashboard page reads: the caller's session, a resource's detail, and a live feed.",
    };

    /// <summary>The operation's id (client generators name their methods from it), and the answers every /v1 operation can
    /// give: 401 without a valid key, and a retryable 503 (the resource moving between silos, the store unreachable) with
    /// Retry-After, as a 429 carries it too.</summary>
    private static Task DescribeOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<OperationIdMetadata>().LastOrDefault() is { } id)
            operation.OperationId = id.OperationId;
        operation.Responses ??= new OpenApiResponses();
        foreach (var (status, description) in new[] { ("401", "No valid API key (when the silo has keys)."), ("503", "Not available now (the resource is moving, or the store does not answer): retry after Retry-After.") })
        {
            if (!operation.Responses.ContainsKey(status))
                operation.Responses[status] = new OpenApiResponse { Description = description, Content = ProblemContent(operation) };
        }
        foreach (string status in new[] { "429", "503" })
        {
            if (operation.Responses.TryGetValue(status, out var response) && response is OpenApiResponse concrete)
            {
                concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
                concrete.Headers["Retry-After"] = new OpenApiHeader
                {
                    Description = "When a retry could succeed, in seconds.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer },
                };
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>The problem schema as another of the operation's problem answers refers to it (the generator made one for
    /// its declared 4xx), so a 401 or 503 added here describes the same body.</summary>
    private static Dictionary<string, OpenApiMediaType>? ProblemContent(OpenApiOperation operation) =>
        operation.Responses!.Values.OfType<OpenApiResponse>().Select(r => r.Content).FirstOrDefault(c => c?.ContainsKey("application/problem+json") == true) is { } content
            ? new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = content["application/problem+json"] }
            : null;

    /// <summary>The licence, the tags' descriptions, and server URLs without a trailing slash (paths begin with one).</summary>
    private static Task DescribeDocument(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Info.License = new OpenApiLicense { Name = "MIT", Identifier = "MIT" };
        document.Info.Description ??= "OrleansQueue: a rate-limit queue coordinator. Acquire slots of shared, rate-limited resources, waiting by priority.";
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Key, Description = t.Value }));
        foreach (var server in document.Servers ?? [])
            server.Url = server.Url?.TrimEnd('/');
        return Task.CompletedTask;
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
