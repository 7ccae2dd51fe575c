using Iris.Storage.Db;

namespace Iris.Storage.Identity;

/// <summary>
/// Schema of the identity area: users, apps, keys (personal access tokens and app-specific API keys, stored only as
/// SHA-256 hashes of their secrets) and collaborators. Times are Unix microseconds (UTC). The first step also seeds user
/// <c>clarifai</c> and its public app <c>main</c>, where the built-in models live.
/// </summary>
public sealed class IdentityMigrations : IMigrationSet
{
    public string Area => "identity";

    private static readonly Migration[] Sqlite =
    [
        new(1, "users, apps, keys, collaborators; clarifai/main", """
            CREATE TABLE identity_users (
              id TEXT PRIMARY KEY,
              first_name TEXT NOT NULL DEFAULT '',
              last_name TEXT NOT NULL DEFAULT '',
              company_name TEXT NOT NULL DEFAULT '',
              primary_email TEXT NOT NULL DEFAULT '',
              visibility INTEGER NOT NULL DEFAULT 10,
              created_at INTEGER NOT NULL
            );
            CREATE TABLE identity_apps (
              user_id TEXT NOT NULL,
              id TEXT NOT NULL,
              name TEXT NOT NULL DEFAULT '',
              description TEXT NOT NULL DEFAULT '',
              notes TEXT NOT NULL DEFAULT '',
              default_language TEXT NOT NULL DEFAULT 'en',
              default_workflow_id TEXT NOT NULL DEFAULT '',
              visibility INTEGER NOT NULL DEFAULT 10,
              is_template INTEGER NOT NULL DEFAULT 0,
              sample_ms INTEGER NOT NULL DEFAULT 0,
              metadata TEXT NOT NULL DEFAULT '',
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              deleting INTEGER NOT NULL DEFAULT 0,
              PRIMARY KEY (user_id, id)
            );
            CREATE TABLE identity_keys (
              id TEXT PRIMARY KEY,
              secret_hash BLOB NOT NULL UNIQUE,
              user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
              type TEXT NOT NULL,
              description TEXT NOT NULL DEFAULT '',
              app_id TEXT,
              scopes TEXT NOT NULL DEFAULT '',
              endpoints TEXT NOT NULL DEFAULT '',
              created_at INTEGER NOT NULL,
              expires_at INTEGER
            );
            CREATE INDEX identity_keys_by_app ON identity_keys (user_id, app_id);
            CREATE TABLE identity_collaborators (
              id TEXT NOT NULL UNIQUE,
              app_user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
              scopes TEXT NOT NULL DEFAULT '',
              endpoints TEXT NOT NULL DEFAULT '',
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              PRIMARY KEY (app_user_id, app_id, user_id)
            );
            CREATE INDEX identity_collaborators_by_user ON identity_collaborators (user_id);
            INSERT INTO identity_users (id, first_name, visibility, created_at)
              VALUES ('clarifai', 'Clarifai', 50, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
            INSERT INTO identity_apps (user_id, id, name, description, visibility, created_at, modified_at)
              VALUES ('clarifai', 'main', 'main', 'Public models and workflows built into Iris.', 50,
                      CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
            """),
        new(2, "times in microseconds, as in every other area", """
            UPDATE identity_users SET created_at = created_at * 1000;
            UPDATE identity_apps SET created_at = created_at * 1000, modified_at = modified_at * 1000;
            UPDATE identity_keys SET created_at = created_at * 1000, expires_at = expires_at * 1000;
            UPDATE identity_collaborators SET created_at = created_at * 1000, modified_at = modified_at * 1000;
            """),
        // Apps deleted before app purges became jobs were found by polling; give each its job (the inputs area, which
        // owns the job queue, migrates first: see StorageAreas).
        new(3, "purge jobs for apps marked deleting", """
            INSERT INTO work_queue (kind, user_id, app_id, target, run_after, created_at)
              SELECT 'purge_app', user_id, id, id, 0, 0 FROM identity_apps WHERE deleting = 1;
            """),
    ];

    private static readonly Migration[] Postgres =
    [
        new(1, "users, apps, keys, collaborators; clarifai/main", """
            CREATE TABLE identity_users (
              id TEXT PRIMARY KEY,
              first_name TEXT NOT NULL DEFAULT '',
              last_name TEXT NOT NULL DEFAULT '',
              company_name TEXT NOT NULL DEFAULT '',
              primary_email TEXT NOT NULL DEFAULT '',
              visibility INTEGER NOT NULL DEFAULT 10,
              created_at BIGINT NOT NULL
            );
            CREATE TABLE identity_apps (
              user_id TEXT NOT NULL,
              id TEXT NOT NULL,
              name TEXT NOT NULL DEFAULT '',
              description TEXT NOT NULL DEFAULT '',
              notes TEXT NOT NULL DEFAULT '',
              default_language TEXT NOT NULL DEFAULT 'en',
              default_workflow_id TEXT NOT NULL DEFAULT '',
              visibility INTEGER NOT NULL DEFAULT 10,
              is_template INTEGER NOT NULL DEFAULT 0,
              sample_ms BIGINT NOT NULL DEFAULT 0,
              metadata TEXT NOT NULL DEFAULT '',
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              deleting INTEGER NOT NULL DEFAULT 0,
              PRIMARY KEY (user_id, id)
            );
            CREATE TABLE identity_keys (
              id TEXT PRIMARY KEY,
              secret_hash BYTEA NOT NULL UNIQUE,
              user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
              type TEXT NOT NULL,
              description TEXT NOT NULL DEFAULT '',
              app_id TEXT,
              scopes TEXT NOT NULL DEFAULT '',
              endpoints TEXT NOT NULL DEFAULT '',
              created_at BIGINT NOT NULL,
              expires_at BIGINT
            );
            CREATE INDEX identity_keys_by_app ON identity_keys (user_id, app_id);
            CREATE TABLE identity_collaborators (
              id TEXT NOT NULL UNIQUE,
              app_user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
              scopes TEXT NOT NULL DEFAULT '',
              endpoints TEXT NOT NULL DEFAULT '',
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              PRIMARY KEY (app_user_id, app_id, user_id)
            );
            CREATE INDEX identity_collaborators_by_user ON identity_collaborators (user_id);
            INSERT INTO identity_users (id, first_name, visibility, created_at)
              VALUES ('clarifai', 'Clarifai', 50, CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT));
            INSERT INTO identity_apps (user_id, id, name, description, visibility, created_at, modified_at)
              VALUES ('clarifai', 'main', 'main', 'Public models and workflows built into Iris.', 50,
                      CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT), CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT));
            """),
    ];

    public IReadOnlyList<Migration> For(SqlDialect dialect) => dialect == SqlDialect.Postgres ? Postgres : Sqlite;
}
