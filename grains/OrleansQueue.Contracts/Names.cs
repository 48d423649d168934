using System.Text.RegularExpressions;

namespace OrleansQueue.Contracts;

/// <summary>The rules for names that callers choose.</summary>
public static partial class Names
{
    public const string ResourceRule = "1 to 128 characters: letters, digits, '.', '_', '-' or ':', starting with a letter or digit";
    public const string ClientRule = "1 to 128 printable characters (no control or invisible formatting characters such as U+202E)";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    private static partial Regex ResourcePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex TenantPattern();

    public static bool IsValidResource(string? name) => name is not null && ResourcePattern().IsMatch(name);

    public static bool IsValidTenant(string? tenant) => tenant is not null && TenantPattern().IsMatch(tenant);

    public static bool IsValidClient(string? client) =>
        client is { Length: >= 1 and <= 128 } && IsPrintable(client) && !string.IsNullOrWhiteSpace(client);

    /// <summary>No control characters (NUL, newline, …) and no invisible formatting ones (bidirectional overrides such
    /// as U+202E, zero-width characters), which would make an id print as something it is not.</summary>
    public static bool IsPrintable(string value)
    {
        foreach (char c in value)
        {
            var category = char.GetUnicodeCategory(c);
            if (category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format)
                return false;
        }
        return true;
    }
}
