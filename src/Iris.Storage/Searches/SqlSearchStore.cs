using System.Globalization;
using Iris.Core.Apps;
using Iris.Storage.Db;

namespace Iris.Storage.Searches;

/// <summary>The inputs of an app that pass a search's filter clauses, read from the inputs area's tables.</summary>
public interface ISearchStore
{
    /// <summary>Visible inputs (not being deleted) passing every condition, newest first.</summary>
    Task<IReadOnlyList<Candidate>> CandidatesAsync(AppRef app, IReadOnlyList<InputCondition> conditions, CancellationToken cancellationToken);

    /// <summary>Those of <paramref name="inputIds"/> that exist and are not being deleted.</summary>
    Task<IReadOnlySet<string>> VisibleAsync(AppRef app, IReadOnlyList<string> inputIds, CancellationToken cancellationToken);
}

public sealed class SqlSearchStore(Database database) : ISearchStore
{
    public async Task<IReadOnlyList<Candidate>> CandidatesAsync(AppRef app, IReadOnlyList<InputCondition> conditions, CancellationToken cancellationToken)
    {
        var parameters = new List<(string, object?)> { ("@u", app.UserId), ("@a", app.AppId) };
        // A positive label, dataset or id condition is a set of input ids found through its own index (uncorrelated IN,
        // below): "+deleting" keeps SQLite, which has no statistics, from reading every input of the app through the
        // (user_id, app_id, deleting, …) indexes to test each against it, so the unique (user_id, app_id, id) index is
        // probed for the set's ids instead.
        var driven = conditions.Any(c => !c.Negate && c is InputCondition.Label or InputCondition.Datasets or InputCondition.InputIds);
        var where = driven ? "i.user_id = @u AND i.app_id = @a AND +i.deleting = 0" : "i.user_id = @u AND i.app_id = @a AND i.deleting = 0";
        for (var k = 0; k < conditions.Count; k++)
        {
            var clause = Clause(conditions[k], "c" + k.ToString(CultureInfo.InvariantCulture) + "_", parameters);
            where += conditions[k].Negate ? $" AND NOT ({clause})" : $" AND ({clause})";
        }

        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => new Candidate(r.GetString(0), r.GetInt64(1), Sql.NullableString(r, 2), r.IsDBNull(3) ? null : r.GetDouble(3), r.IsDBNull(4) ? null : r.GetDouble(4)), $"""
            SELECT i.id, i.seq, l.metadata_json, l.geo_lon, l.geo_lat
            FROM inputs i
            LEFT JOIN annotations l ON l.user_id = i.user_id AND l.app_id = i.app_id AND l.input_id = i.id AND l.input_level = 1
            WHERE {where}
            ORDER BY i.seq DESC;
            """, [.. parameters]).ConfigureAwait(false);
    }

    public async Task<IReadOnlySet<string>> VisibleAsync(AppRef app, IReadOnlyList<string> inputIds, CancellationToken cancellationToken)
    {
        var visible = new HashSet<string>(StringComparer.Ordinal);
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        foreach (var chunk in inputIds.Chunk(500))
        {
            var (list, values) = Sql.InList("i", chunk);
            // "+deleting": the unique (user_id, app_id, id) index, not one led by (user_id, app_id, deleting) that SQLite
            // would otherwise pick and read every input of the app with.
            visible.UnionWith(await s.QueryAsync(r => r.GetString(0), $"SELECT id FROM inputs WHERE user_id = @u AND app_id = @a AND +deleting = 0 AND id IN {list};",
                [("@u", app.UserId), ("@a", app.AppId), .. values]).ConfigureAwait(false));
        }

        return visible;
    }

    // One SQL boolean over the input alias i; every value is a parameter named after the clause's prefix (@u and @a are
    // the app's). Label and dataset conditions are uncorrelated IN subqueries: the matching ids are read once through the
    // concept / dataset index, not probed input by input (a correlated EXISTS cost SQLite 3 to 10 times more at 20,000
    // inputs; docs/benchmarks.md "Filtered search end to end"). input_id is NOT NULL, so NOT IN negates exactly.
    private static string Clause(InputCondition condition, string prefix, List<(string, object?)> parameters)
    {
        string In(IReadOnlyList<string> values)
        {
            if (values.Count == 0)
            {
                return "(NULL)";
            }

            var (list, p) = Sql.InList(prefix, values);
            parameters.AddRange(p);
            return list;
        }

        string Param(string name, object? value)
        {
            parameters.Add(("@" + prefix + name, value));
            return "@" + prefix + name;
        }

        switch (condition)
        {
            case InputCondition.Label label:
                var concept = label.Id.Length > 0
                    ? $"ac.concept_id = {Param("id", label.Id)}"
                    : $"ac.concept_id IN (SELECT cn.id FROM concepts cn WHERE cn.user_id = @u AND cn.app_id = @a AND cn.name = {Param("name", label.Name)})";
                return $"""
                    i.id IN (SELECT an.input_id FROM annotations an JOIN annotation_concepts ac ON ac.user_id = an.user_id AND ac.app_id = an.app_id AND ac.annotation_id = an.id
                      WHERE an.user_id = @u AND an.app_id = @a AND {concept} AND ac.value {(label.Positive ? "> 0" : "<= 0")})
                    """;
            case InputCondition.Kinds kinds:
                return $"i.kind IN {In(kinds.Values)}";
            case InputCondition.Status status:
                return $"i.status_code = {Param("st", status.Code)}";
            case InputCondition.Datasets datasets:
                return $"i.id IN (SELECT d.input_id FROM dataset_inputs d WHERE d.user_id = @u AND d.app_id = @a AND d.dataset_id IN {In(datasets.Ids)})";
            case InputCondition.Url url:
                return $"i.url = {Param("url", url.Value)}";
            case InputCondition.InputIds ids:
                return $"i.id IN {In(ids.Ids)}";
            case InputCondition.Annotation a:
                var fields = "an.user_id = i.user_id AND an.app_id = i.app_id AND an.input_id = i.id";
                if (a.Id is not null)
                {
                    fields += $" AND an.id = {Param("aid", a.Id)}";
                }

                if (a.InputLevel is { } level)
                {
                    fields += $" AND an.input_level = {Param("lvl", level ? 1 : 0)}";
                }

                if (a.UserId is not null)
                {
                    fields += $" AND an.author = {Param("au", a.UserId)}";
                }

                if (a.StatusCode is { } code)
                {
                    fields += $" AND an.status_code = {Param("ast", code)}";
                }

                return $"EXISTS (SELECT 1 FROM annotations an WHERE {fields})";
            case InputCondition.All all:
                return all.Parts.Count == 0 ? "1 = 1" : string.Join(" AND ", all.Parts.Select((part, j) =>
                    (part.Negate ? "NOT (" : "(") + Clause(part, prefix + j.ToString(CultureInfo.InvariantCulture) + "_", parameters) + ")"));
            case InputCondition.UpdatedBetween range:
                var bounds = "1 = 1";
                if (range.FromMicros is { } from)
                {
                    bounds += $" AND i.modified_at >= {Param("from", from)}";
                }

                if (range.ToMicros is { } to)
                {
                    bounds += $" AND i.modified_at <= {Param("to", to)}";
                }

                return bounds;
            default:
                throw new ArgumentOutOfRangeException(nameof(condition), condition.GetType().Name, "Unknown search condition.");
        }
    }
}
