using Iris.Storage.Db;

namespace Iris.Storage.Models;

/// <summary>
/// Schema of the models area: users' models, their versions (status, the training set frozen when the version was
/// created, the trained head) and evaluations. Every table is keyed by (user_id, app_id); times are unix microseconds.
/// The model and version fields only the API edge interprets are serialized protobuf bytes (<c>body</c>).
/// </summary>
public sealed class ModelsMigrations : IMigrationSet
{
    public string Area => "models";

    private static string Schema(string blob) => $"""
        CREATE TABLE models (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          id TEXT NOT NULL,
          model_type_id TEXT NOT NULL,
          body {blob} NOT NULL,
          created_at BIGINT NOT NULL,
          modified_at BIGINT NOT NULL,
          PRIMARY KEY (user_id, app_id, id)
        );
        CREATE TABLE model_versions (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          model_id TEXT NOT NULL,
          id TEXT NOT NULL,
          status_code INTEGER NOT NULL,
          status_details TEXT NOT NULL DEFAULT '',
          body {blob} NOT NULL,
          train_set {blob},                -- labels frozen at creation (ModelVersionRow.TrainSet)
          head {blob},                     -- the trained classifier (Iris.Inference.Training.ClassifierHead)
          created_at BIGINT NOT NULL,
          modified_at BIGINT NOT NULL,
          completed_at BIGINT NOT NULL DEFAULT 0,
          PRIMARY KEY (user_id, app_id, model_id, id)
        );
        CREATE INDEX model_versions_by_time ON model_versions (user_id, app_id, model_id, created_at);
        CREATE TABLE model_evaluations (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          model_id TEXT NOT NULL,
          version_id TEXT NOT NULL,
          id TEXT NOT NULL,
          status_code INTEGER NOT NULL,
          status_details TEXT NOT NULL DEFAULT '',
          body {blob} NOT NULL,
          created_at BIGINT NOT NULL,
          modified_at BIGINT NOT NULL,
          PRIMARY KEY (user_id, app_id, id)
        );
        CREATE INDEX model_evaluations_by_version ON model_evaluations (user_id, app_id, model_id, version_id, created_at);
        """;

    private static readonly Migration[] Sqlite = [new(1, "models, versions, evaluations", Schema("BLOB"))];

    private static readonly Migration[] Postgres = [new(1, "models, versions, evaluations", Schema("BYTEA"))];

    public IReadOnlyList<Migration> For(SqlDialect dialect) => dialect == SqlDialect.Postgres ? Postgres : Sqlite;
}
