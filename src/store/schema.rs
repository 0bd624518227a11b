//! The store's tables, one migration per schema version. `MIGRATIONS[i]` takes a store from version
//! `i` to `i + 1`; `PRAGMA user_version` holds the version a store is at. A migration only adds:
//! a store written by this version stays readable by the next. Types are chosen to map one to one
//! onto PostgreSQL (TEXT → text, INTEGER → bigint, BLOB → bytea; JSON columns are text holding
//! JSON, `jsonb` there), so both backends share this schema.

/// `PRAGMA application_id` of a codeless store: "codl". A file with another id is not one.
pub const APPLICATION_ID: i32 = 0x636F_646C;

/// The schema version this codeless writes and reads.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// The migrations, oldest first.
pub const MIGRATIONS: &[&str] = &[V1];

/// Version 1: runs, journals, definitions, owners, and the tables of API keys (§9), idempotency
/// keys (§9), schedules and their event dedup (§10), shared data and lists (§10).
const V1: &str = r#"
-- Processes that held runs (liveness, DESIGN §8): a run's `owner` names one.
CREATE TABLE owners (
    id          TEXT PRIMARY KEY,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    started_at  TEXT NOT NULL
);

-- What runs run: bundles of playbook, integrations and nested playbooks by SHA-256 (hex).
CREATE TABLE definitions (
    hash        TEXT PRIMARY KEY,
    bytes       BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,          -- RunId: time-ordered
    playbook         TEXT NOT NULL,
    definition       TEXT NOT NULL REFERENCES definitions (hash),
    status           TEXT NOT NULL,             -- never 'Interrupted': that is read, not written
    trigger          TEXT NOT NULL,             -- cli, webhook, command, schedule:N, event:N, retry:R
    trigger_data     TEXT NOT NULL,             -- JSON
    inputs           TEXT NOT NULL,             -- JSON
    connections      TEXT NOT NULL,             -- JSON array of file paths, never values
    started_at       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT,
    owner            TEXT,                      -- owners.id of the holder; NULL when none
    lease_expires_at TEXT,                      -- PostgreSQL's lease (§12); NULL under SQLite
    last_seq         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_playbook ON runs (playbook, id);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_owner ON runs (owner) WHERE owner IS NOT NULL;

-- Append-only; seq is 1, 2, 3... per run, gap-free.
CREATE TABLE journal (
    id       INTEGER PRIMARY KEY,
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    ts       TEXT NOT NULL,
    payload  TEXT NOT NULL,                     -- JSON
    UNIQUE (run_id, seq)
);

CREATE TABLE api_keys (
    name          TEXT PRIMARY KEY,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'run', 'admin')),
    salt          BLOB NOT NULL,
    hash          BLOB NOT NULL,                -- of the salt and the key; never the key
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT                          -- NULL while the key is valid
);

-- Idempotency-Key of POST /v1/playbooks/{name}/runs, kept 24 h.
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    body_hash   TEXT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_by_run ON idempotency_keys (run_id);

CREATE TABLE schedules (
    name              TEXT PRIMARY KEY,
    passdown          TEXT,                     -- JSON of the last successful fire
    last_fire_at      TEXT,
    last_status       TEXT,
    last_result       TEXT,                     -- JSON summary of the last fire
    next_fire_at      TEXT,
    lease_owner       TEXT,                     -- the process firing it (§12)
    lease_expires_at  TEXT,
    updated_at        TEXT NOT NULL
);

-- Events of a schedule already turned into runs, kept as long as those runs are.
CREATE TABLE schedule_events (
    schedule    TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (schedule, event_id)
);
CREATE INDEX schedule_events_by_run ON schedule_events (run_id);

CREATE TABLE shared_data (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,                  -- JSON
    expires_at  TEXT,
    updated_at  TEXT NOT NULL
);
CREATE INDEX shared_data_by_expiry ON shared_data (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE shared_lists (
    list      TEXT NOT NULL,
    position  INTEGER NOT NULL,
    value     TEXT NOT NULL,                    -- JSON
    PRIMARY KEY (list, position)
);
CREATE INDEX shared_lists_by_value ON shared_lists (list, value);
"#;
