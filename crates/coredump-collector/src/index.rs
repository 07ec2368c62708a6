//! The index: dumps, groups, debug files, waiting lists, idempotency keys and
//! the Sentry outbox, in SQLite (embedded) or PostgreSQL (shared by several
//! instances).
//!
//! One code path serves both through sqlx's `Any` driver; the SQL is the
//! common subset (`$N` parameters, `ON CONFLICT`, `RETURNING`). Counters are
//! changed with atomic `count = count + 1` updates inside transactions, so
//! any number of instances can share one PostgreSQL database.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`: a committed row
//! survives the collector process being killed (it is in the WAL, which the
//! kernel holds), and the dump file itself is always fsync'd before its row
//! is written. Writes go through a single connection, reads through a small
//! pool.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::model::{DebugFileRecord, DumpRecord, DumpSummary, GroupRecord, SymbolicationState};

/// A failed index operation.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("database {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database: {0}")]
    Other(String),
}

fn sql(context: &'static str) -> impl FnOnce(sqlx::Error) -> IndexError {
    move |source| IndexError::Sql { context, source }
}

/// Which database is behind the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The index.
#[derive(Clone)]
pub struct Index {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
    url_for_display: String,
}

/// What the index needs to record a new dump.
#[derive(Debug, Clone)]
pub struct NewDump {
    pub id: String,
    pub received_at: i64,
    pub blob_key: String,
    pub size: i64,
    pub sha256: String,
    pub service: Option<String>,
    pub version: Option<String>,
    pub environment: Option<String>,
    pub trap_kind: String,
    pub trap_message: String,
    pub executable: Option<String>,
    pub symbolication: SymbolicationState,
    pub top_frame: String,
    pub stack_json: String,
    pub values_json: String,
    pub variables_json: Option<String>,
    pub modules_json: String,
    pub context_json: String,
    /// Build ids whose debug files are awaited.
    pub waiting_for: Vec<String>,
    pub group: NewGroup,
    /// `(scope, key)` of the upload's `Idempotency-Key`.
    pub idempotency: Option<(String, String)>,
    /// Queue the dump for Sentry (an outbox row in the same transaction).
    pub forward_to_sentry: bool,
}

/// The group a dump belongs to.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub id: String,
    pub fingerprint: String,
    pub fingerprint_version: i64,
    pub title: String,
    pub trap_kind: String,
    pub top_frame: String,
}

/// How recording a dump ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Recorded; `reply` is what was stored for the idempotency key.
    Inserted { new_group: bool, reply: String },
    /// The idempotency key was already used: nothing was recorded, and this is
    /// the reply given then.
    Duplicate { reply: String },
}

/// A dump row as re-symbolication needs it.
#[derive(Debug, Clone)]
pub struct ResymbolicationRow {
    pub id: String,
    pub group_id: String,
    pub received_at: i64,
    pub trap_kind: String,
    pub stack_json: String,
    /// `None` once the dump file was pruned.
    pub blob_key: Option<String>,
}

/// A Sentry outbox row, claimed for one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub dump_id: String,
    /// Failed attempts so far.
    pub attempts: i64,
}

/// A pending Sentry outbox row, as listed for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub dump_id: String,
    pub attempts: i64,
    /// Unix ms of the next attempt.
    pub next_attempt_at: i64,
    /// Unix ms until which an instance holds the row (0: nobody).
    pub locked_until: i64,
    pub last_error: Option<String>,
}

/// A dump's new symbolication and group.
#[derive(Debug, Clone)]
pub struct Resymbolicated {
    pub stack_json: String,
    pub variables_json: Option<String>,
    pub symbolication: SymbolicationState,
    pub top_frame: String,
    pub group: NewGroup,
    /// Build ids no longer awaited by this dump.
    pub resolved: Vec<String>,
}

const SQLITE_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    fingerprint_version INTEGER NOT NULL,
    title TEXT NOT NULL,
    trap_kind TEXT NOT NULL,
    top_frame TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS groups_last_seen ON groups (last_seen);
CREATE TABLE IF NOT EXISTS dumps (
    id TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    blob_key TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    service TEXT,
    version TEXT,
    environment TEXT,
    trap_kind TEXT NOT NULL,
    trap_message TEXT NOT NULL,
    executable TEXT,
    symbolication TEXT NOT NULL,
    top_frame TEXT NOT NULL,
    stack TEXT NOT NULL,
    frame_values TEXT NOT NULL,
    variables TEXT,
    modules TEXT NOT NULL,
    context TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dumps_group ON dumps (group_id, received_at);
CREATE INDEX IF NOT EXISTS dumps_received ON dumps (received_at);
CREATE TABLE IF NOT EXISTS waiting (
    build_id TEXT NOT NULL,
    dump_id TEXT NOT NULL,
    PRIMARY KEY (build_id, dump_id)
);
CREATE INDEX IF NOT EXISTS waiting_dump ON waiting (dump_id);
CREATE TABLE IF NOT EXISTS debug_files (
    build_id TEXT PRIMARY KEY,
    blob_key TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    dump_id TEXT NOT NULL,
    reply TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);
CREATE TABLE IF NOT EXISTS sentry_outbox (
    dump_id TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS sentry_outbox_due ON sentry_outbox (next_attempt_at);
"#;

impl Index {
    /// Opens (and creates, for SQLite) the database at `url`
    /// (`sqlite:///path/index.db` or `postgres://user@host/db`) and brings
    /// its schema up to date.
    pub async fn open(url: &str) -> Result<Self, IndexError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(IndexError::Other(format!(
                "unsupported database URL {}: use sqlite:// or postgres://",
                redact_url(url)
            )));
        };
        let (write, read) = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let pragmas = sqlite_pragmas;
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(60))
                    .after_connect(pragmas)
                    .connect(&url)
                    .await
                    .map_err(sql("open"))?;
                // The writer creates the file and switches it to WAL before readers connect.
                sqlx::raw_sql(SQLITE_SCHEMA)
                    .execute(&write)
                    .await
                    .map_err(sql("create schema"))?;
                let read = AnyPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(60))
                    .after_connect(pragmas)
                    .connect(&url)
                    .await
                    .map_err(sql("open"))?;
                (write, read)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
                    .map_err(sql("open"))?;
                let mut conn = pool.acquire().await.map_err(sql("open"))?;
                // Instances starting together must not race on CREATE TABLE.
                sqlx::raw_sql("SELECT pg_advisory_lock(7426661)")
                    .execute(&mut *conn)
                    .await
                    .map_err(sql("lock schema"))?;
                let schema = SQLITE_SCHEMA.replace(" INTEGER ", " BIGINT ");
                let created = sqlx::raw_sql(sqlx::AssertSqlSafe(schema))
                    .execute(&mut *conn)
                    .await;
                sqlx::raw_sql("SELECT pg_advisory_unlock(7426661)")
                    .execute(&mut *conn)
                    .await
                    .map_err(sql("unlock schema"))?;
                created.map_err(sql("create schema"))?;
                drop(conn);
                (pool.clone(), pool)
            }
        };
        Ok(Index {
            backend,
            write,
            read,
            url_for_display: redact_url(url),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password removed.
    pub fn describe(&self) -> &str {
        &self.url_for_display
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Any>, IndexError> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
        .map_err(sql("begin"))
    }

    pub async fn ping(&self) -> Result<(), IndexError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
            .map_err(sql("ping"))
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// The reply stored for an idempotency key.
    pub async fn idempotent_reply(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<String>, IndexError> {
        sqlx::query("SELECT reply FROM idempotency WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(sql("read idempotency key"))?
            .map(|row| row.try_get::<String, _>("reply"))
            .transpose()
            .map_err(sql("read idempotency key"))
    }

    /// Records a dump, its group and what it waits for, in one transaction.
    /// `reply` makes the reply from the new-group flag.
    pub async fn insert_dump(
        &self,
        dump: &NewDump,
        reply: impl FnOnce(bool) -> String,
    ) -> Result<InsertOutcome, IndexError> {
        let mut tx = self.begin_write().await?;
        let count: i64 = upsert_group(&mut tx, &dump.group, dump.received_at, 1).await?;
        let new_group = count == 1;
        sqlx::query(
            "INSERT INTO dumps (id, received_at, group_id, blob_key, size, sha256, service, version, environment, \
             trap_kind, trap_message, executable, symbolication, top_frame, stack, frame_values, variables, modules, context) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(&dump.id)
        .bind(dump.received_at)
        .bind(&dump.group.id)
        .bind(&dump.blob_key)
        .bind(dump.size)
        .bind(&dump.sha256)
        .bind(&dump.service)
        .bind(&dump.version)
        .bind(&dump.environment)
        .bind(&dump.trap_kind)
        .bind(&dump.trap_message)
        .bind(&dump.executable)
        .bind(dump.symbolication.as_str())
        .bind(&dump.top_frame)
        .bind(&dump.stack_json)
        .bind(&dump.values_json)
        .bind(&dump.variables_json)
        .bind(&dump.modules_json)
        .bind(&dump.context_json)
        .execute(&mut *tx)
        .await
        .map_err(sql("insert dump"))?;
        for build_id in &dump.waiting_for {
            sqlx::query(
                "INSERT INTO waiting (build_id, dump_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(build_id)
            .bind(&dump.id)
            .execute(&mut *tx)
            .await
            .map_err(sql("insert waiting"))?;
        }
        if dump.forward_to_sentry {
            sqlx::query(
                "INSERT INTO sentry_outbox (dump_id, attempts, next_attempt_at, locked_until, last_error) \
                 VALUES ($1, 0, $2, 0, NULL) ON CONFLICT DO NOTHING",
            )
            .bind(&dump.id)
            .bind(dump.received_at)
            .execute(&mut *tx)
            .await
            .map_err(sql("insert sentry outbox"))?;
        }
        let reply = reply(new_group);
        if let Some((scope, key)) = &dump.idempotency {
            let inserted = sqlx::query(
                "INSERT INTO idempotency (scope, key, dump_id, reply, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(scope)
            .bind(key)
            .bind(&dump.id)
            .bind(&reply)
            .bind(dump.received_at)
            .execute(&mut *tx)
            .await
            .map_err(sql("insert idempotency key"))?
            .rows_affected();
            if inserted == 0 {
                tx.rollback().await.map_err(sql("rollback"))?;
                let reply = self
                    .idempotent_reply(scope, key)
                    .await?
                    .ok_or_else(|| IndexError::Other("idempotency key vanished".into()))?;
                return Ok(InsertOutcome::Duplicate { reply });
            }
        }
        tx.commit().await.map_err(sql("commit dump"))?;
        Ok(InsertOutcome::Inserted { new_group, reply })
    }

    pub async fn list_groups(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<GroupRecord>, IndexError> {
        let rows = sqlx::query(
            "SELECT id, fingerprint, fingerprint_version, title, trap_kind, top_frame, count, first_seen, last_seen \
             FROM groups ORDER BY last_seen DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(sql("list groups"))?;
        rows.iter()
            .map(group_from_row)
            .collect::<Result<_, _>>()
            .map_err(sql("read group"))
    }

    pub async fn group(&self, id: &str) -> Result<Option<GroupRecord>, IndexError> {
        let row = sqlx::query(
            "SELECT id, fingerprint, fingerprint_version, title, trap_kind, top_frame, count, first_seen, last_seen \
             FROM groups WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(sql("read group"))?;
        row.as_ref()
            .map(group_from_row)
            .transpose()
            .map_err(sql("read group"))
    }

    /// Dumps, newest first, optionally of one group, optionally received before `before` (ms).
    pub async fn list_dumps(
        &self,
        group: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DumpSummary>, IndexError> {
        let rows = sqlx::query(
            "SELECT id, group_id, received_at, size, blob_key, service, version, environment, trap_kind, \
             symbolication, top_frame FROM dumps \
             WHERE ($1 = '' OR group_id = $1) AND received_at < $2 \
             ORDER BY received_at DESC, id DESC LIMIT $3",
        )
        .bind(group.unwrap_or(""))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(sql("list dumps"))?;
        rows.iter()
            .map(|row| {
                Ok(DumpSummary {
                    id: row.try_get("id")?,
                    group_id: row.try_get("group_id")?,
                    received_at: row.try_get("received_at")?,
                    size: row.try_get("size")?,
                    stored: row.try_get::<Option<String>, _>("blob_key")?.is_some(),
                    service: row.try_get("service")?,
                    version: row.try_get("version")?,
                    environment: row.try_get("environment")?,
                    trap_kind: row.try_get("trap_kind")?,
                    symbolication: SymbolicationState::parse(
                        &row.try_get::<String, _>("symbolication")?,
                    ),
                    top_frame: row.try_get("top_frame")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sql("read dump"))
    }

    /// A dump's full record and its blob key (`None` once pruned).
    pub async fn dump(&self, id: &str) -> Result<Option<(DumpRecord, Option<String>)>, IndexError> {
        let Some(row) = sqlx::query("SELECT * FROM dumps WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(sql("read dump"))?
        else {
            return Ok(None);
        };
        let json = |column: &str| -> Result<String, IndexError> {
            row.try_get(column).map_err(sql("read dump"))
        };
        let blob_key: Option<String> = row.try_get("blob_key").map_err(sql("read dump"))?;
        let record = DumpRecord {
            id: row.try_get("id").map_err(sql("read dump"))?,
            group_id: row.try_get("group_id").map_err(sql("read dump"))?,
            received_at: row.try_get("received_at").map_err(sql("read dump"))?,
            size: row.try_get("size").map_err(sql("read dump"))?,
            sha256: row.try_get("sha256").map_err(sql("read dump"))?,
            stored: blob_key.is_some(),
            service: row.try_get("service").map_err(sql("read dump"))?,
            version: row.try_get("version").map_err(sql("read dump"))?,
            environment: row.try_get("environment").map_err(sql("read dump"))?,
            trap_kind: row.try_get("trap_kind").map_err(sql("read dump"))?,
            trap_message: row.try_get("trap_message").map_err(sql("read dump"))?,
            executable: row.try_get("executable").map_err(sql("read dump"))?,
            symbolication: SymbolicationState::parse(&json("symbolication")?),
            top_frame: row.try_get("top_frame").map_err(sql("read dump"))?,
            stack: parse_json(id, &json("stack")?)?,
            values: parse_json(id, &json("frame_values")?)?,
            variables: match row
                .try_get::<Option<String>, _>("variables")
                .map_err(sql("read dump"))?
            {
                Some(text) => Some(parse_json(id, &text)?),
                None => None,
            },
            modules: parse_json(id, &json("modules")?)?,
            context: parse_json(id, &json("context")?)?,
        };
        Ok(Some((record, blob_key)))
    }

    /// Records (or replaces) a debug file. Returns whether it is new.
    pub async fn upsert_debug_file(
        &self,
        record: &DebugFileRecord,
        blob_key: &str,
    ) -> Result<bool, IndexError> {
        let mut tx = self.begin_write().await?;
        let existed = sqlx::query("SELECT build_id FROM debug_files WHERE build_id = $1")
            .bind(&record.build_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sql("read debug file"))?
            .is_some();
        sqlx::query(
            "INSERT INTO debug_files (build_id, blob_key, size, sha256, uploaded_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (build_id) DO UPDATE SET blob_key = excluded.blob_key, size = excluded.size, \
             sha256 = excluded.sha256, uploaded_at = excluded.uploaded_at",
        )
        .bind(&record.build_id)
        .bind(blob_key)
        .bind(record.size)
        .bind(&record.sha256)
        .bind(record.uploaded_at)
        .execute(&mut *tx)
        .await
        .map_err(sql("insert debug file"))?;
        tx.commit().await.map_err(sql("commit debug file"))?;
        Ok(!existed)
    }

    pub async fn debug_file(
        &self,
        build_id: &str,
    ) -> Result<Option<(DebugFileRecord, String)>, IndexError> {
        let row = sqlx::query(
            "SELECT build_id, blob_key, size, sha256, uploaded_at, \
             (SELECT COUNT(*) FROM waiting w WHERE w.build_id = d.build_id) AS waiting_dumps \
             FROM debug_files d WHERE build_id = $1",
        )
        .bind(build_id)
        .fetch_optional(&self.read)
        .await
        .map_err(sql("read debug file"))?;
        row.map(|row| -> Result<_, sqlx::Error> {
            Ok((
                debug_file_from_row(&row)?,
                row.try_get::<String, _>("blob_key")?,
            ))
        })
        .transpose()
        .map_err(sql("read debug file"))
    }

    pub async fn list_debug_files(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DebugFileRecord>, IndexError> {
        let rows = sqlx::query(
            "SELECT build_id, size, sha256, uploaded_at, \
             (SELECT COUNT(*) FROM waiting w WHERE w.build_id = d.build_id) AS waiting_dumps \
             FROM debug_files d ORDER BY uploaded_at DESC, build_id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(sql("list debug files"))?;
        rows.iter()
            .map(debug_file_from_row)
            .collect::<Result<_, _>>()
            .map_err(sql("read debug file"))
    }

    /// Which of `build_ids` have a debug file.
    pub async fn debug_files_present(
        &self,
        build_ids: &[String],
    ) -> Result<HashSet<String>, IndexError> {
        let mut present = HashSet::new();
        for id in build_ids {
            let found = sqlx::query("SELECT build_id FROM debug_files WHERE build_id = $1")
                .bind(id)
                .fetch_optional(&self.read)
                .await
                .map_err(sql("read debug file"))?;
            if found.is_some() {
                present.insert(id.clone());
            }
        }
        Ok(present)
    }

    /// Build ids that dumps wait for and whose debug file has arrived.
    pub async fn ready_build_ids(&self) -> Result<Vec<String>, IndexError> {
        let rows = sqlx::query(
            "SELECT DISTINCT w.build_id AS build_id FROM waiting w JOIN debug_files d ON d.build_id = w.build_id",
        )
        .fetch_all(&self.read)
        .await
        .map_err(sql("list ready build ids"))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("build_id"))
            .collect::<Result<_, _>>()
            .map_err(sql("list ready build ids"))
    }

    /// Up to `limit` dumps waiting for `build_id`.
    pub async fn waiting_dumps(
        &self,
        build_id: &str,
        limit: i64,
    ) -> Result<Vec<ResymbolicationRow>, IndexError> {
        let rows = sqlx::query(
            "SELECT d.id AS id, d.group_id AS group_id, d.received_at AS received_at, d.trap_kind AS trap_kind, \
             d.stack AS stack, d.blob_key AS blob_key FROM waiting w JOIN dumps d ON d.id = w.dump_id WHERE w.build_id = $1 \
             ORDER BY d.received_at LIMIT $2",
        )
        .bind(build_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(sql("list waiting dumps"))?;
        rows.iter()
            .map(|row| {
                Ok(ResymbolicationRow {
                    id: row.try_get("id")?,
                    group_id: row.try_get("group_id")?,
                    received_at: row.try_get("received_at")?,
                    trap_kind: row.try_get("trap_kind")?,
                    stack_json: row.try_get("stack")?,
                    blob_key: row.try_get("blob_key")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sql("read waiting dump"))
    }

    /// Drops waiting rows of dumps that no longer exist.
    pub async fn forget_waiting(&self, build_id: &str, dump_id: &str) -> Result<(), IndexError> {
        sqlx::query("DELETE FROM waiting WHERE build_id = $1 AND dump_id = $2")
            .bind(build_id)
            .bind(dump_id)
            .execute(&self.write)
            .await
            .map(|_| ())
            .map_err(sql("delete waiting"))
    }

    /// Stores a dump's new symbolication and moves it to its new group,
    /// keeping both groups' counts exact. Returns false when another instance
    /// got there first (the dump's group was no longer `old.group_id`).
    pub async fn apply_resymbolication(
        &self,
        old: &ResymbolicationRow,
        new: &Resymbolicated,
    ) -> Result<bool, IndexError> {
        let mut tx = self.begin_write().await?;
        let moved = new.group.id != old.group_id;
        // Lock the two groups in id order so that concurrent moves cannot deadlock.
        let mut order = vec![
            (old.group_id.as_str(), -1i64),
            (new.group.id.as_str(), 1i64),
        ];
        order.sort();
        let updated = sqlx::query(
            "UPDATE dumps SET stack = $1, symbolication = $2, top_frame = $3, group_id = $4, \
             variables = COALESCE($7, variables) WHERE id = $5 AND group_id = $6",
        )
        .bind(&new.stack_json)
        .bind(new.symbolication.as_str())
        .bind(&new.top_frame)
        .bind(&new.group.id)
        .bind(&old.id)
        .bind(&old.group_id)
        .bind(&new.variables_json)
        .execute(&mut *tx)
        .await
        .map_err(sql("update dump"))?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(sql("rollback"))?;
            return Ok(false);
        }
        if moved {
            for (group, delta) in order {
                if delta > 0 {
                    upsert_group(&mut tx, &new.group, old.received_at, 1).await?;
                } else {
                    sqlx::query("UPDATE groups SET count = count - 1 WHERE id = $1")
                        .bind(group)
                        .execute(&mut *tx)
                        .await
                        .map_err(sql("update group"))?;
                    sqlx::query("DELETE FROM groups WHERE id = $1 AND count <= 0")
                        .bind(group)
                        .execute(&mut *tx)
                        .await
                        .map_err(sql("delete group"))?;
                }
            }
        }
        for build_id in &new.resolved {
            sqlx::query("DELETE FROM waiting WHERE build_id = $1 AND dump_id = $2")
                .bind(build_id)
                .bind(&old.id)
                .execute(&mut *tx)
                .await
                .map_err(sql("delete waiting"))?;
        }
        tx.commit().await.map_err(sql("commit resymbolication"))?;
        Ok(true)
    }

    /// Dumps received before `cutoff` (ms): `(id, group, blob key)`.
    pub async fn expired_dumps(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<(String, String, Option<String>)>, IndexError> {
        let rows = sqlx::query(
            "SELECT id, group_id, blob_key FROM dumps WHERE received_at < $1 ORDER BY received_at LIMIT $2",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(sql("list expired dumps"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("group_id")?,
                    r.try_get("blob_key")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sql("list expired dumps"))
    }

    /// Deletes dump rows (retention by age), lowering their groups' counts
    /// and removing groups left empty. Returns how many rows went.
    pub async fn delete_dumps(&self, dumps: &[(String, String)]) -> Result<u64, IndexError> {
        let mut tx = self.begin_write().await?;
        let mut deleted = 0;
        for (id, group) in dumps {
            let n = sqlx::query("DELETE FROM dumps WHERE id = $1 AND group_id = $2")
                .bind(id)
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(sql("delete dump"))?
                .rows_affected();
            if n == 0 {
                continue;
            }
            deleted += n;
            sqlx::query("DELETE FROM waiting WHERE dump_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(sql("delete waiting"))?;
            sqlx::query("DELETE FROM sentry_outbox WHERE dump_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(sql("delete sentry outbox"))?;
            sqlx::query("UPDATE groups SET count = count - 1 WHERE id = $1")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(sql("update group"))?;
            sqlx::query("DELETE FROM groups WHERE id = $1 AND count <= 0")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(sql("delete group"))?;
        }
        tx.commit().await.map_err(sql("commit retention"))?;
        Ok(deleted)
    }

    /// Groups with more than `cap` stored dump files.
    pub async fn groups_over_cap(&self, cap: i64) -> Result<Vec<String>, IndexError> {
        let rows = sqlx::query(
            "SELECT group_id FROM dumps WHERE blob_key IS NOT NULL GROUP BY group_id HAVING COUNT(*) > $1",
        )
        .bind(cap)
        .fetch_all(&self.read)
        .await
        .map_err(sql("list groups over cap"))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("group_id"))
            .collect::<Result<_, _>>()
            .map_err(sql("list groups over cap"))
    }

    /// The stored dumps of `group` beyond the newest `cap`: `(id, blob key)`.
    pub async fn dumps_beyond_cap(
        &self,
        group: &str,
        cap: i64,
        limit: i64,
    ) -> Result<Vec<(String, String)>, IndexError> {
        let rows = sqlx::query(
            "SELECT id, blob_key FROM dumps WHERE group_id = $1 AND blob_key IS NOT NULL \
             ORDER BY received_at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(group)
        .bind(limit)
        .bind(cap)
        .fetch_all(&self.read)
        .await
        .map_err(sql("list dumps beyond cap"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("blob_key")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sql("list dumps beyond cap"))
    }

    /// Marks dumps' files as pruned (their rows, stacks and counts stay).
    pub async fn mark_pruned(&self, ids: &[String]) -> Result<(), IndexError> {
        let mut tx = self.begin_write().await?;
        for id in ids {
            sqlx::query("UPDATE dumps SET blob_key = NULL WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(sql("prune dump"))?;
        }
        tx.commit().await.map_err(sql("commit prune"))
    }

    pub async fn forget_idempotency_keys_before(&self, cutoff: i64) -> Result<u64, IndexError> {
        sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
            .bind(cutoff)
            .execute(&self.write)
            .await
            .map(|r| r.rows_affected())
            .map_err(sql("delete idempotency keys"))
    }

    /// `(dumps, stored dump files, groups, debug files, dumps waiting,
    /// events waiting for Sentry)`.
    pub async fn totals(&self) -> Result<[i64; 6], IndexError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM dumps) AS dumps, \
             (SELECT COUNT(*) FROM dumps WHERE blob_key IS NOT NULL) AS stored, \
             (SELECT COUNT(*) FROM groups) AS groups, \
             (SELECT COUNT(*) FROM debug_files) AS debug_files, \
             (SELECT COUNT(DISTINCT dump_id) FROM waiting) AS waiting, \
             (SELECT COUNT(*) FROM sentry_outbox) AS sentry_outbox",
        )
        .fetch_one(&self.read)
        .await
        .map_err(sql("count"))?;
        let get = |c: &str| row.try_get::<i64, _>(c).map_err(sql("count"));
        Ok([
            get("dumps")?,
            get("stored")?,
            get("groups")?,
            get("debug_files")?,
            get("waiting")?,
            get("sentry_outbox")?,
        ])
    }

    /// Claims up to `limit` due Sentry outbox rows for this instance until
    /// `lease_until` (ms). A row another instance holds is skipped: the
    /// `locked_until` check is repeated on the row being updated, so two
    /// instances racing for one row cannot both get it.
    pub async fn claim_sentry_events(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, IndexError> {
        let rows = sqlx::query(
            "UPDATE sentry_outbox SET locked_until = $1 \
             WHERE dump_id IN (SELECT dump_id FROM sentry_outbox \
             WHERE next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT $3) \
             AND next_attempt_at <= $2 AND locked_until <= $2 \
             RETURNING dump_id, attempts",
        )
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.write)
        .await
        .map_err(sql("claim sentry outbox"))?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRow {
                    dump_id: row.try_get("dump_id")?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sql("claim sentry outbox"))
    }

    /// Removes a Sentry outbox row (delivered, dropped, or its dump is gone).
    pub async fn forget_sentry_event(&self, dump_id: &str) -> Result<(), IndexError> {
        sqlx::query("DELETE FROM sentry_outbox WHERE dump_id = $1")
            .bind(dump_id)
            .execute(&self.write)
            .await
            .map(|_| ())
            .map_err(sql("delete sentry outbox"))
    }

    /// Records a failed attempt and releases the row until `next_attempt_at` (ms).
    pub async fn retry_sentry_event(
        &self,
        dump_id: &str,
        attempts: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), IndexError> {
        sqlx::query(
            "UPDATE sentry_outbox SET attempts = $1, next_attempt_at = $2, locked_until = 0, last_error = $3 \
             WHERE dump_id = $4",
        )
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(error)
        .bind(dump_id)
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(sql("update sentry outbox"))
    }

    /// Releases rows this instance claimed and did not finish (shutdown).
    pub async fn release_sentry_events(&self, dump_ids: &[String]) -> Result<(), IndexError> {
        for id in dump_ids {
            sqlx::query("UPDATE sentry_outbox SET locked_until = 0 WHERE dump_id = $1")
                .bind(id)
                .execute(&self.write)
                .await
                .map_err(sql("release sentry outbox"))?;
        }
        Ok(())
    }

    /// When the next unclaimed Sentry outbox row falls due (ms), if any.
    pub async fn next_sentry_attempt(&self, now: i64) -> Result<Option<i64>, IndexError> {
        let row = sqlx::query(
            "SELECT MIN(next_attempt_at) AS due FROM sentry_outbox WHERE locked_until <= $1",
        )
        .bind(now)
        .fetch_one(&self.read)
        .await
        .map_err(sql("read sentry outbox"))?;
        row.try_get::<Option<i64>, _>("due")
            .map_err(sql("read sentry outbox"))
    }

    /// The Sentry outbox, oldest first.
    pub async fn sentry_outbox(&self) -> Result<Vec<OutboxEntry>, IndexError> {
        let rows = sqlx::query(
            "SELECT dump_id, attempts, next_attempt_at, locked_until, last_error FROM sentry_outbox \
             ORDER BY next_attempt_at, dump_id",
        )
        .fetch_all(&self.read)
        .await
        .map_err(sql("read sentry outbox"))?;
        rows.iter()
            .map(|row| {
                Ok(OutboxEntry {
                    dump_id: row.try_get("dump_id")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    locked_until: row.try_get("locked_until")?,
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sql("read sentry outbox"))
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(id: &str, text: &str) -> Result<T, IndexError> {
    serde_json::from_str(text)
        .map_err(|e| IndexError::Other(format!("corrupt dump record {id}: {e}")))
}

fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        sqlx::raw_sql(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    })
}

async fn upsert_group(
    tx: &mut Transaction<'static, Any>,
    group: &NewGroup,
    seen: i64,
    delta: i64,
) -> Result<i64, IndexError> {
    let row = sqlx::query(
        "INSERT INTO groups (id, fingerprint, fingerprint_version, title, trap_kind, top_frame, count, first_seen, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (id) DO UPDATE SET count = groups.count + excluded.count, \
         first_seen = CASE WHEN excluded.first_seen < groups.first_seen THEN excluded.first_seen ELSE groups.first_seen END, \
         last_seen = CASE WHEN excluded.last_seen > groups.last_seen THEN excluded.last_seen ELSE groups.last_seen END \
         RETURNING count",
    )
    .bind(&group.id)
    .bind(&group.fingerprint)
    .bind(group.fingerprint_version)
    .bind(&group.title)
    .bind(&group.trap_kind)
    .bind(&group.top_frame)
    .bind(delta)
    .bind(seen)
    .fetch_one(&mut **tx)
    .await
    .map_err(sql("upsert group"))?;
    row.try_get::<i64, _>("count").map_err(sql("upsert group"))
}

fn group_from_row(row: &AnyRow) -> Result<GroupRecord, sqlx::Error> {
    Ok(GroupRecord {
        id: row.try_get("id")?,
        fingerprint: row.try_get("fingerprint")?,
        fingerprint_version: row.try_get("fingerprint_version")?,
        title: row.try_get("title")?,
        trap_kind: row.try_get("trap_kind")?,
        top_frame: row.try_get("top_frame")?,
        count: row.try_get("count")?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
    })
}

fn debug_file_from_row(row: &AnyRow) -> Result<DebugFileRecord, sqlx::Error> {
    Ok(DebugFileRecord {
        build_id: row.try_get("build_id")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        uploaded_at: row.try_get("uploaded_at")?,
        waiting_dumps: row.try_get("waiting_dumps")?,
    })
}

/// The URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::from_str(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
