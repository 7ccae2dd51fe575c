using Iris.Storage.Db;

namespace Iris.Storage.Workflows;

/// <summary>
/// Schema of the workflows area: an app's workflows, their versions (each version's graph kept as the JSON of its
/// nodes, immutable once written; a change of nodes makes a new version) and the per-input state of a reindex after the
/// app's base workflow changed. Times are unix microseconds.
/// </summary>
public sealed class WorkflowsMigrations : IMigrationSet
{
    public string Area => "workflows";

    // One text for both dialects: no type here differs between them (BIGINT is SQLite's INTEGER).
    private const string V1 = """
        CREATE TABLE workflows (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          id TEXT NOT NULL,
          description TEXT NOT NULL DEFAULT '',
          notes TEXT NOT NULL DEFAULT '',
          metadata TEXT NOT NULL DEFAULT '',
          visibility INTEGER NOT NULL DEFAULT 10,
          use_cases TEXT NOT NULL DEFAULT '',
          created_us BIGINT NOT NULL,
          modified_us BIGINT NOT NULL,
          PRIMARY KEY (user_id, app_id, id)
        );
        CREATE TABLE workflow_versions (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          workflow_id TEXT NOT NULL,
          id TEXT NOT NULL,
          seq BIGINT NOT NULL,               -- 1, 2, … per workflow; the highest is the latest version
          nodes TEXT NOT NULL,               -- JSON {"nodes":[…]} as the API writes WorkflowNode
          description TEXT NOT NULL DEFAULT '',
          license TEXT NOT NULL DEFAULT '',
          metadata TEXT NOT NULL DEFAULT '',
          visibility INTEGER NOT NULL DEFAULT 10,
          created_us BIGINT NOT NULL,
          modified_us BIGINT NOT NULL,
          PRIMARY KEY (user_id, app_id, workflow_id, id),
          UNIQUE (user_id, app_id, workflow_id, seq)
        );
        CREATE TABLE workflow_reindex (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          input_id TEXT NOT NULL,
          workflow_id TEXT NOT NULL,         -- the base workflow the input is (being) reindexed with
          status INTEGER NOT NULL,           -- 30501 pending, 30503 in progress, 30500 done, 30502 failed
          details TEXT NOT NULL DEFAULT '',
          modified_us BIGINT NOT NULL,
          PRIMARY KEY (user_id, app_id, input_id)
        );
        CREATE INDEX workflow_reindex_by_status ON workflow_reindex (user_id, app_id, status);
        """;

    private static readonly Migration[] Steps = [new(1, "workflows, versions, reindex state", V1)];

    public IReadOnlyList<Migration> For(SqlDialect dialect) => Steps;
}
