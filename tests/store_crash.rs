//! The durability promise under real SIGKILLs: a child process (this test binary again, in child
//! mode) appends to several runs from concurrent tasks and prints each append's seqs only after
//! `append` resolved; the test kills it at random moments, reopens the store, and checks that
//! every acknowledged entry is there, intact, in a gap-free journal. Each new child takes over the
//! runs its killed predecessor held. Seeded: `STORE_CRASH_SEED=N` replays a failure, whose
//! message prints the seed; `STORE_CRASH_KILLS=N` changes the number of kills (default 60).

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use codeless::store::{
    NewEntry, NewRun, OpenOptions, RunId, RunQuery, RunStatus, SqliteStore, Store, StoreError,
    Trigger,
};
use serde_json::{json, Value};

const TEST: &str = "kill_9_at_random_moments_loses_no_acknowledged_entry";
const CHILD_ENV: &str = "CODELESS_STORE_CRASH_CHILD";
const RUNS: usize = 3;
const TASKS: usize = 8;

/// SplitMix64: small, seeded, good enough to pick delays and sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What an entry says about itself, checked on the way back: `pad` follows from `n` and its
/// length, `check` from the entry's identity.
fn payload(run: &RunId, generation: u64, task: usize, n: u64, pad_len: usize) -> Value {
    let check = checksum(run.as_str(), generation, task as u64, n);
    json!({"run": run.as_str(), "gen": generation, "task": task, "n": n, "pad": pad(n, pad_len), "check": check})
}

fn pad(n: u64, len: usize) -> String {
    (0..len)
        .map(|i| char::from(b'a' + ((i as u64 + n) % 26) as u8))
        .collect()
}

/// FNV-1a of the entry's identity (cheap in a debug build, unlike SHA-256 over every pad).
fn checksum(run: &str, generation: u64, task: u64, n: u64) -> String {
    let text = format!("{run}/{generation}/{task}/{n}");
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The child: takes the runs over (or creates them), then appends until killed.
async fn child(path: &str, generation: u64) {
    println!("\nchild {generation} started"); // libtest left "test NAME ... " without a newline
    let store = SqliteStore::open(path, OpenOptions::default()).unwrap();
    let listed = store.list_runs(RunQuery::default()).await.unwrap();
    let mut runs = Vec::new();
    for run in listed.runs {
        match store.claim_run(&run.id).await {
            Ok(_) => runs.push(run.id),
            Err(e) => println!("claim-failed {} {e}", run.id),
        }
    }
    if runs.is_empty() {
        let def = store.put_definition(b"crash test".to_vec()).await.unwrap();
        for _ in 0..RUNS {
            let new = NewRun {
                playbook: "Crash".to_string(),
                definition: def.clone(),
                trigger: Trigger::Cli,
                trigger_data: json!({}),
                inputs: json!({}),
                connections: vec![],
                started_at: Utc::now(),
            };
            runs.push(store.create_run(new).await.unwrap().id);
        }
    }
    println!("child {generation} holds {}", runs.len());
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        let run = runs[task % runs.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(generation.wrapping_mul(1000) + task as u64);
            let mut n = 0u64;
            loop {
                let count = 1 + rng.below(4) as usize;
                let entries: Vec<NewEntry> = (0..count as u64)
                    .map(|i| {
                        let pad = rng.below(1500) as usize;
                        NewEntry::now("event", payload(&run, generation, task, n + i, pad))
                    })
                    .collect();
                // Every seventh write moves the status with its entries (one transaction).
                let written = if rng.below(7) == 0 {
                    store.set_status(&run, RunStatus::Running, entries).await
                } else {
                    store.append(&run, entries).await
                };
                match written {
                    Ok(last) => println!(
                        "ack {run} {} {last} {generation} {task} {n} {count}",
                        last + 1 - count as u64
                    ),
                    Err(e) => {
                        println!("append-failed {run} {e}");
                        return;
                    }
                }
                n += count as u64;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// One acknowledged append, as the child printed it.
#[derive(Debug)]
struct Ack {
    run: String,
    first: u64,
    last: u64,
    generation: u64,
    task: u64,
    n: u64,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let fields: Vec<&str> = line.split(' ').collect();
    if fields.len() != 8 || fields[0] != "ack" {
        return None;
    }
    let num = |i: usize| fields[i].parse::<u64>().ok();
    let count = num(7)?;
    let ack = Ack {
        run: fields[1].to_string(),
        first: num(2)?,
        last: num(3)?,
        generation: num(4)?,
        task: num(5)?,
        n: num(6)?,
    };
    (ack.last + 1 - ack.first == count).then_some(ack)
}

/// The journals as verified so far: per run, the identity `(gen, task, n)` of each seq.
#[derive(Default)]
struct Verified {
    journals: HashMap<String, Vec<(u64, u64, u64)>>,
}

impl Verified {
    fn entries(&self) -> usize {
        self.journals.values().map(Vec::len).sum()
    }
}

/// Everything the store must hold after a kill: every acked entry, intact, in gap-free journals,
/// and every unfinished run `Interrupted` (its holder is dead). `full`: read every journal from
/// its start again; otherwise only what was appended since the last check (the journal is
/// append-only, and the full checks every few kills make sure of that too).
async fn verify(path: &Path, acks: &[Ack], verified: &mut Verified, full: bool, context: &str) {
    let options = OpenOptions {
        create: false,
        ..OpenOptions::default()
    };
    let store = match SqliteStore::open(path, options) {
        Ok(store) => store,
        Err(StoreError::CannotOpen { .. }) if acks.is_empty() && !path.exists() => return,
        Err(e) => panic!("{context}: reopening the store: {e}"),
    };
    let runs = store.list_runs(RunQuery::default()).await.unwrap().runs;
    for run in &runs {
        assert_eq!(
            run.status,
            RunStatus::Interrupted,
            "{context}: run {} after its holder was killed",
            run.id
        );
        let record = store.get_run(&run.id).await.unwrap();
        let known = verified.journals.entry(run.id.to_string()).or_default();
        if full {
            known.clear();
        }
        let after = known.len() as u64;
        let journal = store
            .read_journal(&run.id, after, usize::MAX)
            .await
            .unwrap();
        let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
        let expected: Vec<u64> = (after + 1..=record.last_seq).collect();
        assert!(
            seqs == expected,
            "{context}: run {} journal seqs after {after} are not {}..={}: gaps {:?}",
            run.id,
            after + 1,
            record.last_seq,
            gaps(&seqs)
        );
        for e in &journal {
            let p = &e.payload;
            let field = |k: &str| p[k].as_u64().unwrap_or(u64::MAX);
            let identity = (field("gen"), field("task"), field("n"));
            let (generation, task, n) = identity;
            let padding = p["pad"].as_str().unwrap_or("");
            let intact = p["run"].as_str() == Some(run.id.as_str())
                && p["check"].as_str()
                    == Some(checksum(run.id.as_str(), generation, task, n).as_str())
                && padding == pad(n, padding.len());
            assert!(
                intact,
                "{context}: run {} entry {} is damaged: {p}",
                run.id, e.seq
            );
            // Each (generation, task) wrote n = 0, 1, 2... in order: none missing, none twice.
            let previous = known
                .iter()
                .rev()
                .find(|(g, t, _)| (*g, *t) == (generation, task))
                .map(|(_, _, n)| n + 1)
                .unwrap_or(0);
            assert_eq!(n, previous, "{context}: run {} entry {}", run.id, e.seq);
            known.push(identity);
        }
    }
    for ack in acks {
        let journal = verified
            .journals
            .get(&ack.run)
            .unwrap_or_else(|| panic!("{context}: acknowledged run {} is gone", ack.run));
        assert!(
            ack.last as usize <= journal.len(),
            "{context}: {ack:?} acknowledged but the journal ends at {}",
            journal.len()
        );
        for (i, seq) in (ack.first..=ack.last).enumerate() {
            let want = (ack.generation, ack.task, ack.n + i as u64);
            assert_eq!(
                journal[seq as usize - 1],
                want,
                "{context}: seq {seq} of {ack:?}"
            );
        }
    }
}

fn gaps(seqs: &[u64]) -> Vec<(u64, u64)> {
    seqs.windows(2)
        .filter(|w| w[1] != w[0] + 1)
        .map(|w| (w[0], w[1]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_no_acknowledged_entry() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (path, generation) = spec.rsplit_once('|').unwrap();
        return child(path, generation.parse().unwrap()).await;
    }
    let seed = std::env::var("STORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp_micros() as u64);
    let kills: u64 = std::env::var("STORE_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    eprintln!("store crash test: seed {seed} (STORE_CRASH_SEED={seed} replays it), {kills} kills");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let started = Instant::now();
    let mut acks = Vec::new();
    let mut killed_after_acks = 0;
    let mut verified = Verified::default();
    for generation in 0..kills {
        let context = format!("seed {seed}, kill {generation}");
        // A child needs ~75 ms (debug build) to start, open or create the store and take the
        // runs over: one kill in eight lands in that, the others mid-append.
        let delay = if rng.below(8) == 0 {
            rng.below(75)
        } else {
            75 + rng.below(150)
        };
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}|{generation}", path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stdout.read_to_string(&mut out);
            out
        });
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let out = reader.join().unwrap();
        // Only whole lines: the last one may have been cut by the kill.
        let complete = out.rsplit_once('\n').map_or("", |(whole, _)| whole);
        let before = acks.len();
        for line in complete.lines() {
            assert!(
                !line.starts_with("claim-failed") && !line.starts_with("append-failed"),
                "{context}: the child said: {line}"
            );
            acks.extend(parse_ack(line));
        }
        if acks.len() > before {
            killed_after_acks += 1;
        }
        let full = generation % 10 == 9 || generation + 1 == kills;
        verify(&path, &acks, &mut verified, full, &context).await;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "store crash test: {kills} kills ({killed_after_acks} mid-append) in {:.1} s, {} acknowledged appends, {} entries, all present and intact",
        elapsed.as_secs_f64(),
        acks.len(),
        verified.entries()
    );
    assert!(
        killed_after_acks * 2 >= kills,
        "seed {seed}: only {killed_after_acks} of {kills} kills came after an append"
    );
}
