using System.Data.Common;
using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Jobs;

namespace Iris.Storage.Models;

/// <summary>The models area on either dialect: one SQL text each; ids unique by primary keys, adds checked inside the write transaction.</summary>
public sealed class SqlModelStore(Database database, TimeProvider time) : IModelStore
{
    private const string Area = "models";
    private const string VersionColumns = "model_id, id, status_code, status_details, body, train_set, head, created_at, modified_at, completed_at";
    private const string EvaluationColumns = "id, model_id, version_id, status_code, status_details, body, created_at, modified_at";
    private static readonly string[] AppTables = ["models", "model_versions", "model_evaluations"];

    /// <summary>A number that changes whenever any node may have changed the models area (for caches of resolved versions).</summary>
    public long ChangeVersion => database.ChangeVersion(Area);

    public async Task<IReadOnlyList<string>> AddModelsAsync(AppRef app, IReadOnlyList<ModelRow> models, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.LockKeysAsync(models.Select(m => ModelLock(app, m.Id))).ConfigureAwait(false);
        var taken = new List<string>();
        foreach (var model in models)
        {
            if (await s.ScalarAsync("SELECT COUNT(*) FROM models WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", model.Id)).ConfigureAwait(false) > 0)
            {
                taken.Add(model.Id);
            }
        }

        if (taken.Count > 0)
        {
            return taken;
        }

        foreach (var model in models)
        {
            await s.ExecuteAsync("INSERT INTO models (user_id, app_id, id, model_type_id, body, created_at, modified_at) VALUES (@u, @a, @id, @t, @b, @c, @m);",
                ("@u", app.UserId), ("@a", app.AppId), ("@id", model.Id), ("@t", model.TypeId), ("@b", model.Body), ("@c", model.CreatedAt), ("@m", model.ModifiedAt)).ConfigureAwait(false);
        }

        await CommitAsync(s).ConfigureAwait(false);
        return taken;
    }

    public async Task<ModelRow?> GetModelAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadModel, "SELECT id, model_type_id, body, created_at, modified_at FROM models WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ModelRow>> ListModelsAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(ReadModel, "SELECT id, model_type_id, body, created_at, modified_at FROM models WHERE user_id = @u AND app_id = @a ORDER BY id;",
            ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
    }

    public async Task<bool> UpdateModelAsync(AppRef app, string id, byte[] body, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var changed = await s.ExecuteAsync("UPDATE models SET body = @b, modified_at = @m WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@b", body), ("@m", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false) == 1;
        await CommitAsync(s).ConfigureAwait(false);
        return changed;
    }

    public async Task<RenameOutcome> RenameModelAsync(AppRef app, string from, string to, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.LockKeysAsync([ModelLock(app, from), ModelLock(app, to)]).ConfigureAwait(false);
        if (await s.ScalarAsync("SELECT COUNT(*) FROM models WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", from)).ConfigureAwait(false) == 0)
        {
            return RenameOutcome.Missing;
        }

        if (await s.ScalarAsync("SELECT COUNT(*) FROM models WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", to)).ConfigureAwait(false) > 0)
        {
            return RenameOutcome.Taken;
        }

        await s.ExecuteAsync("""
            UPDATE models SET id = @to, modified_at = @m WHERE user_id = @u AND app_id = @a AND id = @from;
            UPDATE model_versions SET model_id = @to WHERE user_id = @u AND app_id = @a AND model_id = @from;
            UPDATE model_evaluations SET model_id = @to WHERE user_id = @u AND app_id = @a AND model_id = @from;
            """, ("@to", to), ("@from", from), ("@m", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        await CommitAsync(s).ConfigureAwait(false);
        return RenameOutcome.Renamed;
    }

    public async Task<IReadOnlyList<string>> DeleteModelsAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = new List<string>();
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            if (await s.ExecuteAsync("DELETE FROM models WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false) == 1)
            {
                deleted.Add(id);
            }

            await s.ExecuteAsync("""
                DELETE FROM model_versions WHERE user_id = @u AND app_id = @a AND model_id = @id;
                DELETE FROM model_evaluations WHERE user_id = @u AND app_id = @a AND model_id = @id;
                """, ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
        }

        await CommitAsync(s).ConfigureAwait(false);
        return deleted;
    }

    public async Task<bool> AddVersionAsync(AppRef app, ModelVersionRow version, string? jobKind, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.LockKeyAsync(ModelLock(app, version.ModelId)).ConfigureAwait(false);
        if (await s.ScalarAsync("SELECT COUNT(*) FROM models WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", version.ModelId)).ConfigureAwait(false) == 0)
        {
            return false;
        }

        await s.ExecuteAsync($"""
            INSERT INTO model_versions (user_id, app_id, {VersionColumns}) VALUES (@u, @a, @model, @id, @code, @details, @body, @set, @head, @c, @m, @done);
            UPDATE models SET modified_at = @m WHERE user_id = @u AND app_id = @a AND id = @model;
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@model", version.ModelId), ("@id", version.Id), ("@code", version.StatusCode), ("@details", version.StatusDetails),
            ("@body", version.Body), ("@set", version.TrainSet), ("@head", version.Head), ("@c", version.CreatedAt), ("@m", version.ModifiedAt), ("@done", version.CompletedAt)).ConfigureAwait(false);
        if (jobKind is not null)
        {
            await JobQueue.EnqueueAsync(s, jobKind, app, version.ModelId + "/" + version.Id, Clock.NowMicros(time)).ConfigureAwait(false);
        }

        await CommitAsync(s).ConfigureAwait(false);
        return true;
    }

    public async Task<ModelVersionRow?> GetVersionAsync(AppRef app, string modelId, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadVersion, $"SELECT {VersionColumns} FROM model_versions WHERE user_id = @u AND app_id = @a AND model_id = @model AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId), ("@id", id)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ModelVersionRow>> ListVersionsAsync(AppRef app, string modelId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(ReadVersion, $"SELECT {VersionColumns} FROM model_versions WHERE user_id = @u AND app_id = @a AND model_id = @model ORDER BY created_at DESC, id DESC;",
            ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId)).ConfigureAwait(false);
    }

    public async Task<ModelVersionRow?> LatestVersionAsync(AppRef app, string modelId, int? statusCode, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadVersion, $"""
            SELECT {VersionColumns} FROM model_versions WHERE user_id = @u AND app_id = @a AND model_id = @model AND (CAST(@code AS INTEGER) IS NULL OR status_code = @code)
            ORDER BY created_at DESC, id DESC LIMIT 1;
            """, ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId), ("@code", statusCode)).ConfigureAwait(false);
    }

    public async Task<bool> UpdateVersionBodyAsync(AppRef app, string modelId, string id, byte[] body, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var changed = await s.ExecuteAsync("UPDATE model_versions SET body = @b, modified_at = @m WHERE user_id = @u AND app_id = @a AND model_id = @model AND id = @id;",
            ("@b", body), ("@m", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId), ("@id", id)).ConfigureAwait(false) == 1;
        await CommitAsync(s).ConfigureAwait(false);
        return changed;
    }

    public async Task<bool> SetVersionStatusAsync(AppRef app, string modelId, string id, int statusCode, string details, byte[]? head, bool completed,
        IReadOnlyCollection<int> finalCodes, CancellationToken cancellationToken)
    {
        var now = Clock.NowMicros(time);
        // Status codes are integers: written into the text, not user input.
        var final = string.Join(", ", finalCodes.Append(-1).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var changed = await s.ExecuteAsync($"""
            UPDATE model_versions SET status_code = @code, status_details = @details, head = COALESCE(@head, head), modified_at = @now,
              completed_at = CASE WHEN @done = 1 THEN @now ELSE completed_at END
            WHERE user_id = @u AND app_id = @a AND model_id = @model AND id = @id AND status_code NOT IN ({final});
            """,
            [("@code", statusCode), ("@details", details), ("@head", head), ("@now", now), ("@done", completed ? 1 : 0),
             ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId), ("@id", id)]).ConfigureAwait(false) == 1;
        await CommitAsync(s).ConfigureAwait(false);
        return changed;
    }

    public async Task<bool> DeleteVersionAsync(AppRef app, string modelId, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = await s.ExecuteAsync("DELETE FROM model_versions WHERE user_id = @u AND app_id = @a AND model_id = @model AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId), ("@id", id)).ConfigureAwait(false) == 1;
        await s.ExecuteAsync("DELETE FROM model_evaluations WHERE user_id = @u AND app_id = @a AND model_id = @model AND version_id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId), ("@id", id)).ConfigureAwait(false);
        await CommitAsync(s).ConfigureAwait(false);
        return deleted;
    }

    public async Task<bool> AddEvaluationAsync(AppRef app, EvaluationRow evaluation, string jobKind, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        if (await s.ScalarAsync("SELECT COUNT(*) FROM model_versions WHERE user_id = @u AND app_id = @a AND model_id = @model AND id = @v;",
                ("@u", app.UserId), ("@a", app.AppId), ("@model", evaluation.ModelId), ("@v", evaluation.VersionId)).ConfigureAwait(false) == 0)
        {
            return false;
        }

        await s.ExecuteAsync($"INSERT INTO model_evaluations (user_id, app_id, {EvaluationColumns}) VALUES (@u, @a, @id, @model, @v, @code, @details, @body, @c, @m);",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", evaluation.Id), ("@model", evaluation.ModelId), ("@v", evaluation.VersionId), ("@code", evaluation.StatusCode),
            ("@details", evaluation.StatusDetails), ("@body", evaluation.Body), ("@c", evaluation.CreatedAt), ("@m", evaluation.ModifiedAt)).ConfigureAwait(false);
        await JobQueue.EnqueueAsync(s, jobKind, app, evaluation.Id, Clock.NowMicros(time)).ConfigureAwait(false);
        await CommitAsync(s).ConfigureAwait(false);
        return true;
    }

    public async Task<EvaluationRow?> GetEvaluationAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadEvaluation, $"SELECT {EvaluationColumns} FROM model_evaluations WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<EvaluationRow>> ListEvaluationsAsync(AppRef app, string? modelId, string? versionId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(ReadEvaluation, $"""
            SELECT {EvaluationColumns} FROM model_evaluations WHERE user_id = @u AND app_id = @a
              AND (CAST(@model AS TEXT) IS NULL OR model_id = @model) AND (CAST(@v AS TEXT) IS NULL OR version_id = @v)
            ORDER BY created_at DESC, id DESC;
            """, ("@u", app.UserId), ("@a", app.AppId), ("@model", modelId), ("@v", versionId)).ConfigureAwait(false);
    }

    public async Task<bool> SetEvaluationAsync(AppRef app, string id, int statusCode, string details, byte[] body, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var changed = await s.ExecuteAsync("UPDATE model_evaluations SET status_code = @code, status_details = @details, body = @b, modified_at = @m WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@code", statusCode), ("@details", details), ("@b", body), ("@m", Clock.NowMicros(time)), ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false) == 1;
        await CommitAsync(s).ConfigureAwait(false);
        return changed;
    }

    public async Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in AppTables)
        {
            await s.ExecuteAsync($"DELETE FROM {table} WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        }

        await CommitAsync(s).ConfigureAwait(false);
    }

    public async Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in AppTables)
        {
            await s.ExecuteAsync($"UPDATE {table} SET user_id = @tu, app_id = @ta WHERE user_id = @u AND app_id = @a;",
                ("@tu", to.UserId), ("@ta", to.AppId), ("@u", from.UserId), ("@a", from.AppId)).ConfigureAwait(false);
        }

        await CommitAsync(s).ConfigureAwait(false);
    }

    // Every write notes the change, so caches of resolved versions on every node drop what they hold.
    private async Task CommitAsync(DbSession s)
    {
        await s.NoteChangeAsync(Area).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
        database.NoteLocalChange();
    }

    private static string ModelLock(AppRef app, string id) => "model:" + app.UserId + "/" + app.AppId + "/" + id;

    private static ModelRow ReadModel(DbDataReader r) => new(r.GetString(0), r.GetString(1), Sql.Bytes(r, 2), r.GetInt64(3), r.GetInt64(4));

    private static ModelVersionRow ReadVersion(DbDataReader r) => new(r.GetString(0), r.GetString(1), Sql.Int(r, 2), r.GetString(3), Sql.Bytes(r, 4),
        r.IsDBNull(5) ? null : Sql.Bytes(r, 5), r.IsDBNull(6) ? null : Sql.Bytes(r, 6), r.GetInt64(7), r.GetInt64(8), r.GetInt64(9));

    private static EvaluationRow ReadEvaluation(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), Sql.Int(r, 3), r.GetString(4), Sql.Bytes(r, 5), r.GetInt64(6), r.GetInt64(7));
}
