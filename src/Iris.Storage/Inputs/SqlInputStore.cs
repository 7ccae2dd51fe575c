using System.Globalization;
using System.Security.Cryptography;
using Iris.Core.Apps;
using System.Data.Common;
using Iris.Storage.Blobs;
using Iris.Storage.Db;
using Iris.Storage.Jobs;

namespace Iris.Storage.Inputs;

/// <summary>
/// The inputs area on SQLite. Writers take the write lock at BEGIN (IMMEDIATE), so a read-then-write inside one
/// transaction (id conflicts, blob references) cannot interleave with another writer.
/// </summary>
public sealed class SqlInputStore(Database database, IBlobStore blobs, TimeProvider time) : IInputStore, IDatasetStore
{
    private const string InputColumns = "id, seq, kind, media, url, source_blob, blob_key, thumb_key, width, height, format, color_mode, status_code, status_details, add_job_id, created_at, modified_at";
    private const string AnnotationColumns = "id, input_id, data, input_level, author, status_code, created_at, modified_at";

    public async Task<IReadOnlyList<AddResult>> AddInputsAsync(AppRef app, IReadOnlyList<NewInput> inputs, string? addJobId, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var results = new List<AddResult>(inputs.Count);
        await s.LockKeysAsync(inputs.Select(i => i.SourceBlob).OfType<string>().Select(BlobLock));

        // Two batches sharing input ids would each wait, at their insert, for the other's uncommitted row: a deadlock
        // (PostgreSQL 40P01) when they list the ids in different orders. Locking the ids in one global order first (after
        // the blob locks, as every adder does) makes the later batch wait for the earlier one instead.
        await s.LockKeysAsync(inputs.Select(i => InputLock(app, i.Id)));

        // The duplicate-URL rule has no constraint behind it (a URL may repeat when allowed), so adders of one URL in one
        // app take its lock, in the same global order, before they check: two nodes cannot both add it.
        await s.LockKeysAsync(inputs.Where(i => i.Url is not null && !i.AllowDuplicateUrl).Select(i => UrlLock(app, i.Url!)));

        if (addJobId is not null)
        {
            await s.ExecuteAsync("INSERT INTO inputs_add_jobs (user_id, app_id, id, created_at, modified_at) VALUES (@u, @a, @id, @now, @now) ON CONFLICT (user_id, app_id, id) DO UPDATE SET modified_at = @now;",
                ("@u", app.UserId), ("@a", app.AppId), ("@id", addJobId), ("@now", now));
        }

        foreach (var input in inputs)
        {
            var id = input.Id;
            if (await InputExists(s, app, id))
            {
                id = input.Conflicts == IdConflictPolicy.Suffix ? await FreeSuffixedId(s, app, id) : null;
                if (id is null)
                {
                    results.Add(new AddResult(AddOutcome.DuplicateId, input.Id, default));
                    continue;
                }
            }

            if (input.Url is not null && !input.AllowDuplicateUrl
                && await s.ScalarAsync("SELECT COUNT(*) FROM inputs WHERE user_id = @u AND app_id = @a AND url = @url AND deleting = 0;",
                    ("@u", app.UserId), ("@a", app.AppId), ("@url", input.Url)) > 0)
            {
                results.Add(new AddResult(AddOutcome.DuplicateUrl, id, default));
                continue;
            }

            string? missing = null;
            foreach (var d in input.DatasetIds)
            {
                if (await s.ScalarAsync("SELECT COUNT(*) FROM datasets WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", d)) == 0)
                {
                    missing = d;
                    break;
                }
            }

            if (missing is not null)
            {
                results.Add(new AddResult(AddOutcome.UnknownDataset, id, default, missing));
                continue;
            }

            // The bytes were written before the transaction; a purge that ran in between may have removed a blob with the
            // same content. Under the write lock, with the row about to reference it, make sure it is there.
            if (input.SourceBlob is not null && !await blobs.ExistsAsync(input.SourceBlob, cancellationToken))
            {
                await blobs.PutAsync(input.SourceBytes, CancellationToken.None);
            }

            // Another writer (another node) may have taken the id since the check above: the unique constraint decides. ON
            // CONFLICT DO NOTHING waits for that writer to commit and then inserts nothing, leaving this transaction usable
            // (a raw unique violation would abort it on PostgreSQL); the loser is a duplicate or takes the next free suffix.
            while (await s.ExecuteAsync("""
                INSERT INTO inputs (user_id, app_id, id, kind, media, url, source_blob, status_code, add_job_id, created_at, modified_at)
                VALUES (@u, @a, @id, @kind, @media, @url, @src, @status, @job, @now, @now)
                ON CONFLICT (user_id, app_id, id) DO NOTHING;
                """,
                ("@u", app.UserId), ("@a", app.AppId), ("@id", id), ("@kind", input.Kind), ("@media", input.Media), ("@url", input.Url),
                ("@src", input.SourceBlob), ("@status", InputStates.Pending), ("@job", addJobId), ("@now", now)) == 0)
            {
                id = input.Conflicts == IdConflictPolicy.Suffix ? await FreeSuffixedId(s, app, input.Id) : null;
                if (id is null)
                {
                    break;
                }
            }

            if (id is null)
            {
                results.Add(new AddResult(AddOutcome.DuplicateId, input.Id, default));
                continue;
            }

            await InsertAnnotation(s, app, new NewAnnotation(input.AnnotationId, id, input.AnnotationData, true, app.UserId, input.Concepts, input.Queryable), now);
            foreach (var dataset in input.DatasetIds.Distinct(StringComparer.Ordinal))
            {
                await s.ExecuteAsync("INSERT INTO dataset_inputs (user_id, app_id, dataset_id, input_id, created_at) VALUES (@u, @a, @d, @i, @now) ON CONFLICT DO NOTHING;",
                    ("@u", app.UserId), ("@a", app.AppId), ("@d", dataset), ("@i", id), ("@now", now));
            }

            await JobQueue.EnqueueAsync(s, JobKinds.Ingest, app, id, now).ConfigureAwait(false);
            results.Add(new AddResult(AddOutcome.Added, id, Clock.FromMicros(now)));
        }

        await s.CommitAsync();
        return results;
    }

    private static async Task<bool> InputExists(DbSession s, AppRef app, string id) =>
        await s.ScalarAsync("SELECT COUNT(*) FROM inputs WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", id)) > 0;

    private static async Task<string?> FreeSuffixedId(DbSession s, AppRef app, string id)
    {
        for (var i = 1; i <= 9; i++)
        {
            var candidate = id + "-" + i.ToString(CultureInfo.InvariantCulture);
            if (candidate.Length <= 48 && !await InputExists(s, app, candidate))
            {
                return candidate;
            }
        }

        for (var attempt = 0; attempt < 8; attempt++)
        {
            var random = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
            var candidate = (id.Length > 39 ? id[..39] : id) + "-" + random;
            if (!await InputExists(s, app, candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public async Task<InputRow?> GetInputAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var rows = await s.QueryAsync(ReadInput, $"SELECT {InputColumns} FROM inputs WHERE user_id = @u AND app_id = @a AND id = @id AND deleting = 0;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
        return rows.FirstOrDefault();
    }

    public async Task<IReadOnlyList<InputRow>> ListInputsAsync(AppRef app, int page, int perPage, int? statusCode, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var parameters = new List<(string, object?)> { ("@u", app.UserId), ("@a", app.AppId), ("@limit", perPage), ("@offset", (long)(page - 1) * perPage) };
        var where = "user_id = @u AND app_id = @a AND deleting = 0";
        if (statusCode is not null)
        {
            where += " AND status_code = @status";
            parameters.Add(("@status", statusCode.Value));
        }

        if (ids.Count > 0)
        {
            // By id: the unique (user_id, app_id, id) index finds the few rows. "+deleting" keeps SQLite (no statistics)
            // from choosing the (user_id, app_id, deleting, …) indexes instead, which read every input of the app (10,000
            // inputs: 5.7 ms against 0.2 ms measured for a search's 10 hits).
            var (list, values) = Sql.InList("id", ids);
            where = where.Replace(" AND deleting = 0", " AND +deleting = 0", StringComparison.Ordinal) + " AND id IN " + list;
            parameters.AddRange(values);
        }

        var rows = await s.QueryAsync(ReadInput, $"SELECT {InputColumns} FROM inputs WHERE {where} ORDER BY seq DESC LIMIT @limit OFFSET @offset;", [.. parameters]);
        return rows;
    }

    public async Task<IReadOnlyList<InputRow>> StreamInputsAsync(AppRef app, int perPage, string? lastId, bool descending, bool orderById, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var key = orderById ? "id" : "seq";
        var direction = descending ? "DESC" : "ASC";
        var where = "user_id = @u AND app_id = @a AND deleting = 0";
        if (!string.IsNullOrEmpty(lastId))
        {
            var cursor = orderById ? "@last" : "(SELECT seq FROM inputs WHERE user_id = @u AND app_id = @a AND id = @last)";
            where += $" AND {key} {(descending ? "<" : ">")} {cursor}";
        }

        var rows = await s.QueryAsync(ReadInput, $"SELECT {InputColumns} FROM inputs WHERE {where} ORDER BY {key} {direction} LIMIT @limit;",
            ("@u", app.UserId), ("@a", app.AppId), ("@last", lastId), ("@limit", perPage));
        return rows;
    }

    public async Task<InputCounts> CountInputsAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        long processed = 0, toProcess = 0, processing = 0, errors = 0;
        foreach (var (code, count) in await s.QueryAsync(r => (r.GetInt32(0), r.GetInt64(1)),
            "SELECT status_code, COUNT(*) FROM inputs WHERE user_id = @u AND app_id = @a AND deleting = 0 GROUP BY status_code;", ("@u", app.UserId), ("@a", app.AppId)))
        {
            switch (code)
            {
                case InputStates.Success: processed += count; break;
                case InputStates.Pending: toProcess += count; break;
                case InputStates.InProgress: processing += count; break;
                default: errors += count; break;
            }
        }

        return new InputCounts(processed, toProcess, processing, errors);
    }

    public async Task<IReadOnlyList<string>> MarkDeletingAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var found = new List<string>();
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            if (await s.ExecuteAsync("UPDATE inputs SET deleting = 1, modified_at = @now WHERE user_id = @u AND app_id = @a AND id = @id AND deleting = 0;",
                ("@u", app.UserId), ("@a", app.AppId), ("@id", id), ("@now", now)) == 1)
            {
                await JobQueue.EnqueueAsync(s, JobKinds.Purge, app, id, now).ConfigureAwait(false);
                found.Add(id);
            }
        }

        await s.CommitAsync();
        return found;
    }

    public async Task<bool> PurgeInputAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var p = new (string, object?)[] { ("@u", app.UserId), ("@a", app.AppId), ("@id", id), ("@now", now), ("@kind", JobKinds.Ingest) };
        if (await s.ScalarAsync("SELECT COUNT(*) FROM work_queue WHERE user_id = @u AND app_id = @a AND kind = @kind AND target = @id AND lease_until >= @now;", p) > 0)
        {
            return false;
        }

        var row = await s.FirstAsync(ReadInput, $"SELECT {InputColumns} FROM inputs WHERE user_id = @u AND app_id = @a AND id = @id AND deleting = 1;", p);
        await s.ExecuteAsync("DELETE FROM work_queue WHERE user_id = @u AND app_id = @a AND kind = @kind AND target = @id;", p);
        if (row is null)
        {
            await s.CommitAsync();
            return true;
        }

        await s.ExecuteAsync("""
            DELETE FROM annotation_concepts WHERE user_id = @u AND app_id = @a AND annotation_id IN (SELECT id FROM annotations WHERE user_id = @u AND app_id = @a AND input_id = @id);
            DELETE FROM annotations WHERE user_id = @u AND app_id = @a AND input_id = @id;
            DELETE FROM dataset_inputs WHERE user_id = @u AND app_id = @a AND input_id = @id;
            DELETE FROM inputs WHERE user_id = @u AND app_id = @a AND id = @id;
            """, p);
        await DeleteUnreferenced(s, [row.SourceBlob, row.BlobKey, row.ThumbKey]);
        await s.CommitAsync();
        return true;
    }

    public async Task ReleaseBlobsAsync(IReadOnlyList<string> blobKeys, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await DeleteUnreferenced(s, blobKeys);
        await s.CommitAsync();
        return;
    }

    // Every table of the inputs area, children before parents; each is keyed by (user_id, app_id).
    private static readonly string[] AppTables =
    [
        "dataset_version_items", "dataset_versions", "dataset_inputs", "datasets", "annotation_concepts", "annotations",
        "concepts", "inputs_add_jobs", "work_queue", "inputs",
    ];

    public async Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var keys = await s.QueryAsync(r => new[] { r.IsDBNull(0) ? null : r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2) },
            "SELECT source_blob, blob_key, thumb_key FROM inputs WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId));
        foreach (var table in AppTables)
        {
            await s.ExecuteAsync($"DELETE FROM {table} WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId));
        }

        await DeleteUnreferenced(s, keys.SelectMany(k => k));
        await s.CommitAsync();
        return;
    }

    public async Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in AppTables)
        {
            await s.ExecuteAsync($"UPDATE {table} SET user_id = @tu, app_id = @ta WHERE user_id = @u AND app_id = @a;",
                ("@tu", to.UserId), ("@ta", to.AppId), ("@u", from.UserId), ("@a", from.AppId));
        }

        await s.CommitAsync();
        return;
    }

    // Blobs are shared by content across inputs and apps; delete one only when no row references it any more. The check
    // and the delete happen under the write lock, and adders re-check presence under it too.
    // Adders and purgers of a blob take this key lock (in key order, so two never deadlock) before they decide: an adder
    // makes sure the file exists and commits its reference under it; a purger counts references and deletes the file
    // under it. So a file is never deleted while a committed or committing row references it, on any number of nodes.
    private static string BlobLock(string key) => "blob:" + key;

    private static string UrlLock(AppRef app, string url) => "url:" + app.UserId + "/" + app.AppId + ":" + url;

    private static string InputLock(AppRef app, string id) => "input:" + app.UserId + "/" + app.AppId + "/" + id;

    private async Task DeleteUnreferenced(DbSession s, IEnumerable<string?> keys)
    {
        var distinct = keys.OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        await s.LockKeysAsync(distinct.Select(BlobLock));
        foreach (var key in distinct)
        {
            if (await s.ScalarAsync("SELECT COUNT(*) FROM inputs WHERE source_blob = @k OR blob_key = @k OR thumb_key = @k;", ("@k", key)) == 0)
            {
                await blobs.DeleteAsync(key, s.CancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<InputRow?> BeginProcessingAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var p = new (string, object?)[] { ("@u", app.UserId), ("@a", app.AppId), ("@id", id), ("@now", Clock.NowMicros(time)), ("@pending", InputStates.Pending), ("@progress", InputStates.InProgress) };
        await s.ExecuteAsync("UPDATE inputs SET status_code = @progress, modified_at = @now WHERE user_id = @u AND app_id = @a AND id = @id AND deleting = 0 AND status_code = @pending;", p);
        var row = await s.FirstAsync(ReadInput, $"SELECT {InputColumns} FROM inputs WHERE user_id = @u AND app_id = @a AND id = @id AND deleting = 0 AND status_code = @progress;", p);
        await s.CommitAsync();
        return row;
    }

    public async Task<bool> CompleteImageAsync(AppRef app, string id, string blobKey, string thumbKey, int width, int height, string format, string colorMode, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.LockKeysAsync([BlobLock(blobKey), BlobLock(thumbKey)]);
        foreach (var key in new[] { blobKey, thumbKey })
        {
            if (!await blobs.ExistsAsync(key, cancellationToken))
            {
                // Purged between the worker's write and this commit; the worker retries and writes it again.
                throw new InvalidOperationException($"blob {key} vanished before the input referenced it");
            }
        }

        var changed = await s.ExecuteAsync("""
            UPDATE inputs SET blob_key = @b, thumb_key = @t, width = @w, height = @h, format = @f, color_mode = @c, status_code = @ok, status_details = '', modified_at = @now
            WHERE user_id = @u AND app_id = @a AND id = @id AND deleting = 0;
            """,
            ("@b", blobKey), ("@t", thumbKey), ("@w", width), ("@h", height), ("@f", format), ("@c", colorMode), ("@ok", InputStates.Success),
            ("@now", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
        await s.CommitAsync();
        return changed == 1;
    }

    public async Task<bool> CompleteAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var changed = await s.ExecuteAsync("UPDATE inputs SET status_code = @ok, status_details = '', modified_at = @now WHERE user_id = @u AND app_id = @a AND id = @id AND deleting = 0;",
            ("@ok", InputStates.Success), ("@now", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
        return changed == 1;
    }

    public async Task FailInputAsync(AppRef app, string id, int statusCode, string details, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE inputs SET status_code = @code, status_details = @details, modified_at = @now WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@code", statusCode), ("@details", details), ("@now", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
        return;
    }

    public async Task<InputRow?> FindByBlobAsync(AppRef app, string blobKey, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var row = await s.FirstAsync(ReadInput, $"SELECT {InputColumns} FROM inputs WHERE user_id = @u AND app_id = @a AND deleting = 0 AND (blob_key = @k OR thumb_key = @k) LIMIT 1;",
            ("@u", app.UserId), ("@a", app.AppId), ("@k", blobKey));
        return row;
    }

    // Add-jobs

    private const string AddJobSelect = """
        SELECT j.id, j.cancelled, j.created_at, j.modified_at,
          (SELECT COUNT(*) FROM inputs i WHERE i.user_id = j.user_id AND i.app_id = j.app_id AND i.add_job_id = j.id AND i.status_code = 30001),
          (SELECT COUNT(*) FROM inputs i WHERE i.user_id = j.user_id AND i.app_id = j.app_id AND i.add_job_id = j.id AND i.status_code = 30003),
          (SELECT COUNT(*) FROM inputs i WHERE i.user_id = j.user_id AND i.app_id = j.app_id AND i.add_job_id = j.id AND i.status_code = 30000),
          (SELECT COUNT(*) FROM inputs i WHERE i.user_id = j.user_id AND i.app_id = j.app_id AND i.add_job_id = j.id AND i.status_code NOT IN (30000, 30001, 30003))
        FROM inputs_add_jobs j
        """;

    private static AddJobRow ReadAddJob(DbDataReader r) =>
        new(r.GetString(0), r.GetInt32(1) != 0, Clock.FromMicros(r.GetInt64(2)), Clock.FromMicros(r.GetInt64(3)), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7));

    public async Task<AddJobRow?> GetAddJobAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadAddJob, AddJobSelect + " WHERE j.user_id = @u AND j.app_id = @a AND j.id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
    }

    public async Task<IReadOnlyList<AddJobRow>> ListAddJobsAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(ReadAddJob, AddJobSelect + " WHERE j.user_id = @u AND j.app_id = @a ORDER BY j.seq DESC LIMIT @l OFFSET @o;",
            ("@u", app.UserId), ("@a", app.AppId), ("@l", perPage), ("@o", (long)(page - 1) * perPage));
    }

    public async Task<bool> CancelAddJobAsync(AppRef app, string id, string details, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var p = new (string, object?)[] { ("@u", app.UserId), ("@a", app.AppId), ("@id", id), ("@now", Clock.NowMicros(time)), ("@details", details), ("@kind", JobKinds.Ingest) };
        if (await s.ExecuteAsync("UPDATE inputs_add_jobs SET cancelled = 1, modified_at = @now WHERE user_id = @u AND app_id = @a AND id = @id;", p) == 0)
        {
            return false;
        }

        // Inputs already being processed finish; pending ones fail and their queued work is dropped.
        await s.ExecuteAsync("""
            DELETE FROM work_queue WHERE kind = @kind AND user_id = @u AND app_id = @a AND lease_until < @now
              AND target IN (SELECT id FROM inputs WHERE user_id = @u AND app_id = @a AND add_job_id = @id AND status_code = 30001);
            UPDATE inputs SET status_code = 30002, status_details = @details, modified_at = @now
              WHERE user_id = @u AND app_id = @a AND add_job_id = @id AND status_code = 30001
                AND id NOT IN (SELECT target FROM work_queue WHERE kind = @kind AND user_id = @u AND app_id = @a);
            """, p);
        await s.CommitAsync();
        return true;
    }

    // Annotations

    public async Task<IReadOnlyDictionary<string, AnnotationRow>> InputLevelAnnotationsAsync(AppRef app, IReadOnlyList<string> inputIds, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, AnnotationRow>(StringComparer.Ordinal);
        if (inputIds.Count == 0)
        {
            return result;
        }

        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        foreach (var chunk in inputIds.Chunk(500))
        {
            var (list, values) = Sql.InList("i", chunk);
            foreach (var row in await s.QueryAsync(ReadAnnotation,
                $"SELECT {AnnotationColumns} FROM annotations WHERE user_id = @u AND app_id = @a AND input_level = 1 AND input_id IN {list} ORDER BY seq;",
                [("@u", app.UserId), ("@a", app.AppId), .. values]))
            {
                result[row.InputId] = row;
            }
        }

        return result;
    }

    public async Task PutInputLevelAnnotationAsync(AppRef app, NewAnnotation annotation, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        // One input-level annotation per input: writers of one input's take its lock before they look.
        await s.LockKeyAsync(InputLock(app, annotation.InputId));
        var existing = await s.FirstAsync(r => r.GetString(0), "SELECT id FROM annotations WHERE user_id = @u AND app_id = @a AND input_id = @i AND input_level = 1 LIMIT 1;",
            ("@u", app.UserId), ("@a", app.AppId), ("@i", annotation.InputId));
        if (existing is null)
        {
            await InsertAnnotation(s, app, annotation with { InputLevel = true }, now);
        }
        else
        {
            await UpdateAnnotation(s, app, annotation with { Id = existing }, now);
        }

        await s.CommitAsync();
        return;
    }

    public async Task<IReadOnlyList<string>> AddAnnotationsAsync(AppRef app, IReadOnlyList<NewAnnotation> annotations, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var taken = new List<string>();
        foreach (var a in annotations)
        {
            if (await s.ScalarAsync("SELECT COUNT(*) FROM annotations WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", a.Id)) > 0)
            {
                taken.Add(a.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        // A racing writer (or the same id twice in the request) can still take an id: the constraint decides, and the
        // transaction rolls back so nothing is written.
        var now = Clock.NowMicros(time);
        foreach (var annotation in annotations)
        {
            if (!await InsertAnnotation(s, app, annotation, now, skipTakenId: true))
            {
                taken.Add(annotation.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        await s.CommitAsync();
        return [];
    }

    public async Task<IReadOnlyList<AnnotationRow>> ListAnnotationsAsync(AppRef app, AnnotationQuery filter, int page, int perPage, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var parameters = new List<(string, object?)> { ("@u", app.UserId), ("@a", app.AppId), ("@l", perPage), ("@o", (long)(page - 1) * perPage) };
        var users = filter.Users ? UserAnnotationsWhere(filter, parameters) : null;
        if (filter.ModelVersions is null)
        {
            return users is null ? [] : await s.QueryAsync(ReadAnnotation, $"SELECT {AnnotationColumns} FROM annotations WHERE {users} ORDER BY seq DESC LIMIT @l OFFSET @o;", [.. parameters]);
        }

        // With model annotations: one list of both kinds, newest first (created_at), then user before model annotations,
        // then by seq (user) or input and model version (model): a total order, so pages neither repeat nor skip.
        var branches = new List<string>();
        if (users is not null)
        {
            branches.Add($"SELECT 0 AS kind, id, input_id, data, input_level, author, status_code, created_at, modified_at, seq, '' AS mv, '' AS mid, '' AS ev FROM annotations WHERE {users}");
        }

        if (await ModelAnnotationsWhereAsync(s, app, filter, parameters) is { } models)
        {
            branches.Add($"SELECT 1 AS kind, '' AS id, e.input_id, NULL AS data, 1 AS input_level, '' AS author, {ModelAnnotations.Status} AS status_code, e.created_us AS created_at, e.created_us AS modified_at, 0 AS seq, e.model_version_id AS mv, e.model_id AS mid, e.model_version_id AS ev FROM inference_input_embeddings e WHERE {models("e.model_version_id")}");
            branches.Add($"SELECT 2 AS kind, '' AS id, e.input_id, NULL AS data, 1 AS input_level, '' AS author, {ModelAnnotations.Status} AS status_code, e.created_us AS created_at, e.created_us AS modified_at, 0 AS seq, e.concepts_version_id AS mv, '' AS mid, e.model_version_id AS ev FROM inference_input_embeddings e WHERE e.concepts_version_id <> '' AND {models("e.concepts_version_id")}");
        }

        if (branches.Count == 0)
        {
            return [];
        }

        var rows = await s.QueryAsync(r => r.GetInt32(0) == 0
                ? new AnnotationRow(r.GetString(1), r.GetString(2), (byte[])r.GetValue(3), r.GetInt32(4) != 0, r.GetString(5), r.GetInt32(6), Clock.FromMicros(r.GetInt64(7)), Clock.FromMicros(r.GetInt64(8)))
                : new AnnotationRow(ModelAnnotations.IdOf(r.GetString(2), r.GetString(10)), r.GetString(2), [], true, string.Empty, ModelAnnotations.Status,
                    Clock.FromMicros(r.GetInt64(7)), Clock.FromMicros(r.GetInt64(8)), new ModelOutputRow(r.GetString(11), r.GetString(10), r.GetString(12), r.GetInt32(0) == 1, null, null)),
            $"SELECT * FROM ({string.Join(" UNION ALL ", branches)}) x ORDER BY created_at DESC, kind, seq DESC, input_id, mv LIMIT @l OFFSET @o;", [.. parameters]);
        return filter.WithOutput ? await WithOutputAsync(s, app, rows) : rows;
    }

    // The stored annotations passing the filter (over the annotations table, unaliased).
    private static string UserAnnotationsWhere(AnnotationQuery filter, List<(string, object?)> parameters)
    {
        var where = "user_id = @u AND app_id = @a AND input_id NOT IN (SELECT id FROM inputs WHERE user_id = @u AND app_id = @a AND deleting = 1)";
        where += In("id", "id", filter.Ids, parameters) + In("input_id", "in", filter.InputIds, parameters) + In("author", "au", filter.Authors, parameters);
        // Status codes are bound as integers: PostgreSQL has no integer = text operator (SQLite converted the text silently).
        if (filter.Statuses.Count > 0)
        {
            var names = filter.Statuses.Select((_, i) => "@st" + i.ToString(CultureInfo.InvariantCulture)).ToList();
            where += $" AND status_code IN ({string.Join(", ", names)})";
            parameters.AddRange(names.Zip(filter.Statuses, (name, code) => (name, (object?)code)));
        }

        return where;
    }

    private static string In(string column, string prefix, IReadOnlyList<string> values, List<(string, object?)> parameters)
    {
        if (values.Count == 0)
        {
            return string.Empty;
        }

        var (list, p) = Sql.InList(prefix, values);
        parameters.AddRange(p);
        return $" AND {column} IN {list}";
    }

    // The model annotations passing the filter, as a condition over the base-workflow index row e given the column that
    // holds the annotation's model version; null when none can pass. Their ids are hashes (ModelAnnotations.IdOf), which
    // SQL cannot compute: asked for by id, the app's (input, version) pairs are read (only the named inputs' when
    // input_ids are given) and the matching ones named.
    private static async Task<Func<string, string>?> ModelAnnotationsWhereAsync(DbSession s, AppRef app, AnnotationQuery filter, List<(string, object?)> parameters)
    {
        if (filter.ModelVersions is not { } versions || (filter.Statuses.Count > 0 && !filter.Statuses.Contains(ModelAnnotations.Status)))
        {
            return null;
        }

        var where = "e.user_id = @u AND e.app_id = @a AND e.input_id IN (SELECT id FROM inputs WHERE user_id = @u AND app_id = @a AND deleting = 0)"
            + In("e.input_id", "mi", filter.InputIds, parameters);
        (string List, (string, object?)[] Parameters)? versionList = versions.Count == 0 ? null : Sql.InList("mv", versions);
        parameters.AddRange(versionList?.Parameters ?? []);
        List<(string InputId, string Version)>? pairs = null;
        if (filter.Ids.Count > 0)
        {
            pairs = await ModelAnnotations.OwnersAsync(s, app, filter.Ids, filter.InputIds, null);
            if (pairs.Count == 0)
            {
                return null;
            }

            for (var i = 0; i < pairs.Count; i++)
            {
                parameters.Add(("@pi" + i.ToString(CultureInfo.InvariantCulture), pairs[i].InputId));
                parameters.Add(("@pv" + i.ToString(CultureInfo.InvariantCulture), pairs[i].Version));
            }
        }

        return column =>
        {
            var condition = where + (versionList is { } v ? $" AND {column} IN {v.List}" : string.Empty);
            if (pairs is not null)
            {
                condition += " AND (" + string.Join(" OR ", pairs.Select((_, i) =>
                    $"(e.input_id = @pi{i.ToString(CultureInfo.InvariantCulture)} AND {column} = @pv{i.ToString(CultureInfo.InvariantCulture)})")) + ")";
            }

            return condition;
        };
    }

    // The output behind each model annotation of a page: the embedding's vector, or the predicted concepts kept (best first).
    // Two reads for the whole page (one per kind of output), not one per annotation.
    private static async Task<IReadOnlyList<AnnotationRow>> WithOutputAsync(DbSession s, AppRef app, IReadOnlyList<AnnotationRow> rows)
    {
        var vectors = new Dictionary<(string InputId, string Version), float[]>();
        var concepts = new Dictionary<(string InputId, string Version), List<(string ConceptId, float Value)>>();
        foreach (var isEmbedding in new[] { true, false })
        {
            var pairs = rows.Where(r => r.Model is { } m && m.IsEmbedding == isEmbedding).Select(r => (r.InputId, r.Model!.ModelVersionId)).Distinct().ToList();
            if (pairs.Count == 0)
            {
                continue;
            }

            var (inputs, inputParameters) = Sql.InList("oi", [.. pairs.Select(p => p.InputId).Distinct()]);
            var (versions, versionParameters) = Sql.InList("ov", [.. pairs.Select(p => p.ModelVersionId).Distinct()]);
            (string, object?)[] parameters = [("@u", app.UserId), ("@a", app.AppId), .. inputParameters, .. versionParameters];
            var wanted = pairs.ToHashSet();
            if (isEmbedding)
            {
                foreach (var (key, vector) in await s.QueryAsync(r => ((r.GetString(0), r.GetString(1)), Sql.Floats(r, 2)),
                    $"SELECT input_id, model_version_id, vector FROM inference_input_embeddings WHERE user_id = @u AND app_id = @a AND input_id IN {inputs} AND model_version_id IN {versions};", parameters))
                {
                    if (wanted.Contains(key))
                    {
                        vectors[key] = vector;
                    }
                }
            }
            else
            {
                foreach (var (key, concept, value) in await s.QueryAsync(r => ((r.GetString(0), r.GetString(1)), r.GetString(2), (float)r.GetDouble(3)),
                    $"SELECT input_id, model_version_id, concept_id, value FROM inference_input_concepts WHERE user_id = @u AND app_id = @a AND input_id IN {inputs} AND model_version_id IN {versions} ORDER BY value DESC, concept_id;", parameters))
                {
                    if (wanted.Contains(key))
                    {
                        (concepts.TryGetValue(key, out var list) ? list : concepts[key] = []).Add((concept, value));
                    }
                }
            }
        }

        return [.. rows.Select(row => row.Model is not { } model ? row : row with
        {
            Model = model.IsEmbedding
                ? model with { Vector = vectors.GetValueOrDefault((row.InputId, model.ModelVersionId)) }
                : model with { Concepts = concepts.TryGetValue((row.InputId, model.ModelVersionId), out var list) ? list : [] },
        })];
    }

    public async Task<AnnotationRow?> GetAnnotationAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadAnnotation,
            $"SELECT {AnnotationColumns} FROM annotations WHERE user_id = @u AND app_id = @a AND id = @id AND input_id NOT IN (SELECT id FROM inputs WHERE user_id = @u AND app_id = @a AND deleting = 1);",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
    }

    public async Task UpdateAnnotationAsync(AppRef app, NewAnnotation annotation, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await UpdateAnnotation(s, app, annotation, Clock.NowMicros(time));
        await s.CommitAsync();
        return;
    }

    public async Task<int> DeleteAnnotationsAsync(AppRef app, IReadOnlyList<(string InputId, string? AnnotationId)> targets, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        foreach (var (inputId, annotationId) in targets)
        {
            var ids = await s.QueryAsync(r => r.GetString(0), "SELECT id FROM annotations WHERE user_id = @u AND app_id = @a AND input_id = @i AND (CAST(@id AS TEXT) IS NULL OR id = @id);",
                ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId), ("@id", annotationId));
            foreach (var id in ids)
            {
                await s.ExecuteAsync("DELETE FROM annotation_concepts WHERE user_id = @u AND app_id = @a AND annotation_id = @id; DELETE FROM annotations WHERE user_id = @u AND app_id = @a AND id = @id;",
                    ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
                deleted++;
            }
        }

        await s.CommitAsync();
        return deleted;
    }

    // False when skipTakenId and the id was taken (nothing written); otherwise a taken id throws the unique violation.
    private static async Task<bool> InsertAnnotation(DbSession s, AppRef app, NewAnnotation annotation, long now, bool skipTakenId = false)
    {
        if (await s.ExecuteAsync($"""
            INSERT INTO annotations (user_id, app_id, id, input_id, data, input_level, author, status_code, created_at, modified_at, metadata_json, geo_lon, geo_lat)
            VALUES (@u, @a, @id, @i, @data, @level, @author, 24150, @now, @now, @md, @lon, @lat){(skipTakenId ? " ON CONFLICT (user_id, app_id, id) DO NOTHING" : "")};
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@id", annotation.Id), ("@i", annotation.InputId), ("@data", annotation.Data),
            ("@level", annotation.InputLevel ? 1 : 0), ("@author", annotation.Author), ("@now", now),
            ("@md", annotation.Queryable?.MetadataJson), ("@lon", annotation.Queryable?.Longitude), ("@lat", annotation.Queryable?.Latitude)) == 0)
        {
            return false;
        }

        await WriteMentions(s, app, annotation, now);
        return true;
    }

    private static async Task UpdateAnnotation(DbSession s, AppRef app, NewAnnotation annotation, long now)
    {
        await s.ExecuteAsync("UPDATE annotations SET data = @data, modified_at = @now, metadata_json = @md, geo_lon = @lon, geo_lat = @lat, queryable_pending = 0 WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", annotation.Id), ("@data", annotation.Data), ("@now", now),
            ("@md", annotation.Queryable?.MetadataJson), ("@lon", annotation.Queryable?.Longitude), ("@lat", annotation.Queryable?.Latitude));
        await s.ExecuteAsync("DELETE FROM annotation_concepts WHERE user_id = @u AND app_id = @a AND annotation_id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", annotation.Id));
        await WriteMentions(s, app, annotation, now);
    }

    // Concepts named by annotations exist in the app from then on (Clarifai creates them on first use).
    private static async Task WriteMentions(DbSession s, AppRef app, NewAnnotation annotation, long now)
    {
        foreach (var concept in annotation.Concepts)
        {
            await s.ExecuteAsync("""
                INSERT INTO concepts (user_id, app_id, id, name, created_at, modified_at) VALUES (@u, @a, @c, @name, @now, @now) ON CONFLICT DO NOTHING;
                INSERT INTO annotation_concepts (user_id, app_id, annotation_id, concept_id, value, input_id)
                  VALUES (@u, @a, @id, @c, @v, @i)
                  ON CONFLICT (user_id, app_id, annotation_id, concept_id) DO UPDATE SET value = @v;
                """,
                ("@u", app.UserId), ("@a", app.AppId), ("@c", concept.Id), ("@name", concept.Name), ("@now", now), ("@id", annotation.Id), ("@v", (double)concept.Value), ("@i", annotation.InputId));
        }
    }

    // Concepts

    public async Task<IReadOnlyList<string>> AddConceptsAsync(AppRef app, IReadOnlyList<ConceptRow> concepts, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var taken = new List<string>();
        foreach (var c in concepts)
        {
            if (await s.ScalarAsync("SELECT COUNT(*) FROM concepts WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", c.Id)) > 0)
            {
                taken.Add(c.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        // A racing writer (or the same id twice in the request) can still take an id: the constraint decides, and the
        // transaction rolls back so nothing is written.
        foreach (var c in concepts)
        {
            if (await s.ExecuteAsync("INSERT INTO concepts (user_id, app_id, id, name, language, created_at, modified_at) VALUES (@u, @a, @id, @n, @l, @c, @m) ON CONFLICT (user_id, app_id, id) DO NOTHING;",
                ("@u", app.UserId), ("@a", app.AppId), ("@id", c.Id), ("@n", c.Name), ("@l", c.Language), ("@c", Clock.ToMicros(c.CreatedAt)), ("@m", Clock.ToMicros(c.ModifiedAt))) == 0)
            {
                taken.Add(c.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        await s.CommitAsync();
        return [];
    }

    public async Task<ConceptRow?> GetConceptAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadConcept, "SELECT id, name, language, created_at, modified_at FROM concepts WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
    }

    public async Task<IReadOnlyList<ConceptRow>> ListConceptsAsync(AppRef app, int page, int perPage, string? namePrefix, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        // Prefix match on name or id, case-insensitive for ASCII (LIKE); the escape keeps % and _ in user text literal.
        var pattern = namePrefix is null ? null : namePrefix.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
        return await s.QueryAsync(ReadConcept, """
            SELECT id, name, language, created_at, modified_at FROM concepts WHERE user_id = @u AND app_id = @a
              AND (CAST(@p AS TEXT) IS NULL OR LOWER(name) LIKE LOWER(@p) ESCAPE '\' OR LOWER(id) LIKE LOWER(@p) ESCAPE '\')
            ORDER BY created_at, id LIMIT @l OFFSET @o;
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@p", pattern), ("@l", perPage), ("@o", (long)(page - 1) * perPage));
    }

    public async Task UpdateConceptAsync(AppRef app, ConceptRow concept, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE concepts SET name = @n, language = @l, modified_at = @m WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", concept.Id), ("@n", concept.Name), ("@l", concept.Language), ("@m", Clock.ToMicros(concept.ModifiedAt)));
        return;
    }

    public async Task<IReadOnlyList<ConceptCountRow>> ConceptCountsAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => new ConceptCountRow(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3)), """
            SELECT c.id, c.name,
              (SELECT COUNT(*) FROM annotation_concepts x WHERE x.user_id = c.user_id AND x.app_id = c.app_id AND x.concept_id = c.id AND x.value > 0),
              (SELECT COUNT(*) FROM annotation_concepts x WHERE x.user_id = c.user_id AND x.app_id = c.app_id AND x.concept_id = c.id AND x.value <= 0)
            FROM concepts c WHERE c.user_id = @u AND c.app_id = @a ORDER BY c.id LIMIT @l OFFSET @o;
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@l", perPage), ("@o", (long)(page - 1) * perPage));
    }

    // Datasets

    public async Task<IReadOnlyList<string>> AddDatasetsAsync(AppRef app, IReadOnlyList<DatasetRow> datasets, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var taken = new List<string>();
        foreach (var d in datasets)
        {
            if (await s.ScalarAsync("SELECT COUNT(*) FROM datasets WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", d.Id)) > 0)
            {
                taken.Add(d.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        // A racing writer (or the same id twice in the request) can still take an id: the constraint decides, and the
        // transaction rolls back so nothing is written.
        foreach (var d in datasets)
        {
            if (await s.ExecuteAsync("INSERT INTO datasets (user_id, app_id, id, body, created_at, modified_at) VALUES (@u, @a, @id, @b, @c, @c) ON CONFLICT (user_id, app_id, id) DO NOTHING;",
                ("@u", app.UserId), ("@a", app.AppId), ("@id", d.Id), ("@b", d.Body), ("@c", Clock.ToMicros(d.CreatedAt))) == 0)
            {
                taken.Add(d.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        await s.CommitAsync();
        return [];
    }

    public async Task<DatasetRow?> GetDatasetAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadDataset, "SELECT id, body, created_at, modified_at FROM datasets WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id));
    }

    public async Task<IReadOnlyList<DatasetRow>> ListDatasetsAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(ReadDataset,
            "SELECT id, body, created_at, modified_at FROM datasets WHERE user_id = @u AND app_id = @a ORDER BY seq DESC LIMIT @l OFFSET @o;",
            ("@u", app.UserId), ("@a", app.AppId), ("@l", perPage), ("@o", (long)(page - 1) * perPage));
    }

    public async Task UpdateDatasetAsync(AppRef app, DatasetRow dataset, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE datasets SET body = @b, modified_at = @m WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", dataset.Id), ("@b", dataset.Body), ("@m", Clock.ToMicros(dataset.ModifiedAt)));
        return;
    }

    public async Task<IReadOnlyList<string>> DeleteDatasetsAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = new List<string>();
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            var p = new (string, object?)[] { ("@u", app.UserId), ("@a", app.AppId), ("@id", id) };
            if (await s.ExecuteAsync("DELETE FROM datasets WHERE user_id = @u AND app_id = @a AND id = @id;", p) == 1)
            {
                await s.ExecuteAsync("""
                    DELETE FROM dataset_inputs WHERE user_id = @u AND app_id = @a AND dataset_id = @id;
                    DELETE FROM dataset_versions WHERE user_id = @u AND app_id = @a AND dataset_id = @id;
                    DELETE FROM dataset_version_items WHERE user_id = @u AND app_id = @a AND dataset_id = @id;
                    """, p);
                deleted.Add(id);
            }
        }

        await s.CommitAsync();
        return deleted;
    }

    public async Task<IReadOnlyDictionary<string, bool>> AddDatasetInputsAsync(AppRef app, string datasetId, IReadOnlyList<string> inputIds, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var result = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var id in inputIds)
        {
            var p = new (string, object?)[] { ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@i", id), ("@now", now) };
            result[id] = await s.ScalarAsync("SELECT COUNT(*) FROM inputs WHERE user_id = @u AND app_id = @a AND id = @i AND deleting = 0;", p) > 0
                && await s.ExecuteAsync("INSERT INTO dataset_inputs (user_id, app_id, dataset_id, input_id, created_at) VALUES (@u, @a, @d, @i, @now) ON CONFLICT DO NOTHING;", p) == 1;
        }

        await s.CommitAsync();
        return result;
    }

    public async Task<IReadOnlyList<DatasetInputRow>> ListDatasetInputsAsync(AppRef app, string datasetId, int page, int perPage, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => new DatasetInputRow(r.GetString(0), Clock.FromMicros(r.GetInt64(1))), """
            SELECT d.input_id, d.created_at FROM dataset_inputs d JOIN inputs i ON i.user_id = d.user_id AND i.app_id = d.app_id AND i.id = d.input_id AND i.deleting = 0
            WHERE d.user_id = @u AND d.app_id = @a AND d.dataset_id = @d ORDER BY d.seq DESC LIMIT @l OFFSET @o;
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@l", perPage), ("@o", (long)(page - 1) * perPage));
    }

    public async Task<int> DeleteDatasetInputsAsync(AppRef app, string datasetId, IReadOnlyList<string> inputIds, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        foreach (var id in inputIds.Distinct(StringComparer.Ordinal))
        {
            deleted += await s.ExecuteAsync("DELETE FROM dataset_inputs WHERE user_id = @u AND app_id = @a AND dataset_id = @d AND input_id = @i;",
                ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@i", id));
        }

        await s.CommitAsync();
        return deleted;
    }

    public async Task<IReadOnlyList<string>> AddDatasetVersionsAsync(AppRef app, IReadOnlyList<DatasetVersionRow> versions, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var taken = new List<string>();
        foreach (var v in versions)
        {
            if (await s.ScalarAsync("SELECT COUNT(*) FROM dataset_versions WHERE user_id = @u AND app_id = @a AND dataset_id = @d AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@d", v.DatasetId), ("@id", v.Id)) > 0)
            {
                taken.Add(v.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        var now = Clock.NowMicros(time);
        // A racing writer (or the same id twice in the request) can still take an id: the constraint decides, and the
        // transaction rolls back so nothing is written.
        foreach (var v in versions)
        {
            if (await s.ExecuteAsync("INSERT INTO dataset_versions (user_id, app_id, dataset_id, id, body, status_code, created_at, modified_at) VALUES (@u, @a, @d, @id, @b, @s, @now, @now) ON CONFLICT (user_id, app_id, dataset_id, id) DO NOTHING;",
                ("@u", app.UserId), ("@a", app.AppId), ("@d", v.DatasetId), ("@id", v.Id), ("@b", v.Body), ("@s", v.StatusCode), ("@now", now)) == 0)
            {
                taken.Add(v.Id);
                continue;
            }

            await JobQueue.EnqueueAsync(s, JobKinds.DatasetVersion, app, v.DatasetId + "/" + v.Id, now).ConfigureAwait(false);
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        await s.CommitAsync();
        return [];
    }

    public async Task<DatasetVersionRow?> GetDatasetVersionAsync(AppRef app, string datasetId, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadVersion,
            "SELECT dataset_id, id, body, status_code, status_details, created_at, modified_at FROM dataset_versions WHERE user_id = @u AND app_id = @a AND dataset_id = @d AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@id", id));
    }

    public async Task<IReadOnlyList<DatasetVersionRow>> ListDatasetVersionsAsync(AppRef app, string datasetId, int page, int perPage, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(ReadVersion,
            "SELECT dataset_id, id, body, status_code, status_details, created_at, modified_at FROM dataset_versions WHERE user_id = @u AND app_id = @a AND dataset_id = @d ORDER BY seq DESC LIMIT @l OFFSET @o;",
            ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@l", perPage), ("@o", (long)(page - 1) * perPage));
    }

    public async Task SetDatasetVersionStateAsync(AppRef app, string datasetId, string id, int statusCode, string details, byte[]? body, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE dataset_versions SET status_code = @s, status_details = @det, body = COALESCE(@b, body), modified_at = @now WHERE user_id = @u AND app_id = @a AND dataset_id = @d AND id = @id;",
            ("@s", statusCode), ("@det", details), ("@b", body), ("@now", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@id", id));
        return;
    }

    public async Task WriteVersionSnapshotAsync(AppRef app, string datasetId, string id, IReadOnlyList<VersionItem> items, byte[] body, int statusCode, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var p = new (string, object?)[] { ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@v", id) };
        await s.ExecuteAsync("DELETE FROM dataset_version_items WHERE user_id = @u AND app_id = @a AND dataset_id = @d AND version_id = @v;", p);
        foreach (var item in items)
        {
            await s.ExecuteAsync("INSERT INTO dataset_version_items (user_id, app_id, dataset_id, version_id, input_id, input, annotations) VALUES (@u, @a, @d, @v, @i, @in, @an);",
                [.. p, ("@i", item.InputId), ("@in", item.Input), ("@an", item.Annotations)]);
        }

        await s.ExecuteAsync("UPDATE dataset_versions SET status_code = @s, status_details = '', body = @b, modified_at = @now WHERE user_id = @u AND app_id = @a AND dataset_id = @d AND id = @v;",
            [.. p, ("@s", statusCode), ("@b", body), ("@now", Clock.NowMicros(time))]);
        await s.CommitAsync();
        return;
    }

    public async Task<IReadOnlyList<VersionItem>> ReadVersionSnapshotAsync(AppRef app, string datasetId, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => new VersionItem(r.GetString(0), (byte[])r.GetValue(1), (byte[])r.GetValue(2)),
            "SELECT input_id, input, annotations FROM dataset_version_items WHERE user_id = @u AND app_id = @a AND dataset_id = @d AND version_id = @v ORDER BY input_id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@d", datasetId), ("@v", id));
    }

    private static InputRow ReadInput(DbDataReader r) => new(
        r.GetString(0), r.GetInt64(1), r.GetString(2), (byte[])r.GetValue(3), Sql.NullableString(r, 4), Sql.NullableString(r, 5), Sql.NullableString(r, 6),
        Sql.NullableString(r, 7), Sql.NullableInt(r, 8), Sql.NullableInt(r, 9), Sql.NullableString(r, 10), Sql.NullableString(r, 11), r.GetInt32(12), r.GetString(13),
        Sql.NullableString(r, 14), Clock.FromMicros(r.GetInt64(15)), Clock.FromMicros(r.GetInt64(16)));

    private static AnnotationRow ReadAnnotation(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), (byte[])r.GetValue(2), r.GetInt32(3) != 0, r.GetString(4), r.GetInt32(5), Clock.FromMicros(r.GetInt64(6)), Clock.FromMicros(r.GetInt64(7)));

    private static ConceptRow ReadConcept(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), Clock.FromMicros(r.GetInt64(3)), Clock.FromMicros(r.GetInt64(4)));

    private static DatasetRow ReadDataset(DbDataReader r) => new(r.GetString(0), (byte[])r.GetValue(1), Clock.FromMicros(r.GetInt64(2)), Clock.FromMicros(r.GetInt64(3)));

    private static DatasetVersionRow ReadVersion(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), (byte[])r.GetValue(2), r.GetInt32(3), r.GetString(4), Clock.FromMicros(r.GetInt64(5)), Clock.FromMicros(r.GetInt64(6)));
}
