using Iris.Storage.Db;

namespace Iris.Storage.Inputs;

/// <summary>
/// Schema of the inputs area: inputs, their annotations, concepts, datasets and dataset versions, add-jobs and the
/// durable work queue. Every table is keyed by (user_id, app_id); times are unix microseconds (UTC). Payloads that only
/// the API edge interprets (an input's media, an annotation's data) are stored as serialized protobuf bytes.
/// </summary>
public sealed class InputsMigrations : IMigrationSet
{
    public string Area => "inputs";

    private static readonly Migration[] Sqlite =
    [
        new(1, "inputs, annotations, concepts, datasets, add-jobs, work queue", """
            CREATE TABLE inputs (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              kind TEXT NOT NULL,
              media BLOB NOT NULL,
              url TEXT,
              source_blob TEXT,
              blob_key TEXT,
              thumb_key TEXT,
              width INTEGER,
              height INTEGER,
              format TEXT,
              color_mode TEXT,
              status_code INTEGER NOT NULL,
              status_details TEXT NOT NULL DEFAULT '',
              add_job_id TEXT,
              deleting INTEGER NOT NULL DEFAULT 0,
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              UNIQUE (user_id, app_id, id)
            );
            CREATE INDEX inputs_page ON inputs (user_id, app_id, deleting, seq);
            CREATE INDEX inputs_status ON inputs (user_id, app_id, deleting, status_code);
            CREATE INDEX inputs_url ON inputs (user_id, app_id, url);
            CREATE INDEX inputs_job ON inputs (user_id, app_id, add_job_id);
            CREATE INDEX inputs_source_blob ON inputs (source_blob);
            CREATE INDEX inputs_blob ON inputs (blob_key);
            CREATE INDEX inputs_thumb ON inputs (thumb_key);

            CREATE TABLE annotations (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              data BLOB NOT NULL,
              input_level INTEGER NOT NULL,
              author TEXT NOT NULL,
              status_code INTEGER NOT NULL,
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              UNIQUE (user_id, app_id, id)
            );
            CREATE INDEX annotations_input ON annotations (user_id, app_id, input_id);

            CREATE TABLE annotation_concepts (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              annotation_id TEXT NOT NULL,
              concept_id TEXT NOT NULL,
              value REAL NOT NULL,
              PRIMARY KEY (user_id, app_id, annotation_id, concept_id)
            );
            CREATE INDEX annotation_concepts_concept ON annotation_concepts (user_id, app_id, concept_id);

            CREATE TABLE concepts (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              name TEXT NOT NULL,
              language TEXT NOT NULL DEFAULT '',
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              PRIMARY KEY (user_id, app_id, id)
            );

            CREATE TABLE datasets (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              body BLOB NOT NULL,
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              UNIQUE (user_id, app_id, id)
            );

            CREATE TABLE dataset_inputs (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              dataset_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              created_at INTEGER NOT NULL,
              UNIQUE (user_id, app_id, dataset_id, input_id)
            );
            CREATE INDEX dataset_inputs_input ON dataset_inputs (user_id, app_id, input_id);

            CREATE TABLE dataset_versions (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              dataset_id TEXT NOT NULL,
              id TEXT NOT NULL,
              body BLOB NOT NULL,
              status_code INTEGER NOT NULL,
              status_details TEXT NOT NULL DEFAULT '',
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              UNIQUE (user_id, app_id, dataset_id, id)
            );

            CREATE TABLE dataset_version_items (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              dataset_id TEXT NOT NULL,
              version_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              input BLOB NOT NULL,
              annotations BLOB NOT NULL,
              PRIMARY KEY (user_id, app_id, dataset_id, version_id, input_id)
            );

            CREATE TABLE inputs_add_jobs (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              cancelled INTEGER NOT NULL DEFAULT 0,
              created_at INTEGER NOT NULL,
              modified_at INTEGER NOT NULL,
              UNIQUE (user_id, app_id, id)
            );

            CREATE TABLE work_queue (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              kind TEXT NOT NULL,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              target TEXT NOT NULL,
              attempts INTEGER NOT NULL DEFAULT 0,
              run_after INTEGER NOT NULL,
              lease_owner TEXT,
              lease_until INTEGER NOT NULL DEFAULT 0,
              last_error TEXT,
              created_at INTEGER NOT NULL
            );
            CREATE INDEX work_queue_ready ON work_queue (run_after, lease_until);
            CREATE INDEX work_queue_target ON work_queue (user_id, app_id, kind, target);
            """),
        new(2, "jobs: payload, progress, claims by kind", """
            ALTER TABLE work_queue ADD COLUMN payload TEXT;
            ALTER TABLE work_queue ADD COLUMN progress TEXT;
            DROP INDEX work_queue_ready;
            CREATE INDEX work_queue_ready ON work_queue (kind, run_after, lease_until);
            """),
        // Fair claims (JobQueue.ClaimAsync) walk the apps with queued jobs and seek each one's oldest ready job and leases.
        new(3, "jobs: fair claims between apps", """
            CREATE INDEX work_queue_app ON work_queue (kind, user_id, app_id, id);
            CREATE INDEX work_queue_app_leases ON work_queue (kind, user_id, app_id, lease_until);
            DROP INDEX work_queue_ready;
            """),
        new(4, QueryableTitle, QueryableSql("REAL")),
        new(5, BackfillTitle, BackfillSql),
        new(6, SearchIndexesTitle, SearchIndexesSql),
        new(7, LabelInputsTitle, LabelInputsSql),
    ];

    // Search filters (SqlSearchStore) read the inputs of an app's matching annotations as one uncorrelated set. A label
    // filter walks a concept's rows in annotation_concepts: covering them (value, annotation id) spares a table read per
    // row, and the new index serves every query the one it replaces served (its leading columns). An annotation-field
    // filter (user_id, status, input_level) reads annotations by author and status, and gets the input ids from the index.
    private const string SearchIndexesTitle = "search: covering indexes for label and annotation-field filters";

    private const string SearchIndexesSql = """
        CREATE INDEX annotation_concepts_search ON annotation_concepts (user_id, app_id, concept_id, value, annotation_id);
        DROP INDEX annotation_concepts_concept;
        CREATE INDEX annotations_search ON annotations (user_id, app_id, author, status_code, input_level, input_id);
        """;

    // A label filter read each matching concept row, then its annotation for the input id, then the input: about six
    // B-tree probes per matching input, 14 ms for 2,000 inputs uncached (docs/benchmarks.md "Filtered search end to end").
    // Each concept row now carries its annotation's input id, written with it, so the filter reads the input ids from one
    // range of the covering index. Rows written before this step take their annotation's (an orphan row, none: '').
    private const string LabelInputsTitle = "search: the input id on each annotation concept row, for label filters read from one index range";

    private const string LabelInputsSql = """
        ALTER TABLE annotation_concepts ADD COLUMN input_id TEXT NOT NULL DEFAULT '';
        UPDATE annotation_concepts SET input_id = COALESCE((SELECT an.input_id FROM annotations an
          WHERE an.user_id = annotation_concepts.user_id AND an.app_id = annotation_concepts.app_id AND an.id = annotation_concepts.annotation_id), '');
        CREATE INDEX annotation_concepts_inputs ON annotation_concepts (user_id, app_id, concept_id, value, input_id);
        DROP INDEX annotation_concepts_search;
        """;

    // Search filters on metadata and geo (CLARIFAI_FACTS.md 7.1) read these columns, written with every annotation. Rows
    // written before this step keep NULL: their metadata and geo are only in the serialized data until rewritten.
    private const string QueryableTitle = "annotations: queryable metadata (JSON) and geo point columns for search";

    private static string QueryableSql(string real) => $"""
        ALTER TABLE annotations ADD COLUMN metadata_json TEXT;
        ALTER TABLE annotations ADD COLUMN geo_lon {real};
        ALTER TABLE annotations ADD COLUMN geo_lat {real};
        CREATE INDEX annotations_geo ON annotations (user_id, app_id, geo_lat);
        """;

    // The queryable columns are derived from the serialized data, which SQL cannot read: rows written before step 4 (NULL
    // columns) are flagged here and filled by the queryable_backfill job (JobKinds.QueryableBackfill) with the mapping the
    // writer uses. New rows are written with their columns and the flag 0; a writer that rewrites an annotation clears the
    // flag, so a backfill holding an older copy of the data never overwrites it. Jobs that concern the whole cluster
    // rather than one app (user and app ids empty) exist at most once per kind and target, however many nodes queue them.
    private const string BackfillTitle = "annotations: queryable columns pending for rows written before them; cluster jobs queued once";

    private const string BackfillSql = """
        ALTER TABLE annotations ADD COLUMN queryable_pending INTEGER NOT NULL DEFAULT 0;
        UPDATE annotations SET queryable_pending = 1 WHERE length(data) > 0;
        CREATE INDEX annotations_queryable_pending ON annotations (seq) WHERE queryable_pending = 1;
        CREATE UNIQUE INDEX work_queue_cluster ON work_queue (kind, target) WHERE user_id = '';
        """;

    // PostgreSQL starts from the current schema: 64-bit times and sequences, BYTEA payloads.
    private static readonly Migration[] Postgres =
    [
        new(1, "inputs, annotations, concepts, datasets, add-jobs, work queue; jobs with payload and progress", """
            CREATE TABLE inputs (
              seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              kind TEXT NOT NULL,
              media BYTEA NOT NULL,
              url TEXT,
              source_blob TEXT,
              blob_key TEXT,
              thumb_key TEXT,
              width INTEGER,
              height INTEGER,
              format TEXT,
              color_mode TEXT,
              status_code INTEGER NOT NULL,
              status_details TEXT NOT NULL DEFAULT '',
              add_job_id TEXT,
              deleting INTEGER NOT NULL DEFAULT 0,
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              UNIQUE (user_id, app_id, id)
            );
            CREATE INDEX inputs_page ON inputs (user_id, app_id, deleting, seq);
            CREATE INDEX inputs_status ON inputs (user_id, app_id, deleting, status_code);
            CREATE INDEX inputs_url ON inputs (user_id, app_id, url);
            CREATE INDEX inputs_job ON inputs (user_id, app_id, add_job_id);
            CREATE INDEX inputs_source_blob ON inputs (source_blob);
            CREATE INDEX inputs_blob ON inputs (blob_key);
            CREATE INDEX inputs_thumb ON inputs (thumb_key);

            CREATE TABLE annotations (
              seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              data BYTEA NOT NULL,
              input_level INTEGER NOT NULL,
              author TEXT NOT NULL,
              status_code INTEGER NOT NULL,
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              UNIQUE (user_id, app_id, id)
            );
            CREATE INDEX annotations_input ON annotations (user_id, app_id, input_id);

            CREATE TABLE annotation_concepts (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              annotation_id TEXT NOT NULL,
              concept_id TEXT NOT NULL,
              value DOUBLE PRECISION NOT NULL,
              PRIMARY KEY (user_id, app_id, annotation_id, concept_id)
            );
            CREATE INDEX annotation_concepts_concept ON annotation_concepts (user_id, app_id, concept_id);

            CREATE TABLE concepts (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              name TEXT NOT NULL,
              language TEXT NOT NULL DEFAULT '',
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              PRIMARY KEY (user_id, app_id, id)
            );

            CREATE TABLE datasets (
              seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              body BYTEA NOT NULL,
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              UNIQUE (user_id, app_id, id)
            );

            CREATE TABLE dataset_inputs (
              seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              dataset_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              created_at BIGINT NOT NULL,
              UNIQUE (user_id, app_id, dataset_id, input_id)
            );
            CREATE INDEX dataset_inputs_input ON dataset_inputs (user_id, app_id, input_id);

            CREATE TABLE dataset_versions (
              seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              dataset_id TEXT NOT NULL,
              id TEXT NOT NULL,
              body BYTEA NOT NULL,
              status_code INTEGER NOT NULL,
              status_details TEXT NOT NULL DEFAULT '',
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              UNIQUE (user_id, app_id, dataset_id, id)
            );

            CREATE TABLE dataset_version_items (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              dataset_id TEXT NOT NULL,
              version_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              input BYTEA NOT NULL,
              annotations BYTEA NOT NULL,
              PRIMARY KEY (user_id, app_id, dataset_id, version_id, input_id)
            );

            CREATE TABLE inputs_add_jobs (
              seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              cancelled INTEGER NOT NULL DEFAULT 0,
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              UNIQUE (user_id, app_id, id)
            );

            CREATE TABLE work_queue (
              id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
              kind TEXT NOT NULL,
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              target TEXT NOT NULL,
              attempts INTEGER NOT NULL DEFAULT 0,
              run_after BIGINT NOT NULL,
              lease_owner TEXT,
              lease_until BIGINT NOT NULL DEFAULT 0,
              last_error TEXT,
              payload TEXT,
              progress TEXT,
              created_at BIGINT NOT NULL
            );
            CREATE INDEX work_queue_ready ON work_queue (kind, run_after, lease_until);
            CREATE INDEX work_queue_target ON work_queue (user_id, app_id, kind, target);
            """),
        new(2, "jobs: fair claims between apps", """
            CREATE INDEX work_queue_app ON work_queue (kind, user_id, app_id, id);
            CREATE INDEX work_queue_app_leases ON work_queue (kind, user_id, app_id, lease_until);
            DROP INDEX work_queue_ready;
            """),
        new(3, QueryableTitle, QueryableSql("DOUBLE PRECISION")),
        new(4, BackfillTitle, BackfillSql),
        new(5, SearchIndexesTitle, SearchIndexesSql),
        new(6, LabelInputsTitle, LabelInputsSql),
    ];

    public IReadOnlyList<Migration> For(SqlDialect dialect) => dialect == SqlDialect.Postgres ? Postgres : Sqlite;
}
