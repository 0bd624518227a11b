//! One error type for every store backend, and the mapping of SQLite's result codes onto it.

use std::path::Path;

use rusqlite::ErrorCode;

use super::{RunId, RunStatus};

/// What can go wrong with a store. Clone: one failed commit answers every request in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a codeless store: {reason} (give another --store, or move the file away to start a new store there)")]
    NotAStore { path: String, reason: String },
    #[error("store {path} is corrupt: {detail} (restore it from a backup, or move it away to start a new store)")]
    Corrupt { path: String, detail: String },
    #[error("store {path} was written by a newer codeless (schema version {found}; this codeless reads up to version {supported}): upgrade codeless to use it")]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "store {path} is locked by another process: its write did not end within {waited_ms} ms"
    )]
    Locked { path: String, waited_ms: u64 },
    #[error("store {path}: the disk (or the store's size limit) is full: free some space, or delete old runs with `codeless runs prune`")]
    DiskFull { path: String },
    #[error(
        "store {path} cannot be written: the file, its directory or its file system is read-only"
    )]
    ReadOnly { path: String },
    #[error("cannot open store {path}: {reason}")]
    CannotOpen { path: String, reason: String },
    #[error("store {path}: I/O error: {detail}")]
    Io { path: String, detail: String },
    #[error("no run {0} in the store")]
    RunNotFound(RunId),
    #[error("run {run} is held by a live process (pid {pid} on {host}, since {since}): it cannot be taken while that process runs")]
    RunHeld {
        run: RunId,
        pid: i64,
        host: String,
        since: String,
    },
    #[error("run {0} is not held by this process: claim it before writing to it")]
    RunNotHeld(RunId),
    #[error("run {run} has finished ({status}): its journal is closed")]
    RunFinished { run: RunId, status: RunStatus },
    #[error("a run's status cannot be set to {0}")]
    InvalidStatus(RunStatus),
    #[error("no definition {0} in the store")]
    UnknownDefinition(String),
    #[error("journal entry '{kind}' of run {run} is {size} bytes, over the {limit}-byte limit on one entry: nothing of this append was written")]
    EntryTooLarge {
        run: RunId,
        kind: String,
        size: usize,
        limit: usize,
    },
    #[error("'{0}' is not a run id")]
    BadRunId(String),
    #[error("invalid cursor '{0}': pass the next_cursor of the previous page")]
    BadCursor(String),
    #[error("the store has been closed")]
    Closed,
    #[error("store {path}: {detail}")]
    Internal { path: String, detail: String },
}

impl StoreError {
    /// Whether the store itself cannot be used (corrupt, locked, newer, full, unreadable...): the
    /// CLI's exit status 2 (§8). The other errors are about one run or one request.
    pub fn unusable(&self) -> bool {
        matches!(
            self,
            StoreError::NotAStore { .. }
                | StoreError::Corrupt { .. }
                | StoreError::NewerSchema { .. }
                | StoreError::Locked { .. }
                | StoreError::DiskFull { .. }
                | StoreError::ReadOnly { .. }
                | StoreError::CannotOpen { .. }
                | StoreError::Io { .. }
                | StoreError::Closed
                | StoreError::Internal { .. }
        )
    }

    /// The store error for an SQLite error on the store at `path`.
    pub(crate) fn sqlite(path: &Path, err: rusqlite::Error, busy_ms: u64) -> StoreError {
        let path = path.display().to_string();
        let detail = err.to_string();
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                path,
                waited_ms: busy_ms,
            },
            Some(ErrorCode::NotADatabase) => StoreError::NotAStore {
                path,
                reason: "SQLite cannot read it as a database".to_string(),
            },
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path, detail },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => StoreError::CannotOpen {
                path,
                reason: detail,
            },
            Some(ErrorCode::SystemIoFailure) => StoreError::Io { path, detail },
            _ => StoreError::Internal { path, detail },
        }
    }

    pub(crate) fn io(path: &Path, err: &std::io::Error) -> StoreError {
        let path = path.display().to_string();
        match err.kind() {
            std::io::ErrorKind::StorageFull => StoreError::DiskFull { path },
            std::io::ErrorKind::ReadOnlyFilesystem => StoreError::ReadOnly { path },
            _ => StoreError::Io {
                path,
                detail: err.to_string(),
            },
        }
    }
}

/// Where a store is, for error messages: its path and its busy timeout.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub path: std::path::PathBuf,
    pub busy_ms: u64,
}

impl Site {
    pub fn sqlite(&self, err: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, err, self.busy_ms)
    }

    pub fn internal(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Internal {
            path: self.path.display().to_string(),
            detail: detail.into(),
        }
    }

    pub fn corrupt(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.display().to_string(),
            detail: detail.into(),
        }
    }
}

/// `.at(&site)?` turns an SQLite error into the store's.
pub(crate) trait At<T> {
    fn at(self, site: &Site) -> Result<T, StoreError>;
}

impl<T> At<T> for Result<T, rusqlite::Error> {
    fn at(self, site: &Site) -> Result<T, StoreError> {
        self.map_err(|e| site.sqlite(e))
    }
}
