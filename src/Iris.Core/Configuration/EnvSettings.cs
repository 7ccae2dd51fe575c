using System.Globalization;

namespace Iris.Core.Configuration;

/// <summary>
/// Reads <c>IRIS_*</c> environment variables for every options class. An unset or empty variable is null (the default
/// applies); a value that does not parse stops start-up with a message naming the variable.
/// </summary>
public static class EnvSettings
{
    public static string? String(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    public static int? Int(string name) => Parse(name, static v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : (int?)null, "an integer");

    public static long? Long(string name) => Parse(name, static v => long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : (long?)null, "an integer");

    public static double? Double(string name) => Parse(name, static v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : (double?)null, "a number");

    /// <summary><c>1</c>/<c>true</c> or <c>0</c>/<c>false</c> (any case).</summary>
    public static bool? Bool(string name) => Parse(name, static v => v.ToUpperInvariant() switch
    {
        "1" or "TRUE" => true,
        "0" or "FALSE" => false,
        _ => (bool?)null,
    }, "true or false");

    private static T? Parse<T>(string name, Func<string, T?> parse, string expected)
        where T : struct
    {
        var text = String(name);
        if (text is null)
        {
            return null;
        }

        return parse(text) ?? throw new InvalidOperationException($"{name} must be {expected}, not '{text}'.");
    }
}
