using System.Text.RegularExpressions;

namespace OrleansQueue.Contracts;

/// <summary>The rules for names that callers choose.</summary>
public static partial class Names
{
    public const string ResourceRule = "1 to 128 characters: letters, digits, '.', '_', '-' or ':', starting with a letter or digit";
    public const string ClientRule = "1 to 128 printable characters";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    private static partial Regex ResourcePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex TenantPattern();

    public static bool IsValidResource(string? name) => name is not null && ResourcePattern().IsMatch(name);

    public static bool IsValidTenant(string? tenant) => tenant is not null && TenantPattern().IsMatch(tenant);

    public static bool IsValidClient(string? client) =>
        client is { Length: >= 1 and <= 128 } && !client.Any(char.IsControl) && !string.IsNullOrWhiteSpace(client);
}
