using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Iris.Core.Apps;
using Iris.Storage.Db;

namespace Iris.Storage.Searches;

/// <summary>The inputs of an app that pass a search's filter clauses, read from the inputs area's tables.</summary>
public interface ISearchStore
{
    /// <summary>Visible inputs (not being deleted) passing every condition, newest first.</summary>
    Task<IReadOnlyList<Candidate>> CandidatesAsync(AppRef app, IReadOnlyList<InputCondition> conditions, CancellationToken cancellationToken);

    /// <summary>
    /// The ids of the visible inputs passing every condition, in no order: what a vector rank's allowed set needs (no
    /// queryable columns, no order). The same conditions on an unchanged store may answer the same list instance (see
    /// <see cref="SqlSearchStore"/>): callers never modify it.
    /// </summary>
    Task<IReadOnlyList<string>> MatchingIdsAsync(AppRef app, IReadOnlyList<InputCondition> conditions, CancellationToken cancellationToken);

    /// <summary>Those of <paramref name="inputIds"/> that exist and are not being deleted.</summary>
    Task<IReadOnlySet<string>> VisibleAsync(AppRef app, IReadOnlyList<string> inputIds, CancellationToken cancellationToken);
}

/// <summary>
/// The search store on the metadata store. On SQLite, <see cref="MatchingIdsAsync"/> keeps each answer with the file's
/// data version (<c>PRAGMA data_version</c>, <see cref="Database.ChangeVersion"/>), which moves on every commit of any
/// other connection or process: any write at all (an annotation, a label, metadata, a dataset, an input's status, a
/// deletion, and every unrelated one) makes the next call read again, so a cached answer is never stale; a repeated
/// filter on an unchanged store costs a dictionary lookup instead of reading its ids. PostgreSQL has no such signal for
/// other nodes' commits (its change versions are polled), so it reads every time.
/// </summary>
public sealed class SqlSearchStore(Database database) : ISearchStore
{
    // At most this many answers, and none larger than MaxCachedIds ids, are kept (SQLite only); past it the cache starts over.
    private const int MaxCachedAnswers = 64;
    private const int MaxCachedIds = 1_000_000;

    private readonly ConcurrentDictionary<string, (long DataVersion, IReadOnlyList<string> Ids)> _matching = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<Candidate>> CandidatesAsync(AppRef app, IReadOnlyList<InputCondition> conditions, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var (where, parameters) = Where(app, await ResolveModelAnnotationIdsAsync(s, app, conditions).ConfigureAwait(false));
        return await s.QueryAsync(r => new Candidate(r.GetString(0), r.GetInt64(1), Sql.NullableString(r, 2), r.IsDBNull(3) ? null : r.GetDouble(3), r.IsDBNull(4) ? null : r.GetDouble(4)), $"""
            SELECT i.id, i.seq, l.metadata_json, l.geo_lon, l.geo_lat
            FROM inputs i
            LEFT JOIN annotations l ON l.user_id = i.user_id AND l.app_id = i.app_id AND l.input_id = i.id AND l.input_level = 1
            WHERE {where}
            ORDER BY i.seq DESC;
            """, [.. parameters]).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> MatchingIdsAsync(AppRef app, IReadOnlyList<InputCondition> conditions, CancellationToken cancellationToken)
    {
        if (HasModelAnnotationId(conditions))
        {
            await using var resolving = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
            conditions = await ResolveModelAnnotationIdsAsync(resolving, app, conditions).ConfigureAwait(false);
        }

        var (where, parameters) = Where(app, conditions);
        var sql = $"SELECT i.id FROM inputs i WHERE {where};";
        // Read before the query: a commit in between moves the data version, and the next call reads again.
        var dataVersion = database.Dialect == SqlDialect.Sqlite ? database.ChangeVersion("inputs") : (long?)null;
        var key = dataVersion is null ? null : CacheKey(sql, parameters);
        if (key is not null && _matching.TryGetValue(key, out var cached) && cached.DataVersion == dataVersion)
        {
            return cached.Ids;
        }

        IReadOnlyList<string> ids;
        await using (var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            ids = await s.QueryAsync(r => r.GetString(0), sql, [.. parameters]).ConfigureAwait(false);
        }

        if (key is not null && ids.Count <= MaxCachedIds)
        {
            if (_matching.Count >= MaxCachedAnswers && !_matching.ContainsKey(key))
            {
                _matching.Clear();
            }

            _matching[key] = (dataVersion!.Value, ids);
        }

        return ids;
    }

    private static bool HasModelAnnotationId(IReadOnlyList<InputCondition> conditions) =>
        conditions.Any(c => c is InputCondition.ModelOutput { AnnotationId: not null } || (c is InputCondition.All all && HasModelAnnotationId(all.Parts)));

    // A model annotation's id is a hash of its input id and model version (ModelAnnotations.IdOf), which SQL cannot
    // compute: a condition naming one becomes "that model's output, on the input whose annotation has that id", found by
    // hashing the ids of the inputs the model version ran on.
    private static async Task<IReadOnlyList<InputCondition>> ResolveModelAnnotationIdsAsync(DbSession s, AppRef app, IReadOnlyList<InputCondition> conditions)
    {
        if (!HasModelAnnotationId(conditions))
        {
            return conditions;
        }

        var resolved = new List<InputCondition>(conditions.Count);
        foreach (var condition in conditions)
        {
            switch (condition)
            {
                case InputCondition.ModelOutput { AnnotationId: { } id } output:
                    var owner = (await Inputs.ModelAnnotations.OwnersAsync(s, app, [id], [], output.ModelVersionId).ConfigureAwait(false)).Select(o => o.InputId).Take(1).ToList();
                    resolved.Add(new InputCondition.All([output with { Negate = false, AnnotationId = null }, new InputCondition.InputIds(owner, false)], output.Negate));
                    break;
                case InputCondition.All all when HasModelAnnotationId(all.Parts):
                    resolved.Add(all with { Parts = await ResolveModelAnnotationIdsAsync(s, app, all.Parts).ConfigureAwait(false) });
                    break;
                default:
                    resolved.Add(condition);
                    break;
            }
        }

        return resolved;
    }

    // The SQL text and every parameter's type and value: equal keys are the same query.
    private static string CacheKey(string sql, List<(string Name, object? Value)> parameters)
    {
        var key = new StringBuilder(sql);
        foreach (var (name, value) in parameters)
        {
            key.Append('\n').Append(name).Append('=').Append(value?.GetType().Name).Append(':').Append(Convert.ToString(value, CultureInfo.InvariantCulture));
        }

        return key.ToString();
    }

    // The app's visible inputs passing every condition, over the alias i.
    private (string Where, List<(string Name, object? Value)> Parameters) Where(AppRef app, IReadOnlyList<InputCondition> conditions)
    {
        var parameters = new List<(string, object?)> { ("@u", app.UserId), ("@a", app.AppId) };
        // A positive label, dataset, id or annotation-field condition is a set of input ids found through its own index
        // (uncorrelated IN, below). On SQLite, "+deleting" keeps it (it has no statistics) from reading every input of the
        // app through the (user_id, app_id, deleting, …) indexes to test each against the set, so the unique (user_id,
        // app_id, id) index is probed for the set's ids instead. PostgreSQL plans by statistics, and there the same "+"
        // hides the column's: it estimated 0.5 % of the app's inputs and drove a semi join from all of them, probing the
        // set's tables once per input (200 ms at 20,000 inputs, 700 ms at 100,000; docs/benchmarks.md "Filtered search
        // end to end"), so it gets the plain column.
        var driven = conditions.Any(c => !c.Negate && c is InputCondition.Label or InputCondition.Datasets or InputCondition.InputIds or InputCondition.Annotation or InputCondition.ModelOutput);
        var deleting = driven && database.Dialect == SqlDialect.Sqlite ? "+i.deleting" : "i.deleting";
        var where = $"i.user_id = @u AND i.app_id = @a AND {deleting} = 0";
        for (var k = 0; k < conditions.Count; k++)
        {
            var clause = Clause(conditions[k], "c" + k.ToString(CultureInfo.InvariantCulture) + "_", parameters);
            where += conditions[k].Negate ? $" AND NOT ({clause})" : $" AND ({clause})";
        }

        return (where, parameters);
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
    // the app's). Label, dataset and annotation-field conditions are uncorrelated IN subqueries: the matching ids are read once through the
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
                // The input ids straight from the covering (user_id, app_id, concept_id, value, input_id) index.
                return $"i.id IN (SELECT ac.input_id FROM annotation_concepts ac WHERE ac.user_id = @u AND ac.app_id = @a AND {concept} AND ac.value {(label.Positive ? "> 0" : "<= 0")})";
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
                // Uncorrelated like the label filter: the matching annotations' inputs are read once, through the
                // (user_id, app_id, author, status_code, input_level, input_id) index, not probed input by input.
                var fields = "an.user_id = @u AND an.app_id = @a";
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

                return $"i.id IN (SELECT an.input_id FROM annotations an WHERE {fields})";
            case InputCondition.ModelOutput output:
                // Each processed input's row of the base-workflow index names the embedder's version and the version of
                // the concept model that ran on it (InputIndexMigrations), both model annotations of the input.
                var version = Param("mv", output.ModelVersionId);
                return $"i.id IN (SELECT e.input_id FROM inference_input_embeddings e WHERE e.user_id = @u AND e.app_id = @a AND (e.model_version_id = {version} OR e.concepts_version_id = {version}))";
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
