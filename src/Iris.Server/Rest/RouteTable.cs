using Iris.Contracts.Descriptors;

namespace Iris.Server.Rest;

/// <summary>
/// Every <c>google.api.http</c> binding of every RPC, routed from the descriptors at start-up. Where several templates
/// match a path, the one with a literal segment at the first position where they differ wins
/// (<c>/models/types</c> before <c>/models/{model_id}</c>, <c>/inputs/status</c> before <c>/inputs/{input_id}</c>,
/// CLARIFAI_FACTS.md 1.1); between equal shapes, declaration order in service.proto decides.
/// </summary>
internal sealed class RouteTable
{
    private readonly Dictionary<int, Route[]> _bySegmentCount;

    public RouteTable(ApiCatalog catalog)
    {
        var routes = new List<Route>();
        var order = 0;
        foreach (var rpc in catalog.Rpcs)
        {
            foreach (var binding in rpc.HttpBindings)
            {
                routes.Add(new Route(rpc, binding, Parse(binding.Template), order++));
            }
        }

        Count = routes.Count;
        _bySegmentCount = routes
            .GroupBy(r => r.Segments.Length)
            .ToDictionary(g => g.Key, g => g.Order(RoutePrecedence.Instance).ToArray());
    }

    public int Count { get; }

    public RouteMatch Match(string verb, string path)
    {
        var segments = Split(path);
        if (segments is null || !_bySegmentCount.TryGetValue(segments.Length, out var candidates))
        {
            return RouteMatch.NotFound;
        }

        var pathMatched = false;
        foreach (var route in candidates)
        {
            if (!route.Matches(segments))
            {
                continue;
            }

            if (!string.Equals(route.Binding.Verb, verb, StringComparison.Ordinal))
            {
                pathMatched = true;
                continue;
            }

            var variables = new List<KeyValuePair<string, string>>();
            for (var i = 0; i < segments.Length; i++)
            {
                if (route.Segments[i].FieldPath is { } field)
                {
                    variables.Add(new(field, segments[i]));
                }
            }

            return new RouteMatch(RouteMatchKind.Found, route.Rpc, variables);
        }

        return pathMatched ? RouteMatch.WrongMethod : RouteMatch.NotFound;
    }

    /// <summary>Splits and unescapes a request path; a trailing slash is tolerated. Null for paths with empty segments.</summary>
    private static string[]? Split(string path)
    {
        var trimmed = path.AsSpan().Trim('/');
        if (trimmed.IsEmpty)
        {
            return null;
        }

        var parts = trimmed.ToString().Split('/');
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length == 0)
            {
                return null;
            }

            if (parts[i].Contains('%', StringComparison.Ordinal))
            {
                parts[i] = Uri.UnescapeDataString(parts[i]);
            }
        }

        return parts;
    }

    private static Segment[] Parse(string template)
    {
        var parts = template.Trim('/').Split('/');
        var segments = new Segment[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part.StartsWith('{') && part.EndsWith('}'))
            {
                var inner = part[1..^1];
                var eq = inner.IndexOf('=', StringComparison.Ordinal);
                segments[i] = new Segment(null, eq < 0 ? inner : inner[..eq]);
            }
            else
            {
                segments[i] = new Segment(part, null);
            }
        }

        return segments;
    }

    internal readonly record struct Segment(string? Literal, string? FieldPath);

    internal sealed record Route(RpcInfo Rpc, HttpBinding Binding, Segment[] Segments, int Order)
    {
        public bool Matches(string[] path)
        {
            for (var i = 0; i < path.Length; i++)
            {
                if (Segments[i].Literal is { } literal && !string.Equals(literal, path[i], StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }
    }

    private sealed class RoutePrecedence : IComparer<Route>
    {
        public static readonly RoutePrecedence Instance = new();

        public int Compare(Route? x, Route? y)
        {
            for (var i = 0; i < x!.Segments.Length; i++)
            {
                var xLiteral = x.Segments[i].Literal is not null;
                var yLiteral = y!.Segments[i].Literal is not null;
                if (xLiteral != yLiteral)
                {
                    return xLiteral ? -1 : 1;
                }
            }

            return x.Order.CompareTo(y!.Order);
        }
    }
}

internal enum RouteMatchKind
{
    Found,
    NotFound,
    WrongMethod,
}

internal sealed record RouteMatch(RouteMatchKind Kind, RpcInfo? Rpc, IReadOnlyList<KeyValuePair<string, string>> PathVariables)
{
    public static readonly RouteMatch NotFound = new(RouteMatchKind.NotFound, null, []);
    public static readonly RouteMatch WrongMethod = new(RouteMatchKind.WrongMethod, null, []);
}
