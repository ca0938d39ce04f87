//! The schema this build expects, as one declarative table: every table the
//! code reads or writes, with each column's type and nullability, how the
//! partitioned tables are partitioned, the CHECKs, the primary keys and
//! unique indexes (reruns and upserts rely on them), the registry's NOTIFY
//! triggers and the functions the SQL of this workspace calls.
//!
//! [`check_schema`](crate::check_schema) compares a live database with it.
//! It is written by hand from the migrations, and `tests/schema.rs` holds
//! the two together in both directions: a freshly migrated database passes
//! the check, and everything the migrations create (every table, column,
//! CHECK, unique index, trigger and function in schema `kcg`) is declared
//! here. A migration that changes the schema changes this table in the same
//! commit, or that test names what is missing.

/// How a range-partitioned table is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One partition per UTC calendar month.
    Month,
    /// One partition per UTC day.
    Day,
}

impl Period {
    /// `"monthly"`, `"daily"`, for messages.
    pub fn adjective(self) -> &'static str {
        match self {
            Period::Month => "monthly",
            Period::Day => "daily",
        }
    }
}

/// One column: its name, its type as PostgreSQL's `format_type` prints it
/// (`character varying(64)`, `timestamp with time zone`, ...) and whether it
/// is `NOT NULL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column's name.
    pub name: &'static str,
    /// `format_type(atttypid, atttypmod)`.
    pub ty: &'static str,
    /// `NOT NULL`: the code reads it without expecting NULL (or writes
    /// NULL into it, when false).
    pub not_null: bool,
}

/// What a CHECK constraint must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `column IN (...)` with exactly these values: one value more lets in
    /// rows the code cannot read.
    In(&'static [&'static str]),
    /// An expression over the constraint's columns whose definition (as
    /// `pg_get_constraintdef` prints it) contains this text.
    Expr(&'static str),
}

/// A CHECK constraint. It is found by what it does (the table, exactly
/// these columns, the rule), not by its name, which is only for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Its name in the migrations.
    pub name: &'static str,
    /// The columns it constrains.
    pub columns: &'static [&'static str],
    /// What it must say.
    pub rule: Rule,
    /// It may be `NOT VALID` (new rows are checked, old rows of an earlier
    /// build may break it): true for the name rules of the per-cycle
    /// records (V052). A NOT VALID constraint is reported as a note, never
    /// a mismatch.
    pub may_be_not_valid: bool,
}

/// A primary key or unique index: a rerun replaces its rows by it, an
/// upsert names it in `ON CONFLICT`, or the registry's rules rest on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Its name in the migrations.
    pub name: &'static str,
    /// The indexed columns, in order.
    pub columns: &'static [&'static str],
    /// It is the table's primary key.
    pub primary: bool,
    /// A partial index: the quoted literals of its `WHERE` clause (e.g.
    /// `status = 'OPEN'` is `["OPEN"]`). `None`: not partial.
    pub predicate: Option<&'static [&'static str]>,
}

/// One table of schema `kcg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// The name, without the schema.
    pub name: &'static str,
    /// Its columns (extra columns in the database are fine, unless `NOT
    /// NULL` without a default: this build's inserts would fail).
    pub columns: &'static [Column],
    /// `PARTITION BY RANGE (column)` with a DEFAULT partition and
    /// partitions of one period each, or `None`: a plain table.
    pub partitioned: Option<(&'static str, Period)>,
    /// Its CHECK constraints.
    pub checks: &'static [Check],
    /// Its primary key and unique indexes.
    pub keys: &'static [Key],
    /// Triggers that must exist and be enabled.
    pub triggers: &'static [&'static str],
}

impl Table {
    /// `kcg.<name>`.
    pub fn qualified(&self) -> String {
        format!("kcg.{}", self.name)
    }
}

const fn col(name: &'static str, ty: &'static str) -> Column {
    Column {
        name,
        ty,
        not_null: true,
    }
}

const fn null(name: &'static str, ty: &'static str) -> Column {
    Column {
        name,
        ty,
        not_null: false,
    }
}

const fn pk(name: &'static str, columns: &'static [&'static str]) -> Key {
    Key {
        name,
        columns,
        primary: true,
        predicate: None,
    }
}

const fn unique(name: &'static str, columns: &'static [&'static str]) -> Key {
    Key {
        name,
        columns,
        primary: false,
        predicate: None,
    }
}

const fn values(
    name: &'static str,
    columns: &'static [&'static str],
    values: &'static [&'static str],
) -> Check {
    Check {
        name,
        columns,
        rule: Rule::In(values),
        may_be_not_valid: false,
    }
}

const fn expr(name: &'static str, columns: &'static [&'static str], text: &'static str) -> Check {
    Check {
        name,
        columns,
        rule: Rule::Expr(text),
        may_be_not_valid: false,
    }
}

/// V052: `CHECK (kcg.is_valid_name(column))`.
const fn name_rule(name: &'static str, columns: &'static [&'static str]) -> Check {
    expr(name, columns, "is_valid_name(")
}

/// V052 on a per-cycle record: may be NOT VALID.
const fn history_name_rule(name: &'static str, columns: &'static [&'static str]) -> Check {
    Check {
        may_be_not_valid: true,
        ..name_rule(name, columns)
    }
}

const TSTZ: &str = "timestamp with time zone";
const ID: &str = "character varying(64)";
const ROLES: &[&str] = &["PRIMARY", "SHADOW", "CHALLENGER"];
const SEVERITIES: &[&str] = &["LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Every table the code reads or writes, in migration order.
pub const TABLES: &[Table] = &[
    Table {
        name: "ais_ingested_files",
        columns: &[
            col("id", "bigint"),
            col("sha256", "character(64)"),
            col("file_name", "text"),
            col("rows_read", "bigint"),
            col("rows_loaded", "bigint"),
            col("rows_skipped", "bigint"),
            col("ingested_at", TSTZ),
            col("rows_duplicate", "bigint"),
        ],
        partitioned: None,
        checks: &[expr(
            "ais_ingested_files_counts_add_up",
            &["rows_read", "rows_loaded", "rows_skipped", "rows_duplicate"],
            "rows_read = ",
        )],
        keys: &[
            pk("ais_ingested_files_pkey", &["id"]),
            unique("ais_ingested_files_sha256_key", &["sha256"]),
        ],
        triggers: &[],
    },
    Table {
        name: "ais_positions",
        columns: &[
            col("mmsi", "bigint"),
            col("ts", TSTZ),
            col("lat", "double precision"),
            col("lon", "double precision"),
            null("sog", "real"),
            null("cog", "real"),
            null("heading", "real"),
            null("vessel_name", "text"),
            null("imo", "text"),
            null("call_sign", "text"),
            null("vessel_type", "integer"),
            null("status", "integer"),
            null("length", "real"),
            null("width", "real"),
            null("draft", "real"),
            null("cargo", "integer"),
            null("transceiver_class", "text"),
            col("source_file_id", "bigint"),
        ],
        partitioned: Some(("ts", Period::Day)),
        checks: &[],
        keys: &[],
        triggers: &[],
    },
    Table {
        name: "vessel_analysis",
        columns: &[
            col("cycle_ts", TSTZ),
            col("mmsi", "bigint"),
            col("spoofing_score", "real"),
            col("fixes", "integer"),
            null("max_speed_kn", "double precision"),
            null("max_jump_km", "double precision"),
            col("identity_valid", "boolean"),
            null("vessel_name", "text"),
            null("details", "jsonb"),
        ],
        partitioned: None,
        checks: &[],
        keys: &[pk("vessel_analysis_pkey", &["cycle_ts", "mmsi"])],
        triggers: &[],
    },
    Table {
        name: "gear_identity_collisions",
        columns: &[
            col("id", "bigint"),
            col("mmsi", "bigint"),
            col("first_seen", TSTZ),
            col("last_seen", TSTZ),
            col("severity", "character varying(16)"),
            col("status", "character varying(16)"),
            col("max_distance_km", "double precision"),
            col("occurrences", "integer"),
            null("resolved_at", TSTZ),
            col("details", "jsonb"),
        ],
        partitioned: None,
        checks: &[
            values(
                "gear_identity_collisions_severity_check",
                &["severity"],
                SEVERITIES,
            ),
            values(
                "gear_identity_collisions_status_check",
                &["status"],
                &["OPEN", "RESOLVED"],
            ),
        ],
        keys: &[
            pk("gear_identity_collisions_pkey", &["id"]),
            Key {
                name: "gear_identity_collisions_one_open",
                columns: &["mmsi"],
                primary: false,
                predicate: Some(&["OPEN"]),
            },
        ],
        triggers: &[],
    },
    Table {
        name: "prediction_events",
        columns: &[
            col("id", "bigint"),
            col("cycle_ts", TSTZ),
            col("event_ts", TSTZ),
            col("category", "character varying(32)"),
            null("mmsi", "bigint"),
            col("severity", "character varying(16)"),
            col("details", "jsonb"),
            null("last_cycle_ts", TSTZ),
            null("last_seen", TSTZ),
            col("occurrences", "integer"),
            null("worst_value", "double precision"),
        ],
        partitioned: None,
        checks: &[values(
            "prediction_events_severity_check",
            &["severity"],
            SEVERITIES,
        )],
        keys: &[pk("prediction_events_pkey", &["id"])],
        triggers: &[],
    },
    Table {
        name: "prediction_stats_hourly",
        columns: &[
            col("hour", TSTZ),
            col("category", "character varying(32)"),
            col("event_count", "bigint"),
            col("updated_at", TSTZ),
        ],
        partitioned: None,
        checks: &[],
        keys: &[pk("prediction_stats_hourly_pkey", &["hour", "category"])],
        triggers: &[],
    },
    Table {
        name: "prediction_stage_timings",
        columns: &[
            col("cycle_ts", TSTZ),
            col("stage_no", "smallint"),
            col("stage_name", "character varying(32)"),
            col("status", "character varying(16)"),
            col("duration_ms", "double precision"),
            null("detail", "text"),
            col("recorded_at", TSTZ),
        ],
        partitioned: None,
        checks: &[values(
            "prediction_stage_timings_status_check",
            &["status"],
            &["OK", "FAILED", "SKIPPED"],
        )],
        keys: &[pk(
            "prediction_stage_timings_pkey",
            &["cycle_ts", "stage_no"],
        )],
        triggers: &[],
    },
    Table {
        name: "detection_models",
        columns: &[
            col("model_id", ID),
            null("description", "text"),
            col("is_enabled", "boolean"),
            col("created_at", TSTZ),
            col("updated_at", TSTZ),
        ],
        partitioned: None,
        checks: &[name_rule(
            "detection_models_model_id_name_check",
            &["model_id"],
        )],
        keys: &[pk("detection_models_pkey", &["model_id"])],
        triggers: &[
            "detection_models_notify",
            "detection_models_audit",
            "detection_models_audit_truncate",
        ],
    },
    Table {
        name: "detection_model_versions",
        columns: &[
            col("id", "bigint"),
            col("model_id", ID),
            col("version", ID),
            col("role", "character varying(16)"),
            col("status", "character varying(16)"),
            col("params", "jsonb"),
            null("timeout_ms", "integer"),
            col("created_at", TSTZ),
            null("activated_at", TSTZ),
            null("archived_at", TSTZ),
            // V048: NULL runs the model's default implementation.
            null("implementation", ID),
        ],
        partitioned: None,
        checks: &[
            values("detection_model_versions_role_check", &["role"], ROLES),
            values(
                "detection_model_versions_status_check",
                &["status"],
                &["DRAFT", "ACTIVE", "ARCHIVED"],
            ),
            expr(
                "detection_model_versions_timeout_check",
                &["timeout_ms"],
                "> 0",
            ),
            name_rule(
                "detection_model_versions_model_id_name_check",
                &["model_id"],
            ),
            name_rule("detection_model_versions_version_name_check", &["version"]),
            expr(
                "detection_model_versions_implementation_check",
                &["implementation"],
                "char_length(",
            ),
            name_rule(
                "detection_model_versions_implementation_name_check",
                &["implementation"],
            ),
        ],
        keys: &[
            pk("detection_model_versions_pkey", &["id"]),
            unique(
                "detection_model_versions_model_version_key",
                &["model_id", "version"],
            ),
            Key {
                name: "detection_model_versions_one_active_primary",
                columns: &["model_id"],
                primary: false,
                predicate: Some(&["PRIMARY", "ACTIVE"]),
            },
        ],
        triggers: &[
            "detection_model_versions_notify",
            "detection_model_versions_audit",
            "detection_model_versions_audit_truncate",
        ],
    },
    Table {
        name: "detection_model_dependencies",
        columns: &[
            col("model_id", ID),
            col("depends_on", ID),
            col("input_key", ID),
        ],
        partitioned: None,
        checks: &[
            expr(
                "detection_model_dependencies_not_self",
                &["model_id", "depends_on"],
                "<>",
            ),
            name_rule(
                "detection_model_dependencies_model_id_name_check",
                &["model_id"],
            ),
            name_rule(
                "detection_model_dependencies_depends_on_name_check",
                &["depends_on"],
            ),
            name_rule(
                "detection_model_dependencies_input_key_name_check",
                &["input_key"],
            ),
        ],
        keys: &[
            pk(
                "detection_model_dependencies_pkey",
                &["model_id", "depends_on", "input_key"],
            ),
            unique(
                "detection_model_dependencies_one_upstream_per_key",
                &["model_id", "input_key"],
            ),
        ],
        triggers: &[
            "detection_model_dependencies_notify",
            "detection_model_dependencies_audit",
            "detection_model_dependencies_audit_truncate",
        ],
    },
    Table {
        name: "detection_model_runs",
        columns: &[
            col("id", "bigint"),
            col("cycle_ts", TSTZ),
            col("model_id", ID),
            null("version_id", "bigint"),
            null("role", "character varying(16)"),
            col("status", "character varying(16)"),
            null("error", "text"),
            null("started_at", TSTZ),
            col("duration_ms", "double precision"),
            col("output_count", "integer"),
            col("dropped_metric_count", "integer"),
            // V051: LIVE (a cycle) or BACKTEST.
            col("origin", "character varying(16)"),
            // V055: of output_count, the rows the output policy left out.
            col("omitted_count", "integer"),
        ],
        partitioned: None,
        checks: &[
            values("detection_model_runs_role_check", &["role"], ROLES),
            values(
                "detection_model_runs_status_check",
                &["status"],
                &["OK", "FAILED", "TIMEOUT", "SKIPPED"],
            ),
            history_name_rule("detection_model_runs_model_id_name_check", &["model_id"]),
            values(
                "detection_model_runs_origin_check",
                &["origin"],
                &["LIVE", "BACKTEST"],
            ),
            expr(
                "detection_model_runs_omitted_count_check",
                &["output_count", "omitted_count"],
                "omitted_count <= output_count",
            ),
        ],
        keys: &[pk("detection_model_runs_pkey", &["id"])],
        triggers: &[],
    },
    Table {
        name: "detection_model_run_outputs",
        columns: &[
            col("cycle_ts", TSTZ),
            col("model_id", ID),
            col("version_id", "bigint"),
            col("role", "character varying(16)"),
            col("entity_key", "text"),
            null("score", "double precision"),
            null("payload", "jsonb"),
        ],
        partitioned: Some(("cycle_ts", Period::Month)),
        checks: &[values(
            "detection_model_run_outputs_role_check",
            &["role"],
            ROLES,
        )],
        // No unique key since V056: dag-exec keeps (cycle_ts, version_id,
        // entity_key) unique (a plain index on (cycle_ts, version_id)
        // serves the reads and DELETEs).
        keys: &[],
        triggers: &[],
    },
    Table {
        name: "detection_model_metrics",
        columns: &[
            col("cycle_ts", TSTZ),
            col("version_id", "bigint"),
            col("metric_key", ID),
            null("value", "double precision"),
        ],
        partitioned: None,
        checks: &[history_name_rule(
            "detection_model_metrics_metric_key_name_check",
            &["metric_key"],
        )],
        keys: &[pk(
            "detection_model_metrics_pkey",
            &["cycle_ts", "version_id", "metric_key"],
        )],
        triggers: &[],
    },
    Table {
        name: "vessel_track_state",
        columns: &[
            col("cycle_ts", TSTZ),
            col("mmsi", "bigint"),
            col("site", "smallint"),
            col("ts", TSTZ),
            col("lat", "double precision"),
            col("lon", "double precision"),
        ],
        partitioned: None,
        checks: &[expr("vessel_track_state_site_check", &["site"], ">= 0")],
        keys: &[pk("vessel_track_state_pkey", &["cycle_ts", "mmsi", "site"])],
        triggers: &[],
    },
    Table {
        name: "prediction_cycles",
        columns: &[
            col("cycle_ts", TSTZ),
            col("status", "character varying(16)"),
            col("run_by", "character varying(16)"),
            col("runner", "text"),
            null("leader_epoch", "bigint"),
            col("attempts", "integer"),
            col("started_at", TSTZ),
            null("finished_at", TSTZ),
            null("late_by_ms", "double precision"),
            null("failed_stage", "smallint"),
            null("detail", "text"),
            null("committed_at", TSTZ),
        ],
        partitioned: None,
        checks: &[
            values(
                "prediction_cycles_status_check",
                &["status"],
                &["RUNNING", "OK", "FAILED"],
            ),
            values(
                "prediction_cycles_run_by_check",
                &["run_by"],
                &["serve", "cycle", "replay", "catch-up"],
            ),
            expr("prediction_cycles_attempts_check", &["attempts"], "> 0"),
            expr(
                "prediction_cycles_finished_check",
                &["status", "finished_at"],
                "IS NULL",
            ),
            expr(
                "prediction_cycles_failed_stage_check",
                &["status", "failed_stage"],
                "IS NOT NULL",
            ),
            expr(
                "prediction_cycles_committed_check",
                &["status", "committed_at"],
                "IS NOT NULL",
            ),
        ],
        keys: &[pk("prediction_cycles_pkey", &["cycle_ts"])],
        triggers: &[],
    },
    Table {
        name: "runner_lease",
        columns: &[
            col("name", ID),
            col("holder", "text"),
            col("epoch", "bigint"),
            col("acquired_at", TSTZ),
            col("renewed_at", TSTZ),
            col("expires_at", TSTZ),
        ],
        partitioned: None,
        checks: &[expr("runner_lease_epoch_check", &["epoch"], "> 0")],
        keys: &[pk("runner_lease_pkey", &["name"])],
        triggers: &[],
    },
    // V050: the registry's audit trail, written only by the triggers above
    // (`kcg.audit_model_registry`). No name CHECK: it records what the
    // registry held, also a bad name being fixed (V052).
    Table {
        name: "detection_model_audit",
        columns: &[
            col("id", "bigint"),
            col("changed_at", TSTZ),
            col("txid", "bigint"),
            col("db_user", "text"),
            col("action", "character varying(32)"),
            col("operation", "character varying(8)"),
            col("table_name", ID),
            null("model_id", ID),
            null("version_id", "bigint"),
            null("note", "text"),
            null("old_row", "jsonb"),
            null("new_row", "jsonb"),
        ],
        partitioned: None,
        checks: &[
            values(
                "detection_model_audit_action_check",
                &["action"],
                &[
                    "add_model",
                    "enable",
                    "disable",
                    "depend",
                    "undepend",
                    "add_version",
                    "promote",
                    "archive",
                    "rollback",
                    "add_reference",
                    "manual",
                ],
            ),
            values(
                "detection_model_audit_operation_check",
                &["operation"],
                &["INSERT", "UPDATE", "DELETE", "TRUNCATE"],
            ),
        ],
        keys: &[pk("detection_model_audit_pkey", &["id"])],
        triggers: &[],
    },
];

/// Functions of schema `kcg` the workspace's SQL calls, as
/// `to_regprocedure` reads them.
pub const FUNCTIONS: &[&str] = &[
    // V034: the registry's NOTIFY triggers.
    "kcg.notify_model_registry_change()",
    // V036: the order of roles in every listing and load.
    "kcg.role_rank(text)",
    // V052: the name rule of every CHECK on a name column.
    "kcg.is_valid_name(text)",
    // V050: the audit trail's row and TRUNCATE triggers.
    "kcg.audit_model_registry()",
    // V053: what `SchemaGuard` reads before every cycle's stage 10.
    "kcg.schema_fingerprint(text[],text[])",
];
