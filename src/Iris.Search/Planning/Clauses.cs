using System.Text.Json;
using Iris.Storage.Searches;

namespace Iris.Search.Planning;

/// <summary>Evaluation of the planner's own clauses on a candidate (metadata containment, geo distance and box).</summary>
internal static class Clauses
{
    /// <summary>Mean Earth radius (IUGG), the sphere great-circle distances are measured on.</summary>
    public const double EarthRadiusKm = 6371.0088;

    public static bool Matches(Clause clause, Candidate candidate, Func<string, JsonElement?> metadata)
    {
        var matched = clause switch
        {
            Clause.Metadata m => metadata(candidate.InputId) is { } have && ContainsAnyKey(have, m.Wanted),
            Clause.GeoCircle c => candidate is { Longitude: { } lon, Latitude: { } lat } && DistanceKm(c.Longitude, c.Latitude, lon, lat) <= c.RadiusKm,
            Clause.GeoBox b => candidate is { Longitude: { } lon, Latitude: { } lat }
                && lon >= Math.Min(b.Longitude1, b.Longitude2) && lon <= Math.Max(b.Longitude1, b.Longitude2)
                && lat >= Math.Min(b.Latitude1, b.Latitude2) && lat <= Math.Max(b.Latitude1, b.Latitude2),
            _ => throw new ArgumentOutOfRangeException(nameof(clause)),
        };
        return matched != clause.Negate;
    }

    /// <summary>Clarifai's rule: <c>{k1: v1, k2: v2}</c> matches metadata that contains <c>{k1: v1}</c> or <c>{k2: v2}</c>; <c>{}</c> matches any metadata.</summary>
    public static bool ContainsAnyKey(JsonElement have, JsonElement wanted)
    {
        if (wanted.ValueKind != JsonValueKind.Object || have.ValueKind != JsonValueKind.Object)
        {
            return Contains(have, wanted);
        }

        var any = false;
        foreach (var property in wanted.EnumerateObject())
        {
            any = true;
            if (have.TryGetProperty(property.Name, out var value) && Contains(value, property.Value))
            {
                return true;
            }
        }

        return !any;
    }

    /// <summary>JSON containment: objects by their keys recursively, arrays when every wanted element is in some element, scalars by value.</summary>
    public static bool Contains(JsonElement have, JsonElement wanted)
    {
        switch (wanted.ValueKind)
        {
            case JsonValueKind.Object:
                if (have.ValueKind != JsonValueKind.Object)
                {
                    return false;
                }

                foreach (var property in wanted.EnumerateObject())
                {
                    if (!have.TryGetProperty(property.Name, out var value) || !Contains(value, property.Value))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Array:
                if (have.ValueKind != JsonValueKind.Array)
                {
                    return false;
                }

                foreach (var element in wanted.EnumerateArray())
                {
                    if (!have.EnumerateArray().Any(h => Contains(h, element)))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Number:
                return have.ValueKind == JsonValueKind.Number && have.GetDouble() == wanted.GetDouble();
            case JsonValueKind.String:
                return have.ValueKind == JsonValueKind.String && string.Equals(have.GetString(), wanted.GetString(), StringComparison.Ordinal);
            default:
                return have.ValueKind == wanted.ValueKind;
        }
    }

    /// <summary>Great-circle distance (haversine) between two points given in degrees.</summary>
    public static double DistanceKm(double lon1, double lat1, double lon2, double lat2)
    {
        static double Rad(double d) => d * Math.PI / 180;
        var dLat = Rad(lat2 - lat1);
        var dLon = Rad(lon2 - lon1);
        var a = Math.Sin(dLat / 2) * Math.Sin(dLat / 2) + Math.Cos(Rad(lat1)) * Math.Cos(Rad(lat2)) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2);
        return 2 * EarthRadiusKm * Math.Asin(Math.Min(1, Math.Sqrt(a)));
    }
}
