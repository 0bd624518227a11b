//! The embedded backend: one SQLite file in WAL mode, written by the group-commit thread
//! ([`super::writer`]) and read through a small pool of connections.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use serde_json::Value;

use super::error::{At, Site};
use super::liveness::{self, owners_dir};
use super::writer::{Writer, WriterCtx};
use super::{
    schema, time, CommitStats, DefinitionHash, Durability, Entry, NewEntry, NewRun, OpenOptions,
    PruneReport, RunId, RunPage, RunQuery, RunRecord, RunStatus, RunSummary, Store, StoreError,
    StoreFuture, Trigger, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT,
};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Idle read connections kept open.
const READER_POOL: usize = 4;

/// Runs deleted per prune transaction: appends wait at most one chunk for a prune.
const PRUNE_CHUNK: i64 = 200;

/// A definition stored again refreshes its time at most this often (a prune spares definitions
/// stored since its cutoff, so one put just before `create_run` is never pruned in between).
const DEFINITION_REFRESH: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// An SQLite store. Cheap to clone (one writer thread and one owner lock per [`SqliteStore::open`]).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    site: Site,
    options: OpenOptions,
    owners_dir: PathBuf,
    my_owner: Arc<OnceLock<RunId>>,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
}

impl SqliteStore {
    /// Opens the store at `path`, creating it when it does not exist and `options.create` says so.
    /// A file that exists but is not a codeless store, is corrupt or comes from a newer codeless is
    /// an error: never a fresh start.
    pub fn open(path: impl AsRef<Path>, options: OpenOptions) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let site = Site {
            path: path.clone(),
            busy_ms: options.busy_timeout.as_millis() as u64,
        };
        if !check_existing(&site)? {
            if !options.create {
                return Err(StoreError::CannotOpen {
                    path: path.display().to_string(),
                    reason: "no such file".to_string(),
                });
            }
            create_store(&site)?;
        }
        let conn = connect(&site, &options)?;
        check_identity(&conn, &site)?;
        migrate(&conn, &site)?;
        ensure_wal(&conn, &site)?;
        if let Some(bytes) = options.max_size_bytes {
            let page_size: i64 = conn
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .at(&site)?;
            let pages = (bytes / page_size.max(1) as u64).max(1);
            conn.pragma_update(None, "max_page_count", pages as i64)
                .at(&site)?;
        }
        let owners_dir = owners_dir(&path);
        let ctx = WriterCtx::new(conn, site.clone(), owners_dir.clone());
        let writer = Writer::start(ctx).map_err(|e| StoreError::io(&path, &e))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                site,
                options,
                owners_dir,
                my_owner: writer.my_owner.clone(),
                readers: Mutex::new(Vec::new()),
                writer,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.site.path
    }

    /// Runs SQLite's `PRAGMA quick_check` over the whole file (seconds on a large store, so not
    /// at every open): `Ok` when it finds nothing wrong, else [`StoreError::Corrupt`].
    pub async fn check(&self) -> Result<(), StoreError> {
        self.read(|inner, conn| {
            let verdict: String = conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
                .at(&inner.site)?;
            if verdict == "ok" {
                Ok(())
            } else {
                Err(inner.site.corrupt(verdict))
            }
        })
        .await
    }

    /// Runs `f` on a read connection, on a blocking thread when there is a tokio runtime.
    fn read<T, F>(&self, f: F) -> StoreFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        Box::pin(async move {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let site = inner.site.clone();
                    runtime
                        .spawn_blocking(move || inner.with_reader(|conn| f(&inner, conn)))
                        .await
                        .map_err(|e| site.internal(format!("a read did not finish: {e}")))?
                }
                Err(_) => inner.with_reader(|conn| f(&inner, conn)),
            }
        })
    }

    fn write<T, F>(&self, entries: usize, work: F) -> StoreFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterCtx) -> Result<T, StoreError> + Send + 'static,
    {
        Box::pin(self.inner.writer.submit(entries, work))
    }

    /// Encodes entries for the writer, refusing any over the size limit.
    fn encode_entries(
        &self,
        id: &RunId,
        entries: Vec<NewEntry>,
    ) -> Result<Vec<EncodedEntry>, StoreError> {
        let limit = self.inner.options.max_entry_bytes;
        entries
            .into_iter()
            .map(|e| {
                let payload = serde_json::to_string(&e.payload)
                    .map_err(|err| self.inner.site.internal(err.to_string()))?;
                let size = payload.len() + e.kind.len();
                if size > limit {
                    return Err(StoreError::EntryTooLarge {
                        run: id.clone(),
                        kind: e.kind.chars().take(100).collect(),
                        size,
                        limit,
                    });
                }
                Ok(EncodedEntry {
                    kind: e.kind,
                    ts: time::format_time(e.ts),
                    payload,
                })
            })
            .collect()
    }

    fn insert_run(&self, run: NewRun, claim: bool) -> StoreFuture<'static, RunRecord> {
        let encoded = (|| {
            Ok::<_, serde_json::Error>((
                serde_json::to_string(&run.trigger_data)?,
                serde_json::to_string(&run.inputs)?,
                serde_json::to_string(&run.connections)?,
            ))
        })();
        let (trigger_data, inputs, connections) = match encoded {
            Ok(texts) => texts,
            Err(e) => {
                let err = self.inner.site.internal(e.to_string());
                return Box::pin(async move { Err(err) });
            }
        };
        self.write(0, move |ctx| {
            let known: Option<i64> = ctx
                .conn
                .query_row(
                    "SELECT 1 FROM definitions WHERE hash = ?1",
                    [run.definition.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .at(&ctx.site)?;
            if known.is_none() {
                return Err(StoreError::UnknownDefinition(run.definition.to_string()));
            }
            let owner = if claim { Some(ctx.owner_id()?) } else { None };
            let status = if claim {
                RunStatus::Running
            } else {
                RunStatus::Queued
            };
            let id = RunId::generate();
            let now = time::now();
            let started_at = time::truncate(run.started_at);
            ctx.conn
                .prepare_cached(
                    "INSERT INTO runs (id, playbook, definition, status, trigger, trigger_data, \
                     inputs, connections, started_at, created_at, updated_at, owner) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        id.as_str(),
                        run.playbook,
                        run.definition.as_str(),
                        status.as_str(),
                        run.trigger.to_string(),
                        trigger_data,
                        inputs,
                        connections,
                        time::format_time(started_at),
                        time::format_time(now),
                        owner.as_ref().map(RunId::as_str),
                    ])
                })
                .at(&ctx.site)?;
            Ok(RunRecord {
                id,
                playbook: run.playbook,
                definition: run.definition,
                status,
                stored_status: status,
                trigger: run.trigger,
                trigger_data: run.trigger_data,
                inputs: run.inputs,
                connections: run.connections,
                started_at,
                created_at: now,
                updated_at: now,
                finished_at: None,
                last_seq: 0,
            })
        })
    }

    fn append_with(
        &self,
        id: &RunId,
        entries: Vec<NewEntry>,
        status: Option<RunStatus>,
    ) -> StoreFuture<'static, u64> {
        if let Some(s) = status {
            if matches!(s, RunStatus::Queued | RunStatus::Interrupted) {
                return Box::pin(async move { Err(StoreError::InvalidStatus(s)) });
            }
        }
        let encoded = match self.encode_entries(id, entries) {
            Ok(encoded) => encoded,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let id = id.clone();
        self.write(encoded.len(), move |ctx| {
            append_in(ctx, &id, &encoded, status)
        })
    }
}

struct EncodedEntry {
    kind: String,
    ts: String,
    payload: String,
}

/// The writer's half of an append: checks the run is held and open, writes the entries after its
/// last seq, and moves `last_seq`, `updated_at` and (when given) the status.
fn append_in(
    ctx: &mut WriterCtx,
    id: &RunId,
    entries: &[EncodedEntry],
    status: Option<RunStatus>,
) -> Result<u64, StoreError> {
    let row: Option<(i64, String, Option<String>)> = ctx
        .conn
        .prepare_cached("SELECT last_seq, status, owner FROM runs WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .at(&ctx.site)?;
    let Some((last_seq, stored, owner)) = row else {
        return Err(StoreError::RunNotFound(id.clone()));
    };
    let stored = decode_status(&ctx.site, id, &stored)?;
    if stored.is_finished() {
        return Err(StoreError::RunFinished {
            run: id.clone(),
            status: stored,
        });
    }
    if owner.is_none() || owner.as_deref() != ctx.current_owner().map(RunId::as_str) {
        return Err(StoreError::RunNotHeld(id.clone()));
    }
    let mut seq = last_seq;
    {
        let mut insert = ctx
            .conn
            .prepare_cached(
                "INSERT INTO journal (run_id, seq, kind, ts, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .at(&ctx.site)?;
        for entry in entries {
            seq += 1;
            insert
                .execute(params![
                    id.as_str(),
                    seq,
                    entry.kind,
                    entry.ts,
                    entry.payload
                ])
                .at(&ctx.site)?;
        }
    }
    let now = time::format_time(time::now());
    let updated = match status {
        None => ctx
            .conn
            .prepare_cached("UPDATE runs SET last_seq = ?1, updated_at = ?2 WHERE id = ?3")
            .and_then(|mut stmt| stmt.execute(params![seq, now, id.as_str()])),
        Some(s) if s.is_finished() => ctx
            .conn
            .prepare_cached(
                "UPDATE runs SET last_seq = ?1, updated_at = ?2, status = ?3, finished_at = ?2, \
                 owner = NULL WHERE id = ?4",
            )
            .and_then(|mut stmt| stmt.execute(params![seq, now, s.as_str(), id.as_str()])),
        Some(s) => ctx
            .conn
            .prepare_cached(
                "UPDATE runs SET last_seq = ?1, updated_at = ?2, status = ?3 WHERE id = ?4",
            )
            .and_then(|mut stmt| stmt.execute(params![seq, now, s.as_str(), id.as_str()])),
    };
    updated.at(&ctx.site)?;
    Ok(seq.max(0) as u64)
}

/// The writer's half of a claim.
fn claim_in(ctx: &mut WriterCtx, id: &RunId) -> Result<RunRecord, StoreError> {
    let row: Option<(String, Option<String>)> = ctx
        .conn
        .query_row(
            "SELECT status, owner FROM runs WHERE id = ?1",
            [id.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .at(&ctx.site)?;
    let Some((stored, owner)) = row else {
        return Err(StoreError::RunNotFound(id.clone()));
    };
    let stored = decode_status(&ctx.site, id, &stored)?;
    if stored.is_finished() {
        return Err(StoreError::RunFinished {
            run: id.clone(),
            status: stored,
        });
    }
    let mine = ctx.current_owner().map(RunId::as_str);
    if let Some(holder) = owner.as_deref().filter(|o| Some(*o) != mine) {
        if liveness::is_alive(&ctx.owners_dir, holder) {
            return Err(held_error(&ctx.conn, &ctx.site, id, holder)?);
        }
    }
    let me = ctx.owner_id()?;
    ctx.conn
        .execute(
            "UPDATE runs SET owner = ?1, updated_at = ?2, \
             status = CASE status WHEN 'Queued' THEN 'Running' ELSE status END WHERE id = ?3",
            params![me.as_str(), time::format_time(time::now()), id.as_str()],
        )
        .at(&ctx.site)?;
    load_run(&ctx.conn, &ctx.site, id, |stored, _| stored)
}

fn held_error(
    conn: &Connection,
    site: &Site,
    id: &RunId,
    holder: &str,
) -> Result<StoreError, StoreError> {
    let who: Option<(i64, String, String)> = conn
        .query_row(
            "SELECT pid, host, started_at FROM owners WHERE id = ?1",
            [holder],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .at(site)?;
    let (pid, host, since) = who.unwrap_or((
        0,
        "an unknown host".to_string(),
        "an unknown time".to_string(),
    ));
    Ok(StoreError::RunHeld {
        run: id.clone(),
        pid,
        host,
        since,
    })
}

/// The writer's half of a prune: one chunk of finished runs older than `cutoff`; (runs, entries).
fn prune_chunk(ctx: &mut WriterCtx, cutoff: &str) -> Result<(u64, u64), StoreError> {
    let mut stmt = ctx
        .conn
        .prepare_cached(
            "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE status IN \
             ('Successful', 'Partially Successful', 'Failed', 'Cancelled') AND updated_at < ?1 \
             LIMIT ?2) RETURNING last_seq",
        )
        .at(&ctx.site)?;
    let seqs = stmt
        .query_map(params![cutoff, PRUNE_CHUNK], |r| r.get::<_, i64>(0))
        .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
        .at(&ctx.site)?;
    let entries = seqs.iter().map(|&s| s.max(0) as u64).sum();
    Ok((seqs.len() as u64, entries))
}

/// The writer's end of a prune: unused definitions and owners, then the freed pages.
fn prune_finish(ctx: &mut WriterCtx, cutoff: &str) -> Result<u64, StoreError> {
    let definitions = ctx
        .conn
        .execute(
            "DELETE FROM definitions WHERE created_at < ?1 AND hash NOT IN \
             (SELECT definition FROM runs)",
            [cutoff],
        )
        .at(&ctx.site)?;
    let me = ctx.current_owner().map(|o| o.to_string());
    ctx.conn
        .execute(
            "DELETE FROM owners WHERE id IS NOT ?1 AND id NOT IN \
             (SELECT owner FROM runs WHERE owner IS NOT NULL)",
            [me],
        )
        .at(&ctx.site)?;
    liveness::remove_dead(&ctx.owners_dir, ctx.current_owner());
    // The pragma frees one page per step: step it to the end.
    ctx.conn
        .prepare("PRAGMA incremental_vacuum")
        .and_then(|mut stmt| {
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            Ok(())
        })
        .at(&ctx.site)?;
    ctx.checkpoint_after_commit = true;
    Ok(definitions as u64)
}

fn database_bytes(conn: &Connection, site: &Site) -> Result<u64, StoreError> {
    let pages: i64 = conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .at(site)?;
    let size: i64 = conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .at(site)?;
    Ok((pages.max(0) * size.max(0)) as u64)
}

impl Inner {
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.site, &self.options)?;
                conn.pragma_update(None, "query_only", true)
                    .at(&self.site)?;
                conn
            }
        };
        let result = f(&conn);
        let mut pool = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if pool.len() < READER_POOL {
            pool.push(conn);
        }
        result
    }

    /// A run's status as shown: `Running`/`Waiting` with no live holder reads `Interrupted`.
    fn shown_status(
        &self,
        stored: RunStatus,
        owner: Option<&str>,
        alive: &mut HashMap<String, bool>,
    ) -> RunStatus {
        if !stored.is_active() {
            return stored;
        }
        let held = owner.is_some_and(|o| {
            if self.my_owner.get().is_some_and(|me| me.as_str() == o) {
                return true;
            }
            *alive
                .entry(o.to_string())
                .or_insert_with(|| liveness::is_alive(&self.owners_dir, o))
        });
        if held {
            stored
        } else {
            RunStatus::Interrupted
        }
    }

    fn list(&self, conn: &Connection, query: &RunQuery) -> Result<RunPage, StoreError> {
        let limit = query
            .limit
            .unwrap_or(DEFAULT_LIST_LIMIT)
            .clamp(1, MAX_LIST_LIMIT);
        let mut after = match &query.cursor {
            Some(cursor) => Some(decode_cursor(cursor)?),
            None => None,
        };
        // `Interrupted` is stored as `Running` or `Waiting`; liveness then sorts them out below.
        let stored: Vec<&str> = match query.status {
            None => Vec::new(),
            Some(RunStatus::Interrupted) => vec!["Running", "Waiting"],
            Some(s) => vec![s.as_str()],
        };
        let mut sql = String::from(
            "SELECT id, playbook, status, owner, trigger, created_at, updated_at FROM runs \
             WHERE (?1 IS NULL OR playbook = ?1) AND (?2 IS NULL OR id < ?2)",
        );
        if !stored.is_empty() {
            let quoted: Vec<String> = stored.iter().map(|s| format!("'{s}'")).collect();
            sql.push_str(&format!(" AND status IN ({})", quoted.join(", ")));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?3");
        let mut stmt = conn.prepare_cached(&sql).at(&self.site)?;
        let mut alive = HashMap::new();
        let mut runs = Vec::new();
        // Liveness filters after SQL: read chunks until the page (and one more, to know whether
        // a next page exists) is full or the runs end.
        loop {
            let want = (limit + 1 - runs.len()).max(64) as i64;
            let rows = stmt
                .query_map(
                    params![query.playbook, after.as_ref().map(RunId::as_str), want],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, String>(6)?,
                        ))
                    },
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .at(&self.site)?;
            let exhausted = (rows.len() as i64) < want;
            for (id, playbook, status, owner, trigger, created, updated) in rows {
                let id = decode_id(&self.site, &id)?;
                after = Some(id.clone());
                let stored = decode_status(&self.site, &id, &status)?;
                let status = self.shown_status(stored, owner.as_deref(), &mut alive);
                if query.status.is_some_and(|wanted| wanted != status) {
                    continue;
                }
                runs.push(RunSummary {
                    trigger: decode_trigger(&self.site, &id, &trigger)?,
                    created_at: decode_time(&self.site, &id, &created)?,
                    updated_at: decode_time(&self.site, &id, &updated)?,
                    id,
                    playbook,
                    status,
                });
                if runs.len() > limit {
                    break;
                }
            }
            if runs.len() > limit || exhausted {
                break;
            }
        }
        let next_cursor = if runs.len() > limit {
            runs.truncate(limit);
            runs.last().map(|r| encode_cursor(&r.id))
        } else {
            None
        };
        Ok(RunPage { runs, next_cursor })
    }
}

fn encode_cursor(id: &RunId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("r1:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<RunId, StoreError> {
    let bad = || StoreError::BadCursor(cursor.chars().take(64).collect());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let id = text.strip_prefix("r1:").ok_or_else(bad)?;
    RunId::parse(id).map_err(|_| bad())
}

/// Reads one run whole; `shown` gives the status to show from the stored one and the owner.
fn load_run(
    conn: &Connection,
    site: &Site,
    id: &RunId,
    shown: impl FnOnce(RunStatus, Option<&str>) -> RunStatus,
) -> Result<RunRecord, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT playbook, definition, status, trigger, trigger_data, inputs, connections, \
             started_at, created_at, updated_at, finished_at, owner, last_seq FROM runs WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.query_row([id.as_str()], RawRun::from_row).optional())
        .at(site)?;
    let Some(raw) = row else {
        return Err(StoreError::RunNotFound(id.clone()));
    };
    let stored = decode_status(site, id, &raw.status)?;
    let definition = DefinitionHash::parse(&raw.definition)
        .ok_or_else(|| site.corrupt(format!("run {id} has an invalid definition hash")))?;
    let finished_at = match &raw.finished_at {
        Some(t) => Some(decode_time(site, id, t)?),
        None => None,
    };
    Ok(RunRecord {
        id: id.clone(),
        status: shown(stored, raw.owner.as_deref()),
        stored_status: stored,
        definition,
        trigger: decode_trigger(site, id, &raw.trigger)?,
        trigger_data: decode_json(site, id, &raw.trigger_data)?,
        inputs: decode_json(site, id, &raw.inputs)?,
        connections: serde_json::from_str(&raw.connections)
            .map_err(|e| site.corrupt(format!("run {id}: connections: {e}")))?,
        started_at: decode_time(site, id, &raw.started_at)?,
        created_at: decode_time(site, id, &raw.created_at)?,
        updated_at: decode_time(site, id, &raw.updated_at)?,
        finished_at,
        playbook: raw.playbook,
        last_seq: raw.last_seq.max(0) as u64,
    })
}

struct RawRun {
    playbook: String,
    definition: String,
    status: String,
    trigger: String,
    trigger_data: String,
    inputs: String,
    connections: String,
    started_at: String,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
    owner: Option<String>,
    last_seq: i64,
}

impl RawRun {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawRun> {
        Ok(RawRun {
            playbook: r.get(0)?,
            definition: r.get(1)?,
            status: r.get(2)?,
            trigger: r.get(3)?,
            trigger_data: r.get(4)?,
            inputs: r.get(5)?,
            connections: r.get(6)?,
            started_at: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
            finished_at: r.get(10)?,
            owner: r.get(11)?,
            last_seq: r.get(12)?,
        })
    }
}

fn decode_id(site: &Site, text: &str) -> Result<RunId, StoreError> {
    RunId::parse(text).map_err(|_| site.corrupt(format!("a run has an invalid id '{text}'")))
}

fn decode_status(site: &Site, id: &RunId, text: &str) -> Result<RunStatus, StoreError> {
    RunStatus::parse(text).ok_or_else(|| site.corrupt(format!("run {id} has status '{text}'")))
}

fn decode_trigger(site: &Site, id: &RunId, text: &str) -> Result<Trigger, StoreError> {
    Trigger::parse(text).ok_or_else(|| site.corrupt(format!("run {id} has trigger '{text}'")))
}

fn decode_time(site: &Site, id: &RunId, text: &str) -> Result<DateTime<Utc>, StoreError> {
    time::parse_time(text).ok_or_else(|| site.corrupt(format!("run {id} has time '{text}'")))
}

fn decode_json(site: &Site, id: &RunId, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| site.corrupt(format!("run {id}: invalid JSON: {e}")))
}

/// Whether a store file is at the path, checked to be an SQLite database before SQLite opens it
/// (SQLite would take an empty file for a new database: a silent fresh start).
fn check_existing(site: &Site) -> Result<bool, StoreError> {
    let path = site.path.display().to_string();
    let meta = match std::fs::metadata(&site.path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(StoreError::CannotOpen {
                path,
                reason: e.to_string(),
            })
        }
    };
    if !meta.is_file() {
        return Err(StoreError::NotAStore {
            path,
            reason: "it is not a regular file".to_string(),
        });
    }
    let mut header = Vec::with_capacity(100);
    std::fs::File::open(&site.path)
        .and_then(|f| f.take(100).read_to_end(&mut header))
        .map_err(|e| StoreError::CannotOpen {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if header.is_empty() {
        return Err(StoreError::NotAStore {
            path,
            reason: "the file is empty".to_string(),
        });
    }
    let magic_len = header.len().min(SQLITE_MAGIC.len());
    if header[..magic_len] != SQLITE_MAGIC[..magic_len] {
        return Err(StoreError::NotAStore {
            path,
            reason: "it is not an SQLite database".to_string(),
        });
    }
    if header.len() < 100 {
        return Err(StoreError::Corrupt {
            path,
            detail: format!("the file is truncated ({} bytes)", meta.len()),
        });
    }
    Ok(true)
}

/// Builds a new store in a temporary file beside `path`, then links it into place: a store
/// exists whole or not at all. Another process creating the same store at the same time wins
/// or loses the link; both then open the one store.
fn create_store(site: &Site) -> Result<(), StoreError> {
    let path = &site.path;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".to_string());
    let tmp = path.with_file_name(format!(".{name}.new-{}", RunId::generate()));
    let tmp_site = Site {
        path: tmp.clone(),
        busy_ms: site.busy_ms,
    };
    let built = build_schema(&tmp_site);
    let linked = built.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // File systems without hard links: a rename, unless a store appeared meanwhile.
        Err(_) if !path.exists() => {
            std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, &e))
        }
        Err(_) => Ok(()),
    });
    for leftover in ["", "-wal", "-shm", "-journal"] {
        let mut name = tmp.clone().into_os_string();
        name.push(leftover);
        let _ = std::fs::remove_file(name);
    }
    linked?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new name is durable too (best effort: not every platform can open a directory).
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn build_schema(site: &Site) -> Result<(), StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&site.path, flags).at(site)?;
    // auto_vacuum must be set before the first table; it lets prune give pages back.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .at(site)?;
    conn.pragma_update(None, "application_id", schema::APPLICATION_ID)
        .at(site)?;
    migrate(&conn, site)?;
    conn.pragma_update(None, "journal_mode", "WAL").at(site)?;
    // Closing the only connection checkpoints the WAL into the file and removes it.
    conn.close().map_err(|(_, e)| site.sqlite(e))
}

/// A connection with the store's settings.
fn connect(site: &Site, options: &OpenOptions) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&site.path, flags).at(site)?;
    conn.busy_timeout(options.busy_timeout).at(site)?;
    let synchronous = match options.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)
        .at(site)?;
    conn.pragma_update(None, "foreign_keys", true).at(site)?;
    // A large transaction's WAL is cut back to this size after the checkpoint.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .at(site)?;
    Ok(conn)
}

/// Refuses an SQLite database that is not a codeless store (its first read also finds a
/// truncated or damaged file).
fn check_identity(conn: &Connection, site: &Site) -> Result<(), StoreError> {
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .at(site)?;
    if app != schema::APPLICATION_ID {
        return Err(StoreError::NotAStore {
            path: site.path.display().to_string(),
            reason: format!(
                "it is an SQLite database of another application (application_id {app:#x})"
            ),
        });
    }
    Ok(())
}

/// Brings the schema to [`schema::VERSION`]; a newer one is refused.
fn migrate(conn: &Connection, site: &Site) -> Result<(), StoreError> {
    let version = |conn: &Connection| -> Result<i64, StoreError> {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .at(site)
    };
    let newer = |found: i64| StoreError::NewerSchema {
        path: site.path.display().to_string(),
        found,
        supported: schema::VERSION,
    };
    let found = version(conn)?;
    if found > schema::VERSION {
        return Err(newer(found));
    }
    if found == schema::VERSION {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE").at(site)?;
    let migrated = (|| {
        // Another process may have migrated while this one waited for the lock.
        let found = version(conn)?;
        if found > schema::VERSION {
            return Err(newer(found));
        }
        for migration in &schema::MIGRATIONS[found.max(0) as usize..] {
            conn.execute_batch(migration).at(site)?;
        }
        conn.pragma_update(None, "user_version", schema::VERSION)
            .at(site)?;
        conn.execute_batch("COMMIT").at(site)
    })();
    if migrated.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    migrated
}

/// The store runs in WAL mode (set at creation; persistent in the file).
fn ensure_wal(conn: &Connection, site: &Site) -> Result<(), StoreError> {
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .at(site)?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.pragma_update(None, "journal_mode", "WAL").at(site)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn put_definition(&self, bytes: Vec<u8>) -> StoreFuture<'_, DefinitionHash> {
        let hash = DefinitionHash::of(&bytes);
        self.write(0, move |ctx| {
            let now = time::now();
            let stale = time::format_time(now - DEFINITION_REFRESH);
            let now = time::format_time(now);
            let inserted = ctx
                .conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO definitions (hash, bytes, created_at) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut stmt| stmt.execute(params![hash.as_str(), bytes, now]))
                .at(&ctx.site)?;
            if inserted == 0 {
                ctx.conn
                    .prepare_cached(
                        "UPDATE definitions SET created_at = ?1 WHERE hash = ?2 AND created_at < ?3",
                    )
                    .and_then(|mut stmt| stmt.execute(params![now, hash.as_str(), stale]))
                    .at(&ctx.site)?;
            }
            Ok(hash)
        })
    }

    fn get_definition<'a>(&'a self, hash: &'a DefinitionHash) -> StoreFuture<'a, Option<Vec<u8>>> {
        let hash = hash.clone();
        self.read(move |inner, conn| {
            conn.query_row(
                "SELECT bytes FROM definitions WHERE hash = ?1",
                [hash.as_str()],
                |r| r.get(0),
            )
            .optional()
            .at(&inner.site)
        })
    }

    fn create_run(&self, run: NewRun) -> StoreFuture<'_, RunRecord> {
        self.insert_run(run, true)
    }

    fn queue_run(&self, run: NewRun) -> StoreFuture<'_, RunRecord> {
        self.insert_run(run, false)
    }

    fn claim_run<'a>(&'a self, id: &'a RunId) -> StoreFuture<'a, RunRecord> {
        let id = id.clone();
        self.write(0, move |ctx| claim_in(ctx, &id))
    }

    fn release_run<'a>(&'a self, id: &'a RunId) -> StoreFuture<'a, ()> {
        let id = id.clone();
        self.write(0, move |ctx| {
            let mine = ctx.current_owner().map(|o| o.to_string());
            let changed = ctx
                .conn
                .execute(
                    "UPDATE runs SET owner = NULL, updated_at = ?1 WHERE id = ?2 AND owner = ?3",
                    params![time::format_time(time::now()), id.as_str(), mine],
                )
                .at(&ctx.site)?;
            if changed == 1 {
                return Ok(());
            }
            let exists: Option<i64> = ctx
                .conn
                .query_row("SELECT 1 FROM runs WHERE id = ?1", [id.as_str()], |r| {
                    r.get(0)
                })
                .optional()
                .at(&ctx.site)?;
            Err(match exists {
                Some(_) => StoreError::RunNotHeld(id),
                None => StoreError::RunNotFound(id),
            })
        })
    }

    fn append<'a>(&'a self, id: &'a RunId, entries: Vec<NewEntry>) -> StoreFuture<'a, u64> {
        self.append_with(id, entries, None)
    }

    fn set_status<'a>(
        &'a self,
        id: &'a RunId,
        status: RunStatus,
        entries: Vec<NewEntry>,
    ) -> StoreFuture<'a, u64> {
        self.append_with(id, entries, Some(status))
    }

    fn get_run<'a>(&'a self, id: &'a RunId) -> StoreFuture<'a, RunRecord> {
        let id = id.clone();
        self.read(move |inner, conn| {
            let mut alive = HashMap::new();
            load_run(conn, &inner.site, &id, |stored, owner| {
                inner.shown_status(stored, owner, &mut alive)
            })
        })
    }

    fn list_runs(&self, query: RunQuery) -> StoreFuture<'_, RunPage> {
        self.read(move |inner, conn| inner.list(conn, &query))
    }

    fn read_journal<'a>(
        &'a self,
        id: &'a RunId,
        after: u64,
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>> {
        let id = id.clone();
        self.read(move |inner, conn| {
            let site = &inner.site;
            let rows = conn
                .prepare_cached(
                    "SELECT seq, kind, ts, payload FROM journal WHERE run_id = ?1 AND seq > ?2 \
                     ORDER BY seq LIMIT ?3",
                )
                .and_then(|mut stmt| {
                    stmt.query_map(
                        params![
                            id.as_str(),
                            after.min(i64::MAX as u64) as i64,
                            limit.min(i64::MAX as usize) as i64
                        ],
                        |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                            ))
                        },
                    )?
                    .collect::<Result<Vec<_>, _>>()
                })
                .at(site)?;
            if rows.is_empty() {
                let exists: Option<i64> = conn
                    .query_row("SELECT 1 FROM runs WHERE id = ?1", [id.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()
                    .at(site)?;
                if exists.is_none() {
                    return Err(StoreError::RunNotFound(id));
                }
            }
            rows.into_iter()
                .map(|(seq, kind, ts, payload)| {
                    Ok(Entry {
                        seq: seq.max(0) as u64,
                        ts: decode_time(site, &id, &ts)?,
                        payload: decode_json(site, &id, &payload)?,
                        kind,
                    })
                })
                .collect()
        })
    }

    fn prune(&self, before: DateTime<Utc>) -> StoreFuture<'_, PruneReport> {
        let cutoff = time::format_time(before);
        Box::pin(async move {
            let bytes_before = self
                .write(0, |ctx| database_bytes(&ctx.conn, &ctx.site))
                .await?;
            let mut report = PruneReport {
                bytes_before,
                ..PruneReport::default()
            };
            loop {
                let chunk_cutoff = cutoff.clone();
                let (runs, entries) = self
                    .write(0, move |ctx| prune_chunk(ctx, &chunk_cutoff))
                    .await?;
                report.runs += runs;
                report.entries += entries;
                if runs == 0 {
                    break;
                }
            }
            let finish_cutoff = cutoff.clone();
            report.definitions = self
                .write(0, move |ctx| prune_finish(ctx, &finish_cutoff))
                .await?;
            report.bytes_after = self
                .write(0, |ctx| database_bytes(&ctx.conn, &ctx.site))
                .await?;
            Ok(report)
        })
    }

    fn commit_stats(&self) -> CommitStats {
        self.inner.writer.stats()
    }
}
