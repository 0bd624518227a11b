//! The store layer on real SQLite files in temporary directories: journal order, group commit,
//! listing, prune, the errors of unusable stores, and liveness across a real killed process.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use codeless::store::{
    DefinitionHash, Durability, NewEntry, NewRun, OpenOptions, RunId, RunQuery, RunStatus,
    SqliteStore, Store, StoreError, Trigger,
};
use serde_json::json;

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, OpenOptions::default()).unwrap()
}

fn open_err(path: &Path) -> StoreError {
    match SqliteStore::open(path, OpenOptions::default()) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e,
    }
}

fn new_run(definition: &DefinitionHash, playbook: &str) -> NewRun {
    NewRun {
        playbook: playbook.to_string(),
        definition: definition.clone(),
        trigger: Trigger::Cli,
        trigger_data: json!({"incident": {"id": 7}}),
        inputs: json!({"ip": "10.0.0.1"}),
        connections: vec!["connections.yaml".to_string()],
        started_at: Utc::now(),
    }
}

async fn definition(store: &SqliteStore) -> DefinitionHash {
    store
        .put_definition(b"name: Triage\ntasks: {}\n".to_vec())
        .await
        .unwrap()
}

fn entry(kind: &str, n: u64) -> NewEntry {
    NewEntry::now(kind, json!({"n": n, "text": format!("entry {n}")}))
}

#[tokio::test]
async fn appends_get_gap_free_seqs_in_order_and_read_back_intact() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let def = definition(&store).await;
    let run = store.create_run(new_run(&def, "Triage")).await.unwrap();
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.last_seq, 0);

    let first = vec![
        entry("run_started", 1),
        entry("task_started", 2),
        entry("task_finished", 3),
    ];
    assert_eq!(store.append(&run.id, first).await.unwrap(), 3);
    assert_eq!(store.append(&run.id, vec![]).await.unwrap(), 3);
    let second = vec![entry("task_started", 4), entry("task_finished", 5)];
    assert_eq!(store.append(&run.id, second).await.unwrap(), 5);

    let journal = store.read_journal(&run.id, 0, 100).await.unwrap();
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let kinds: Vec<&str> = journal.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "task_started",
            "task_finished",
            "task_started",
            "task_finished"
        ]
    );
    for e in &journal {
        assert_eq!(
            e.payload,
            json!({"n": e.seq, "text": format!("entry {}", e.seq)})
        );
    }
    let page = store.read_journal(&run.id, 3, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, 4);
    assert!(store.read_journal(&run.id, 5, 10).await.unwrap().is_empty());

    let got = store.get_run(&run.id).await.unwrap();
    assert_eq!(got.last_seq, 5);
    assert_eq!(got.trigger_data, json!({"incident": {"id": 7}}));
    assert_eq!(got.inputs, json!({"ip": "10.0.0.1"}));
    assert_eq!(got.connections, ["connections.yaml"]);
    assert_eq!(got.definition, def);

    // The run's end and its last entry are one write; after it the journal is closed.
    let end = store
        .set_status(
            &run.id,
            RunStatus::Successful,
            vec![entry("run_finished", 6)],
        )
        .await
        .unwrap();
    assert_eq!(end, 6);
    let finished = store.get_run(&run.id).await.unwrap();
    assert_eq!(finished.status, RunStatus::Successful);
    assert!(finished.finished_at.is_some());
    let err = store
        .append(&run.id, vec![entry("late", 7)])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "run {} has finished (Successful): its journal is closed",
            run.id
        )
    );
    assert_eq!(store.get_run(&run.id).await.unwrap().last_seq, 6);

    let unknown = RunId::generate();
    assert_eq!(
        store.read_journal(&unknown, 0, 10).await.unwrap_err(),
        StoreError::RunNotFound(unknown.clone())
    );
    assert_eq!(
        store.get_run(&unknown).await.unwrap_err().to_string(),
        format!("no run {unknown} in the store")
    );
}

#[tokio::test]
async fn a_run_reopened_reads_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (id, written) = {
        let store = open(&path);
        let def = definition(&store).await;
        let run = store.create_run(new_run(&def, "Triage")).await.unwrap();
        store
            .append(&run.id, vec![entry("a", 1), entry("b", 2)])
            .await
            .unwrap();
        store
            .set_status(&run.id, RunStatus::Failed, vec![])
            .await
            .unwrap();
        (run.id.clone(), store.get_run(&run.id).await.unwrap())
    };
    let store = open(&path);
    assert_eq!(store.get_run(&id).await.unwrap(), written);
    assert_eq!(store.read_journal(&id, 0, 10).await.unwrap().len(), 2);
    store.check().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_from_many_tasks_share_commits() {
    const RUNS: usize = 8;
    const TASKS: usize = 64;
    const APPENDS: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let def = definition(&store).await;
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(store.create_run(new_run(&def, "Busy")).await.unwrap().id);
    }
    let before = store.commit_stats();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        let run = runs[t % RUNS].clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..APPENDS {
                let payload = json!({"task": t, "n": n});
                let seq = store
                    .append(&run, vec![NewEntry::now("event", payload)])
                    .await
                    .unwrap();
                acked.push(seq);
            }
            acked
        }));
    }
    for task in tasks {
        let acked = task.await.unwrap();
        assert!(acked.windows(2).all(|w| w[0] < w[1]), "{acked:?}");
    }
    let stats = store.commit_stats();
    let entries = stats.entries - before.entries;
    let commits = stats.commits - before.commits;
    assert_eq!(entries, (TASKS as u64) * APPENDS);
    assert!(commits < entries, "{commits} commits for {entries} entries");
    assert!(commits > 0);
    eprintln!(
        "{entries} entries in {commits} commits ({:.1} per commit)",
        entries as f64 / commits as f64
    );
    // Each run's journal is 1..=N, and each task's entries are in the order it appended them.
    for run in &runs {
        let journal = store.read_journal(run, 0, 10_000).await.unwrap();
        let expected = (TASKS / RUNS) as u64 * APPENDS;
        let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=expected).collect::<Vec<u64>>());
        let mut next = std::collections::HashMap::new();
        for e in &journal {
            let task = e.payload["task"].as_u64().unwrap();
            let n = e.payload["n"].as_u64().unwrap();
            let want = next.entry(task).or_insert(0);
            assert_eq!(n, *want, "task {task} out of order in run {run}");
            *want += 1;
        }
    }
}

#[tokio::test]
async fn appends_are_queued_when_called_and_committed_in_call_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let def = definition(&store).await;
    let run = store.create_run(new_run(&def, "Pipelined")).await.unwrap();
    // Called in order, awaited in reverse: the order of the calls is the journal's.
    let pending: Vec<_> = (1..=100)
        .map(|n| store.append(&run.id, vec![entry("e", n)]))
        .collect();
    let mut seqs = Vec::new();
    for future in pending.into_iter().rev() {
        seqs.push(future.await.unwrap());
    }
    assert_eq!(seqs, (1..=100).rev().collect::<Vec<u64>>());
    // A future dropped unawaited: its write stands.
    drop(store.append(&run.id, vec![entry("e", 101)]));
    assert_eq!(
        store.append(&run.id, vec![entry("e", 102)]).await.unwrap(),
        102
    );
    let journal = store.read_journal(&run.id, 0, 1000).await.unwrap();
    let ns: Vec<u64> = journal
        .iter()
        .map(|e| e.payload["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, (1..=102).collect::<Vec<u64>>());
}

#[tokio::test]
async fn runs_list_newest_first_filters_and_pages_with_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let def = definition(&store).await;
    let mut made = Vec::new();
    for i in 0..12 {
        let playbook = if i % 3 == 0 { "Enrich" } else { "Triage" };
        let run = store.create_run(new_run(&def, playbook)).await.unwrap();
        if i % 4 == 1 {
            store
                .set_status(&run.id, RunStatus::Failed, vec![])
                .await
                .unwrap();
        }
        made.push(run.id);
    }
    let queued = store.queue_run(new_run(&def, "Enrich")).await.unwrap();
    assert_eq!(queued.status, RunStatus::Queued);
    made.push(queued.id.clone());
    let newest_first: Vec<RunId> = made.iter().rev().cloned().collect();

    let all = store.list_runs(RunQuery::default()).await.unwrap();
    assert_eq!(all.next_cursor, None);
    assert_eq!(
        all.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        newest_first
    );
    assert!(all.runs.iter().all(|r| r.created_at <= r.updated_at));

    // Pages of 5: 5, 5, 3, the cursor None on the last.
    let mut paged = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_runs(RunQuery {
                limit: Some(5),
                cursor: cursor.clone(),
                ..RunQuery::default()
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.runs.len() <= 5);
        paged.extend(page.runs.into_iter().map(|r| r.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, newest_first);

    let enrich = store
        .list_runs(RunQuery {
            playbook: Some("Enrich".to_string()),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(enrich.runs.len(), 5);
    assert!(enrich.runs.iter().all(|r| r.playbook == "Enrich"));

    let failed = store
        .list_runs(RunQuery {
            status: Some(RunStatus::Failed),
            limit: Some(2),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.runs.len(), 2);
    assert!(failed.runs.iter().all(|r| r.status == RunStatus::Failed));
    let rest = store
        .list_runs(RunQuery {
            status: Some(RunStatus::Failed),
            cursor: failed.next_cursor.clone(),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.runs.len(), 1);
    assert_eq!(rest.next_cursor, None);

    let running = store
        .list_runs(RunQuery {
            status: Some(RunStatus::Running),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(running.runs.len(), 9);
    let queued_only = store
        .list_runs(RunQuery {
            status: Some(RunStatus::Queued),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(queued_only.runs.len(), 1);
    assert_eq!(queued_only.runs[0].trigger, Trigger::Cli);

    let bad = store
        .list_runs(RunQuery {
            cursor: Some("not-a-cursor".to_string()),
            ..RunQuery::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "invalid cursor 'not-a-cursor': pass the next_cursor of the previous page"
    );
}

#[tokio::test]
async fn the_default_page_is_fifty_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let def = definition(&store).await;
    let creations: Vec<_> = (0..60)
        .map(|_| store.create_run(new_run(&def, "P")))
        .collect();
    futures::future::try_join_all(creations).await.unwrap();
    let page = store.list_runs(RunQuery::default()).await.unwrap();
    assert_eq!(page.runs.len(), 50);
    assert!(page.next_cursor.is_some());
}

#[tokio::test]
async fn prune_deletes_finished_runs_and_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = open(&path);
    let kept_def = definition(&store).await;
    let old_def = store.put_definition(b"name: Old\n".to_vec()).await.unwrap();
    let big = "x".repeat(1000);
    let mut kept = Vec::new();
    for i in 0..20 {
        let def = if i < 15 { &old_def } else { &kept_def };
        let run = store.create_run(new_run(def, "P")).await.unwrap();
        for chunk in 0..4 {
            let entries = (0..50)
                .map(|n| NewEntry::now("e", json!({"n": chunk * 50 + n, "pad": big})))
                .collect();
            store.append(&run.id, entries).await.unwrap();
        }
        if i < 15 {
            store
                .set_status(&run.id, RunStatus::Successful, vec![])
                .await
                .unwrap();
        } else {
            kept.push(run.id);
        }
    }
    let file_before = std::fs::metadata(&path).unwrap().len();

    // A cutoff before every run: nothing goes.
    let none = store.prune(Utc::now() - TimeDelta::hours(1)).await.unwrap();
    assert_eq!((none.runs, none.entries, none.definitions), (0, 0, 0));

    let report = store
        .prune(Utc::now() + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(report.runs, 15);
    assert_eq!(report.entries, 15 * 200);
    assert_eq!(report.definitions, 1);
    assert!(
        report.bytes_after * 2 < report.bytes_before,
        "{} -> {}",
        report.bytes_before,
        report.bytes_after
    );
    let file_after = std::fs::metadata(&path).unwrap().len();
    assert!(
        file_after * 2 < file_before,
        "{file_before} -> {file_after} bytes"
    );
    let freelist: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(freelist, 0);

    let left = store.list_runs(RunQuery::default()).await.unwrap();
    assert_eq!(
        left.runs
            .iter()
            .map(|r| r.id.clone())
            .rev()
            .collect::<Vec<_>>(),
        kept
    );
    assert_eq!(
        store.read_journal(&kept[0], 0, 1000).await.unwrap().len(),
        200
    );
    assert_eq!(store.get_definition(&old_def).await.unwrap(), None);
    assert!(store.get_definition(&kept_def).await.unwrap().is_some());
}

#[tokio::test]
async fn definitions_are_stored_by_their_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let bytes = b"name: Triage\n".to_vec();
    let hash = store.put_definition(bytes.clone()).await.unwrap();
    assert_eq!(hash, DefinitionHash::of(&bytes));
    use sha2::Digest;
    assert_eq!(hash.as_str(), hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(store.put_definition(bytes.clone()).await.unwrap(), hash);
    assert_eq!(store.get_definition(&hash).await.unwrap(), Some(bytes));
    let missing = DefinitionHash::of(b"other");
    assert_eq!(store.get_definition(&missing).await.unwrap(), None);
    let err = store.create_run(new_run(&missing, "P")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no definition {missing} in the store")
    );
}

#[tokio::test]
async fn writes_need_the_run_held() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let def = definition(&store).await;
    let queued = store.queue_run(new_run(&def, "P")).await.unwrap();
    let err = store
        .append(&queued.id, vec![entry("e", 1)])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "run {} is not held by this process: claim it before writing to it",
            queued.id
        )
    );
    let claimed = store.claim_run(&queued.id).await.unwrap();
    assert_eq!(claimed.status, RunStatus::Running);
    assert_eq!(
        store.claim_run(&queued.id).await.unwrap().status,
        RunStatus::Running
    );
    assert_eq!(
        store.append(&queued.id, vec![entry("e", 1)]).await.unwrap(),
        1
    );

    // Released without finishing: it reads Interrupted until claimed again.
    store.release_run(&queued.id).await.unwrap();
    assert_eq!(
        store.get_run(&queued.id).await.unwrap().status,
        RunStatus::Interrupted
    );
    assert_eq!(
        store
            .append(&queued.id, vec![entry("e", 2)])
            .await
            .unwrap_err(),
        StoreError::RunNotHeld(queued.id.clone())
    );
    store.claim_run(&queued.id).await.unwrap();
    assert_eq!(
        store
            .set_status(&queued.id, RunStatus::Waiting, vec![])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.get_run(&queued.id).await.unwrap().status,
        RunStatus::Waiting
    );
    assert_eq!(
        store
            .set_status(&queued.id, RunStatus::Interrupted, vec![])
            .await
            .unwrap_err()
            .to_string(),
        "a run's status cannot be set to Interrupted"
    );
    store
        .set_status(&queued.id, RunStatus::Cancelled, vec![])
        .await
        .unwrap();
    let err = store.claim_run(&queued.id).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::RunFinished {
            run: queued.id.clone(),
            status: RunStatus::Cancelled
        }
    );
}

#[tokio::test]
async fn an_entry_over_the_limit_fails_its_append_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = OpenOptions {
        max_entry_bytes: 1000,
        ..OpenOptions::default()
    };
    let store = SqliteStore::open(dir.path().join("s.db"), options).unwrap();
    let def = definition(&store).await;
    let run = store.create_run(new_run(&def, "P")).await.unwrap();
    let small = NewEntry::now("small", json!("ok"));
    let huge = NewEntry::now("task_finished", json!({"rawData": "y".repeat(2000)}));
    let err = store
        .append(&run.id, vec![small.clone(), huge])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "journal entry 'task_finished' of run {} is 2027 bytes, over the 1000-byte limit on one entry: nothing of this append was written",
            run.id
        )
    );
    assert_eq!(store.get_run(&run.id).await.unwrap().last_seq, 0);
    assert_eq!(store.append(&run.id, vec![small]).await.unwrap(), 1);
}

#[tokio::test]
async fn a_full_disk_is_a_clear_error_and_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let options = OpenOptions {
        max_size_bytes: Some(256 * 1024),
        ..OpenOptions::default()
    };
    let store = SqliteStore::open(&path, options).unwrap();
    let def = definition(&store).await;
    let run = store.create_run(new_run(&def, "P")).await.unwrap();
    let pad = "z".repeat(4000);
    let mut acked = 0;
    let err = loop {
        match store
            .append(&run.id, vec![NewEntry::now("e", json!({"pad": pad}))])
            .await
        {
            Ok(seq) => acked = seq,
            Err(e) => break e,
        }
        assert!(acked < 1000, "the size limit was never reached");
    };
    assert_eq!(
        err.to_string(),
        format!(
            "store {}: the disk (or the store's size limit) is full: free some space, or delete old runs with `codeless runs prune`",
            path.display()
        )
    );
    assert!(err.unusable());
    assert!(acked > 10);
    drop(store);
    let store = open(&path);
    assert_eq!(
        store.read_journal(&run.id, 0, 10_000).await.unwrap().len() as u64,
        acked
    );
}

#[tokio::test]
async fn files_that_are_no_store_are_refused_never_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.db", vec![], "the file is empty"),
        (
            "text.db",
            b"name: Triage\ntasks: {}\n".to_vec(),
            "it is not an SQLite database",
        ),
        (
            "random.db",
            (0..8192u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
            "it is not an SQLite database",
        ),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = open_err(&path);
        assert_eq!(
            err.to_string(),
            format!(
                "{} is not a codeless store: {reason} (give another --store, or move the file away to start a new store there)",
                path.display()
            )
        );
        assert!(err.unusable());
        // Untouched: no fresh start over it.
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}");
    }

    // An SQLite header followed by garbage.
    let path = dir.path().join("garbage.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..8192u32).map(|i| (i.wrapping_mul(40503) >> 7) as u8));
    std::fs::write(&path, &bytes).unwrap();
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            StoreError::NotAStore { .. } | StoreError::Corrupt { .. }
        ),
        "{err:?}"
    );

    // Another application's SQLite database.
    let path = dir.path().join("other.db");
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(other);
    assert_eq!(
        open_err(&path).to_string(),
        format!(
            "{} is not a codeless store: it is an SQLite database of another application (application_id 0x0) (give another --store, or move the file away to start a new store there)",
            path.display()
        )
    );

    let dir_path = dir.path().join("a-directory");
    std::fs::create_dir(&dir_path).unwrap();
    assert!(matches!(open_err(&dir_path), StoreError::NotAStore { .. }));

    let missing = dir.path().join("missing.db");
    let no_create = OpenOptions {
        create: false,
        ..OpenOptions::default()
    };
    let err = SqliteStore::open(&missing, no_create).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!("cannot open store {}: no such file", missing.display())
    );
    assert!(!missing.exists());
}

#[tokio::test]
async fn a_truncated_store_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let store = open(&path);
        let def = definition(&store).await;
        let run = store.create_run(new_run(&def, "P")).await.unwrap();
        let pad = "p".repeat(2000);
        let entries = (0..500)
            .map(|n| NewEntry::now("e", json!({"n": n, "pad": pad})))
            .collect();
        store.append(&run.id, entries).await.unwrap();
    }
    // Closed cleanly: everything is in the main file, no WAL left to make up for what is cut.
    assert!(!dir.path().join("s.db-wal").exists());
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let err = open_err(&path);
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("store {} is corrupt: ", path.display())),
        "{err}"
    );
    assert!(err.unusable());

    // Cut inside the header.
    std::fs::write(&path, b"SQLite format 3\0\x10\x00").unwrap();
    assert_eq!(
        open_err(&path).to_string(),
        format!(
            "store {} is corrupt: the file is truncated (18 bytes) (restore it from a backup, or move it away to start a new store)",
            path.display()
        )
    );
}

#[tokio::test]
async fn a_store_from_a_newer_codeless_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(open(&path));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = open_err(&path);
    assert_eq!(
        err.to_string(),
        format!(
            "store {} was written by a newer codeless (schema version 99; this codeless reads up to version {}): upgrade codeless to use it",
            path.display(),
            codeless::store::schema::VERSION
        )
    );
    assert!(err.unusable());
}

#[tokio::test]
async fn a_store_locked_by_another_writer_fails_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let options = OpenOptions {
        busy_timeout: Duration::from_millis(300),
        ..OpenOptions::default()
    };
    let store = SqliteStore::open(&path, options.clone()).unwrap();
    let def = definition(&store).await;
    let run = store.create_run(new_run(&def, "P")).await.unwrap();

    // Another connection (as another process would) holds a write transaction.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let err = store
        .append(&run.id, vec![entry("e", 1)])
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(
        err.to_string(),
        format!(
            "store {} is locked by another process: its write did not end within 300 ms",
            path.display()
        )
    );
    assert!(err.unusable());
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // Reads go on meanwhile (WAL), and a second store handle opens.
    assert_eq!(store.get_run(&run.id).await.unwrap().last_seq, 0);
    drop(SqliteStore::open(&path, options).unwrap());

    other.execute_batch("COMMIT").unwrap();
    assert_eq!(store.append(&run.id, vec![entry("e", 1)]).await.unwrap(), 1);
}

#[tokio::test]
async fn the_normal_durability_writes_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let options = OpenOptions {
        durability: Durability::Normal,
        ..OpenOptions::default()
    };
    let store = SqliteStore::open(&path, options).unwrap();
    let def = definition(&store).await;
    let run = store.create_run(new_run(&def, "P")).await.unwrap();
    assert_eq!(store.append(&run.id, vec![entry("e", 1)]).await.unwrap(), 1);
    drop(store);
    assert_eq!(open(&path).get_run(&run.id).await.unwrap().last_seq, 1);
    assert_eq!(Durability::parse("normal"), Some(Durability::Normal));
    assert_eq!(Durability::parse("full"), Some(Durability::Full));
    assert_eq!(Durability::parse("fast"), None);
}

#[test]
fn statuses_and_triggers_read_back_as_written() {
    for status in RunStatus::ALL {
        assert_eq!(RunStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(
        RunStatus::PartiallySuccessful.as_str(),
        "Partially Successful"
    );
    let retried = RunId::generate();
    for trigger in [
        Trigger::Cli,
        Trigger::Webhook,
        Trigger::Command,
        Trigger::Schedule("Ingest SIEM events".to_string()),
        Trigger::Event("Ingest".to_string()),
        Trigger::Retry(retried.clone()),
    ] {
        assert_eq!(Trigger::parse(&trigger.to_string()), Some(trigger));
    }
    assert_eq!(
        Trigger::Retry(retried.clone()).to_string(),
        format!("retry:{retried}")
    );
    for bad in ["", "schedule:", "retry:x", "cron:1", "CLI"] {
        assert_eq!(Trigger::parse(bad), None, "{bad}");
    }
}

const CHILD: &str = "CODELESS_STORE_TEST_HOLDER";
const CLAIMED: &str = "holder: claimed";

/// A child process killed (SIGKILL) when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child half of the liveness test: claims the run, says so, and waits to be killed.
async fn hold_run_until_killed(spec: &str) {
    let (path, id) = spec.split_once('|').unwrap();
    let store = open(Path::new(path));
    let id = RunId::parse(id).unwrap();
    store.claim_run(&id).await.unwrap();
    store.append(&id, vec![entry("child", 1)]).await.unwrap();
    // On its own line: libtest has already written "test NAME ... " without a newline.
    println!("\n{CLAIMED}");
    std::io::stdout().flush().unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test]
async fn a_killed_holder_leaves_its_run_interrupted_and_a_live_one_keeps_it() {
    if let Ok(spec) = std::env::var(CHILD) {
        return hold_run_until_killed(&spec).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = open(&path);
    let def = definition(&store).await;
    let run = store.queue_run(new_run(&def, "P")).await.unwrap();

    let mut child = Killed(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "a_killed_holder_leaves_its_run_interrupted_and_a_live_one_keeps_it",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, format!("{}|{}", path.display(), run.id))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let claimed = lines.any(|l| l.map(|l| l == CLAIMED).unwrap_or(false));
    assert!(claimed, "the child did not claim the run");

    // Alive: the run is Running, and a second claim fails naming the holder.
    assert_eq!(
        store.get_run(&run.id).await.unwrap().status,
        RunStatus::Running
    );
    let err = store.claim_run(&run.id).await.unwrap_err();
    match &err {
        StoreError::RunHeld { run: held, pid, .. } => {
            assert_eq!(held, &run.id);
            assert_eq!(*pid, i64::from(child.0.id()));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().starts_with(&format!(
            "run {} is held by a live process (pid {} on ",
            run.id,
            child.0.id()
        )),
        "{err}"
    );
    assert!(!err.unusable());

    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();

    let after = store.get_run(&run.id).await.unwrap();
    assert_eq!(after.status, RunStatus::Interrupted);
    assert_eq!(after.stored_status, RunStatus::Running);
    assert_eq!(after.last_seq, 1);
    let interrupted = store
        .list_runs(RunQuery {
            status: Some(RunStatus::Interrupted),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(interrupted.runs.len(), 1);
    assert_eq!(interrupted.runs[0].id, run.id);

    // Taken over: this process now holds it and the journal goes on after the child's entry.
    assert_eq!(
        store.claim_run(&run.id).await.unwrap().status,
        RunStatus::Running
    );
    assert_eq!(
        store
            .append(&run.id, vec![entry("parent", 2)])
            .await
            .unwrap(),
        2
    );
    let listed = store.list_runs(RunQuery::default()).await.unwrap();
    assert_eq!(listed.runs[0].status, RunStatus::Running);
}
