using System.Data.Common;
using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Jobs;

namespace Iris.Storage.Workflows;

/// <summary>The workflow store on either dialect: one SQL text each, uniqueness by primary keys.</summary>
public sealed class SqlWorkflowStore(Database database) : IWorkflowStore
{
    private const string WorkflowColumns = "w.user_id, w.app_id, w.id, w.description, w.notes, w.metadata, w.visibility, w.use_cases, w.created_us, w.modified_us";
    private const string VersionColumns = "v.workflow_id, v.id, v.seq, v.nodes, v.description, v.license, v.metadata, v.visibility, v.created_us, v.modified_us";

    // The latest version of each workflow: the one no other version of it outranks.
    private const string LatestJoin = """
        JOIN workflow_versions v ON v.user_id = w.user_id AND v.app_id = w.app_id AND v.workflow_id = w.id
          AND v.seq = (SELECT MAX(x.seq) FROM workflow_versions x WHERE x.user_id = w.user_id AND x.app_id = w.app_id AND x.workflow_id = w.id)
        """;

    private static readonly string[] Tables = ["workflows", "workflow_versions", "workflow_reindex"];

    public async Task<string?> CreateAsync(IReadOnlyList<StoredWorkflow> workflows, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (w, v) in workflows)
        {
            var inserted = await s.ExecuteAsync("""
                INSERT INTO workflows (user_id, app_id, id, description, notes, metadata, visibility, use_cases, created_us, modified_us)
                VALUES (@u, @a, @id, @description, @notes, @metadata, @visibility, @useCases, @created, @modified)
                ON CONFLICT (user_id, app_id, id) DO NOTHING;
                """, WorkflowParameters(w)).ConfigureAwait(false);
            if (inserted == 0)
            {
                return w.Id;
            }

            await InsertVersionAsync(s, w.App, v with { Seq = 1 }).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
        return null;
    }

    public async Task<StoredWorkflow?> FindAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(ReadStored, $"SELECT {WorkflowColumns}, {VersionColumns} FROM workflows w {LatestJoin} WHERE w.user_id = @u AND w.app_id = @a AND w.id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<StoredWorkflow>> ListAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(ReadStored, $"SELECT {WorkflowColumns}, {VersionColumns} FROM workflows w {LatestJoin} WHERE w.user_id = @u AND w.app_id = @a ORDER BY w.id;",
            ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
    }

    public async Task<bool> UpdateAsync(WorkflowRecord workflow, WorkflowVersionRecord? newVersion, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var updated = await s.ExecuteAsync("""
            UPDATE workflows SET description = @description, notes = @notes, metadata = @metadata, visibility = @visibility, use_cases = @useCases,
              modified_us = @modified
            WHERE user_id = @u AND app_id = @a AND id = @id;
            """, WorkflowParameters(workflow)).ConfigureAwait(false);
        if (updated == 0)
        {
            return false;
        }

        if (newVersion is not null)
        {
            // The (workflow, seq) unique key makes a racing writer fail rather than both becoming "latest".
            var seq = await s.ScalarAsync("SELECT COALESCE(MAX(seq), 0) FROM workflow_versions WHERE user_id = @u AND app_id = @a AND workflow_id = @w;",
                ("@u", workflow.App.UserId), ("@a", workflow.App.AppId), ("@w", workflow.Id)).ConfigureAwait(false);
            await InsertVersionAsync(s, workflow.App, newVersion with { Seq = seq + 1 }).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
        return true;
    }

    public async Task<bool> RenameAsync(AppRef app, string from, string to, long nowUs, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var taken = await s.ScalarAsync("SELECT COUNT(*) FROM workflows WHERE user_id = @u AND app_id = @a AND id = @to;", ("@u", app.UserId), ("@a", app.AppId), ("@to", to)).ConfigureAwait(false);
        if (taken > 0)
        {
            return false;
        }

        try
        {
            var moved = await s.ExecuteAsync("UPDATE workflows SET id = @to, modified_us = @now WHERE user_id = @u AND app_id = @a AND id = @from;",
                ("@u", app.UserId), ("@a", app.AppId), ("@from", from), ("@to", to), ("@now", nowUs)).ConfigureAwait(false);
            if (moved == 0)
            {
                return false;
            }

            await s.ExecuteAsync("UPDATE workflow_versions SET workflow_id = @to WHERE user_id = @u AND app_id = @a AND workflow_id = @from;",
                ("@u", app.UserId), ("@a", app.AppId), ("@from", from), ("@to", to)).ConfigureAwait(false);
            await s.CommitAsync().ConfigureAwait(false);
            return true;
        }
        catch (DbException e) when (database.IsUniqueViolation(e))
        {
            // A racing creator took the new id between the check and the update.
            return false;
        }
    }

    public async Task<IReadOnlyList<string>> DeleteAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = new List<string>();
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            var n = await s.ExecuteAsync("DELETE FROM workflows WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
            await s.ExecuteAsync("DELETE FROM workflow_versions WHERE user_id = @u AND app_id = @a AND workflow_id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
            if (n > 0)
            {
                deleted.Add(id);
            }
        }

        await s.CommitAsync().ConfigureAwait(false);
        return deleted;
    }

    public async Task<IReadOnlyList<WorkflowVersionRecord>> ListVersionsAsync(AppRef app, string workflowId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => ReadVersion(r, 0), $"SELECT {VersionColumns} FROM workflow_versions v WHERE v.user_id = @u AND v.app_id = @a AND v.workflow_id = @w ORDER BY v.seq DESC;",
            ("@u", app.UserId), ("@a", app.AppId), ("@w", workflowId)).ConfigureAwait(false);
    }

    public async Task<WorkflowVersionRecord?> FindVersionAsync(AppRef app, string workflowId, string versionId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(r => ReadVersion(r, 0), $"SELECT {VersionColumns} FROM workflow_versions v WHERE v.user_id = @u AND v.app_id = @a AND v.workflow_id = @w AND v.id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@w", workflowId), ("@id", versionId)).ConfigureAwait(false);
    }

    public async Task<bool> UpdateVersionAsync(AppRef app, WorkflowVersionRecord version, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.ExecuteAsync("""
            UPDATE workflow_versions SET description = @description, license = @license, metadata = @metadata, visibility = @visibility, modified_us = @modified
            WHERE user_id = @u AND app_id = @a AND workflow_id = @w AND id = @id;
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@w", version.WorkflowId), ("@id", version.Id), ("@description", version.Description), ("@license", version.License),
            ("@metadata", version.MetadataJson), ("@visibility", version.Visibility), ("@modified", version.ModifiedUs)).ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlyList<string>> DeleteVersionsAsync(AppRef app, string workflowId, IReadOnlyList<string> versionIds, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = new List<string>();
        foreach (var id in versionIds.Distinct(StringComparer.Ordinal))
        {
            if (await s.ExecuteAsync("DELETE FROM workflow_versions WHERE user_id = @u AND app_id = @a AND workflow_id = @w AND id = @id;",
                    ("@u", app.UserId), ("@a", app.AppId), ("@w", workflowId), ("@id", id)).ConfigureAwait(false) > 0)
            {
                deleted.Add(id);
            }
        }

        // A workflow never loses its last version (the caller checks; this guards a race with another delete).
        if (await s.ScalarAsync("SELECT COUNT(*) FROM workflow_versions WHERE user_id = @u AND app_id = @a AND workflow_id = @w;",
                ("@u", app.UserId), ("@a", app.AppId), ("@w", workflowId)).ConfigureAwait(false) == 0)
        {
            return [];
        }

        await s.CommitAsync().ConfigureAwait(false);
        return deleted;
    }

    public async Task QueueReindexAppAsync(AppRef app, string workflowId, long nowUs, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await JobQueue.EnqueueAsync(s, WorkflowJobKinds.ReindexApp, app, workflowId, nowUs).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task QueueReindexInputsAsync(AppRef app, string workflowId, IReadOnlyList<string> inputIds, long nowUs, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var inputId in inputIds)
        {
            await s.ExecuteAsync("""
                INSERT INTO workflow_reindex (user_id, app_id, input_id, workflow_id, status, details, modified_us) VALUES (@u, @a, @i, @w, @status, '', @now)
                ON CONFLICT (user_id, app_id, input_id) DO UPDATE SET workflow_id = @w, status = @status, details = '', modified_us = @now;
                """, ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId), ("@w", workflowId), ("@status", ReindexStates.Pending), ("@now", nowUs)).ConfigureAwait(false);
            await JobQueue.EnqueueAsync(s, WorkflowJobKinds.ReindexInput, app, inputId, nowUs, workflowId).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task SetReindexStateAsync(AppRef app, string inputId, int status, string details, long nowUs, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE workflow_reindex SET status = @status, details = @details, modified_us = @now WHERE user_id = @u AND app_id = @a AND input_id = @i;",
            ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId), ("@status", status), ("@details", details), ("@now", nowUs)).ConfigureAwait(false);
    }

    public async Task<ReindexCounts> CountReindexAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var rows = await s.QueryAsync(r => (Sql.Int(r, 0), r.GetInt64(1)),
            "SELECT status, COUNT(*) FROM workflow_reindex WHERE user_id = @u AND app_id = @a GROUP BY status;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        long Of(int status) => rows.Where(r => r.Item1 == status).Sum(r => r.Item2);
        return new ReindexCounts(Of(ReindexStates.Success), Of(ReindexStates.Pending), Of(ReindexStates.Failed), Of(ReindexStates.InProgress));
    }

    public async Task ForgetReindexAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var inputId in inputIds)
        {
            await s.ExecuteAsync("DELETE FROM workflow_reindex WHERE user_id = @u AND app_id = @a AND input_id = @i;", ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in Tables)
        {
            await s.ExecuteAsync($"DELETE FROM {table} WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in Tables)
        {
            await s.ExecuteAsync($"UPDATE {table} SET user_id = @tu, app_id = @ta WHERE user_id = @u AND app_id = @a;",
                ("@tu", to.UserId), ("@ta", to.AppId), ("@u", from.UserId), ("@a", from.AppId)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    private static Task InsertVersionAsync(DbSession s, AppRef app, WorkflowVersionRecord v) => s.ExecuteAsync("""
        INSERT INTO workflow_versions (user_id, app_id, workflow_id, id, seq, nodes, description, license, metadata, visibility, created_us, modified_us)
        VALUES (@u, @a, @w, @id, @seq, @nodes, @description, @license, @metadata, @visibility, @created, @modified);
        """,
        ("@u", app.UserId), ("@a", app.AppId), ("@w", v.WorkflowId), ("@id", v.Id), ("@seq", v.Seq), ("@nodes", v.NodesJson), ("@description", v.Description),
        ("@license", v.License), ("@metadata", v.MetadataJson), ("@visibility", v.Visibility), ("@created", v.CreatedUs), ("@modified", v.ModifiedUs));

    private static (string, object?)[] WorkflowParameters(WorkflowRecord w) =>
    [
        ("@u", w.App.UserId), ("@a", w.App.AppId), ("@id", w.Id), ("@description", w.Description), ("@notes", w.Notes), ("@metadata", w.MetadataJson),
        ("@visibility", w.Visibility), ("@useCases", string.Join('\n', w.UseCases)), ("@created", w.CreatedUs), ("@modified", w.ModifiedUs),
    ];

    private static StoredWorkflow ReadStored(DbDataReader r) => new(
        new WorkflowRecord(new AppRef(r.GetString(0), r.GetString(1)), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), Sql.Int(r, 6),
            r.GetString(7).Split('\n', StringSplitOptions.RemoveEmptyEntries), r.GetInt64(8), r.GetInt64(9)),
        ReadVersion(r, 10));

    private static WorkflowVersionRecord ReadVersion(DbDataReader r, int o) => new(
        r.GetString(o), r.GetString(o + 1), r.GetInt64(o + 2), r.GetString(o + 3), r.GetString(o + 4), r.GetString(o + 5), r.GetString(o + 6), Sql.Int(r, o + 7),
        r.GetInt64(o + 8), r.GetInt64(o + 9));
}
