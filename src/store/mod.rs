//! The durable store (DESIGN §8): runs, their append-only journals and the definitions they run,
//! and the tables later features fill (API keys, idempotency keys, schedules, shared state). The
//! engine talks to a [`Store`]; [`SqliteStore`] is the embedded backend, and a PostgreSQL backend
//! (§12) implements the same trait over the same tables. Nothing here knows about playbooks: a
//! journal entry is `(kind, ts, payload)` and a definition is bytes.
//!
//! # Schema ([`schema`])
//! `runs` (one row per run: playbook, definition hash, status, trigger, trigger data, inputs,
//! connections file paths, times, the owner holding it, `last_seq`), `journal` (`run_id`, `seq`,
//! `kind`, `ts`, `payload` JSON; unique `(run_id, seq)`; deleted with its run), `definitions`
//! (SHA-256 hex → bytes), `owners` (the processes that held runs: pid, host), and, created now so
//! the schema is one: `api_keys`, `idempotency_keys`, `schedules`, `schedule_events`,
//! `shared_data`, `shared_lists`. Times are RFC 3339 UTC text with milliseconds
//! (`2026-12-04T18:47:50.123Z`), so text order is time order. The file carries
//! `PRAGMA application_id` ([`schema::APPLICATION_ID`]) and `PRAGMA user_version` (the schema
//! version): a store from a newer codeless is refused, an older one is migrated at open, and a
//! file that exists but is no codeless store is an error, never a fresh start. A new store is
//! built in a temporary file and linked into place, so a store either exists whole or not at all
//! (a kill during creation leaves no half-made store behind).
//!
//! # Durability and the group commit ([`writer`])
//! WAL mode with `synchronous=FULL` ([`Durability::Full`], the default): a commit returns after
//! the WAL is fsynced. [`Durability::Normal`] skips that fsync: a commit survives the process being
//! killed, not a power loss (SQLite's documented WAL/NORMAL behaviour). Every write (journal
//! appends, run creation and status, claims, definitions, prune) goes to one writer thread owning
//! the one write connection. It takes every request waiting in its queue (up to
//! [`writer::MAX_BATCH_JOBS`]), runs each in its own SAVEPOINT inside one `BEGIN IMMEDIATE`
//! transaction (a request that fails is rolled back alone), commits once, then answers every
//! request on its tokio oneshot: an `append` resolves only once its entries are on disk, and the
//! engine awaits it without blocking a runtime thread. While one commit is being fsynced the next
//! requests queue up, so many runs and tasks share each fsync; [`Store::commit_stats`] counts
//! commits and entries (events per commit). Reads use a small pool of other connections (WAL
//! readers do not wait for the writer), on tokio's blocking threads.
//!
//! # Journal
//! The store assigns `seq`: 1, 2, 3... per run, gap-free and strictly increasing, in the order the
//! writer receives the appends; an append is all-or-nothing. Only the holder of a run (below) may
//! append to it or change its status, and a finished run's journal is closed. One entry may not
//! exceed [`OpenOptions::max_entry_bytes`] (default [`DEFAULT_MAX_ENTRY_BYTES`]): a larger one fails
//! the whole append with [`StoreError::EntryTooLarge`] and nothing of it is written, so the caller
//! decides what to journal instead (a truncated body, a reference to the file store).
//!
//! # Liveness ([`liveness`])
//! "The process running a run holds a lock on it while it lives" (§8). A store handle that creates
//! or claims a run first becomes an *owner*: it creates `<store>-owners/<owner id>.lock` beside the
//! database and holds an exclusive `flock` on it (std's `File::try_lock`) for as long as it lives;
//! the kernel drops the lock when the process dies, however it dies. The run's row names its owner.
//! Whoever reads a run whose stored status is `Running` or `Waiting` tests the owner's file with a
//! shared `try_lock`: it succeeds only when no live process holds the file, and the run then reads
//! `Interrupted` (so does such a run with no owner). Testers never block one another (shared locks)
//! and an owner id is never reused, so "dead" is final. Claiming a run checks its owner the same
//! way inside the write transaction: a live holder makes the claim fail with
//! [`StoreError::RunHeld`] (its pid and host from the `owners` table). One lock per process rather
//! than per run: a process running a thousand runs holds one file. A PostgreSQL backend replaces
//! the file lock with a renewed lease (`runs.lease_expires_at`, already in the schema).
//!
//! # Errors ([`StoreError`])
//! SQLite's result codes map to one error each: `SQLITE_NOTADB` and a file that is not an SQLite
//! database (checked from its header before SQLite opens it) → [`StoreError::NotAStore`];
//! `SQLITE_CORRUPT` (a truncated or damaged file) → [`StoreError::Corrupt`]; `SQLITE_BUSY` after
//! the busy timeout (5 s by default) → [`StoreError::Locked`]; `SQLITE_FULL` → [`StoreError::DiskFull`];
//! `SQLITE_READONLY` → [`StoreError::ReadOnly`]; `SQLITE_CANTOPEN` → [`StoreError::CannotOpen`];
//! `SQLITE_IOERR` → [`StoreError::Io`]. [`StoreError::unusable`] tells the CLI which mean exit 2.

mod error;
mod id;
pub mod liveness;
pub mod schema;
mod sqlite;
mod time;
pub mod writer;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::Value;

pub use error::StoreError;
pub use id::RunId;
pub use sqlite::SqliteStore;
pub use time::{format_time, parse_time};

/// The default bound on one journal entry (its kind and JSON payload), in bytes: twice the
/// default `response-size` limit, so a task's output with a whole HTTP body fits.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 32 * 1024 * 1024;

/// `runs list` and `GET /v1/runs` show this many runs unless told otherwise (§8, §9).
pub const DEFAULT_LIST_LIMIT: usize = 50;

/// The most runs one page holds (§9: `limit` 500 at most).
pub const MAX_LIST_LIMIT: usize = 500;

/// How long a write waits for another process's write transaction before failing with
/// [`StoreError::Locked`] (§8: "locked by another process beyond a few seconds").
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A future the store resolves.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// When a commit counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every commit; a commit survives a power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: no fsync at commit; a commit survives the process being killed, and
    /// the last commits may be lost (never corrupted) on a power loss or an OS crash.
    Normal,
}

impl Durability {
    /// The name the `--durability` option takes.
    pub fn name(self) -> &'static str {
        match self {
            Durability::Full => "full",
            Durability::Normal => "normal",
        }
    }

    pub fn parse(name: &str) -> Option<Durability> {
        match name {
            "full" => Some(Durability::Full),
            "normal" => Some(Durability::Normal),
            _ => None,
        }
    }
}

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub durability: Durability,
    /// How long a write waits for another process's write transaction.
    pub busy_timeout: Duration,
    /// Bytes one journal entry may take (kind and JSON payload).
    pub max_entry_bytes: usize,
    /// Create the store when the path does not exist (else [`StoreError::CannotOpen`]).
    pub create: bool,
    /// A bound on the database's size (SQLite's `max_page_count`): past it writes fail with
    /// [`StoreError::DiskFull`], as on a full disk. `None`: as large as the disk allows.
    pub max_size_bytes: Option<u64>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::Full,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            create: true,
            max_size_bytes: None,
        }
    }
}

/// A run's status in the store (§8). `Interrupted` is never written: it is how a `Running` or
/// `Waiting` run reads when no live process holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Queued,
    Running,
    Interrupted,
    Waiting,
    Successful,
    PartiallySuccessful,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Interrupted,
        RunStatus::Waiting,
        RunStatus::Successful,
        RunStatus::PartiallySuccessful,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The name DESIGN uses, as the store and the run document write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Running => "Running",
            RunStatus::Interrupted => "Interrupted",
            RunStatus::Waiting => "Waiting",
            RunStatus::Successful => "Successful",
            RunStatus::PartiallySuccessful => "Partially Successful",
            RunStatus::Failed => "Failed",
            RunStatus::Cancelled => "Cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the run has ended: its journal is closed and prune may delete it.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Successful
                | RunStatus::PartiallySuccessful
                | RunStatus::Failed
                | RunStatus::Cancelled
        )
    }

    /// Whether a process holding the run is running it (and so would read `Interrupted` if it died).
    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::Waiting)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run started (§8): `cli`, `webhook`, `command`, `schedule:NAME`, `event:NAME` (an event of
/// schedule NAME) or `retry:RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Cli,
    Webhook,
    Command,
    Schedule(String),
    Event(String),
    Retry(RunId),
}

impl Trigger {
    pub fn parse(text: &str) -> Option<Trigger> {
        match text {
            "cli" => return Some(Trigger::Cli),
            "webhook" => return Some(Trigger::Webhook),
            "command" => return Some(Trigger::Command),
            _ => {}
        }
        let (kind, name) = text.split_once(':')?;
        match kind {
            "schedule" if !name.is_empty() => Some(Trigger::Schedule(name.to_string())),
            "event" if !name.is_empty() => Some(Trigger::Event(name.to_string())),
            "retry" => RunId::parse(name).ok().map(Trigger::Retry),
            _ => None,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Cli => f.write_str("cli"),
            Trigger::Webhook => f.write_str("webhook"),
            Trigger::Command => f.write_str("command"),
            Trigger::Schedule(name) => write!(f, "schedule:{name}"),
            Trigger::Event(name) => write!(f, "event:{name}"),
            Trigger::Retry(run) => write!(f, "retry:{run}"),
        }
    }
}

/// A definition's content hash: SHA-256 of its bytes, 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefinitionHash(String);

impl DefinitionHash {
    pub fn of(bytes: &[u8]) -> DefinitionHash {
        use sha2::Digest;
        DefinitionHash(hex::encode(sha2::Sha256::digest(bytes)))
    }

    /// A hash as text, checked to be one.
    pub fn parse(text: &str) -> Option<DefinitionHash> {
        let valid = text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| DefinitionHash(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DefinitionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The playbook's `name` (or the command's name for a command run).
    pub playbook: String,
    /// The bundle it runs, put with [`Store::put_definition`] first.
    pub definition: DefinitionHash,
    pub trigger: Trigger,
    /// The trigger document (the incident or event), as given.
    pub trigger_data: Value,
    pub inputs: Value,
    /// The connections files' paths, never their values (§8: no secret at rest).
    pub connections: Vec<String>,
    pub started_at: DateTime<Utc>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub playbook: String,
    pub definition: DefinitionHash,
    /// As shown: `Interrupted` when the stored status is `Running` or `Waiting` and no live
    /// process holds the run.
    pub status: RunStatus,
    /// As written by the last holder (never `Interrupted`): what a resume continues from.
    pub stored_status: RunStatus,
    pub trigger: Trigger,
    pub trigger_data: Value,
    pub inputs: Value,
    pub connections: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The seq of the run's last journal entry (0: none yet).
    pub last_seq: u64,
}

/// A run as `runs list` shows it (§8: `id`, `playbook`, `status`, `trigger`, `created_at`,
/// `updated_at`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: RunId,
    pub playbook: String,
    pub status: RunStatus,
    pub trigger: Trigger,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which runs to list: newest first, optionally one playbook's or one status's.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub playbook: Option<String>,
    pub status: Option<RunStatus>,
    /// Runs per page: [`DEFAULT_LIST_LIMIT`] when `None`, at least 1, at most [`MAX_LIST_LIMIT`].
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    pub runs: Vec<RunSummary>,
    /// Opaque; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A journal entry to append. The store gives it its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub kind: String,
    pub ts: DateTime<Utc>,
    pub payload: Value,
}

impl NewEntry {
    /// An entry stamped now.
    pub fn now(kind: impl Into<String>, payload: Value) -> NewEntry {
        NewEntry {
            kind: kind.into(),
            ts: Utc::now(),
            payload,
        }
    }
}

/// A journal entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub kind: String,
    pub ts: DateTime<Utc>,
    pub payload: Value,
}

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    pub runs: u64,
    pub entries: u64,
    pub definitions: u64,
    /// The database's size (pages × page size) before and after, in bytes.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Counters of the group commit since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    /// Transactions committed.
    pub commits: u64,
    /// Journal entries in them.
    pub entries: u64,
    /// Requests (appends, creations, claims...) in them.
    pub requests: u64,
    /// Time spent committing (the fsync), in nanoseconds.
    pub commit_nanos: u64,
}

impl CommitStats {
    pub fn entries_per_commit(&self) -> f64 {
        if self.commits == 0 {
            0.0
        } else {
            self.entries as f64 / self.commits as f64
        }
    }
}

/// The store's operations. Every method that writes resolves only once the write is durable
/// (committed under the store's [`Durability`]). Writes to a run (append, status) need the run to
/// be held by this store handle: [`Store::create_run`] and [`Store::claim_run`] take it,
/// [`Store::release_run`] and a finished status let it go.
///
/// A write is queued when its method is called, not when its future is first polled: writes
/// called one after another are committed in that order, and awaiting the last one's future
/// means the earlier ones are durable too (each future still carries its own result). So the
/// engine may go on with a step that has no effect outside the run (an idempotent utility)
/// while its entry is being committed, and await the journal only before an effect that must
/// not be repeated, instead of paying one commit per step. A dropped future does not cancel its
/// write. Futures must be polled on a tokio runtime (reads run on its blocking threads).
pub trait Store: Send + Sync {
    /// Stores a definition (a bundle of playbook, integrations and nested playbooks, in the format
    /// the caller chooses) by its SHA-256; storing the same bytes again is a no-op.
    fn put_definition(&self, bytes: Vec<u8>) -> StoreFuture<'_, DefinitionHash>;

    /// A definition's bytes, `None` when the store has no such hash.
    fn get_definition<'a>(&'a self, hash: &'a DefinitionHash) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Creates a run, `Running` and held by this handle: durable before it returns (what a 202
    /// waits for).
    fn create_run(&self, run: NewRun) -> StoreFuture<'_, RunRecord>;

    /// Creates a run `Queued` and held by no one, for a process to claim later.
    fn queue_run(&self, run: NewRun) -> StoreFuture<'_, RunRecord>;

    /// Takes a run that no live process holds (a queued or interrupted one): it becomes this
    /// handle's, `Queued` becoming `Running`. Fails with [`StoreError::RunHeld`] when a live
    /// process holds it and [`StoreError::RunFinished`] when it has ended; claiming a run this
    /// handle holds is a no-op.
    fn claim_run<'a>(&'a self, id: &'a RunId) -> StoreFuture<'a, RunRecord>;

    /// Lets a held run go without finishing it (it then reads `Interrupted` until claimed again).
    fn release_run<'a>(&'a self, id: &'a RunId) -> StoreFuture<'a, ()>;

    /// Appends entries to a held run's journal, all or none; resolves with the run's last seq once
    /// they are durable.
    fn append<'a>(&'a self, id: &'a RunId, entries: Vec<NewEntry>) -> StoreFuture<'a, u64>;

    /// Sets a held run's status (`Running`, `Waiting` or a finished one) with entries appended in
    /// the same transaction (a run's end and its last entry are one write). A finished status
    /// closes the journal and lets the run go. Resolves with the run's last seq.
    fn set_status<'a>(
        &'a self,
        id: &'a RunId,
        status: RunStatus,
        entries: Vec<NewEntry>,
    ) -> StoreFuture<'a, u64>;

    /// A run; [`StoreError::RunNotFound`] when there is none.
    fn get_run<'a>(&'a self, id: &'a RunId) -> StoreFuture<'a, RunRecord>;

    /// Runs, newest first, one page at a time.
    fn list_runs(&self, query: RunQuery) -> StoreFuture<'_, RunPage>;

    /// Up to `limit` journal entries of a run with seq greater than `after`, in seq order.
    fn read_journal<'a>(
        &'a self,
        id: &'a RunId,
        after: u64,
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>>;

    /// Deletes finished runs last updated before `before`, their journals and the definitions no
    /// run uses any more, then gives the space back to the file system.
    fn prune(&self, before: DateTime<Utc>) -> StoreFuture<'_, PruneReport>;

    /// The group commit's counters.
    fn commit_stats(&self) -> CommitStats;
}
