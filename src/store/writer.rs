//! The group commit: one thread owns the write connection and turns every request waiting in its
//! queue into one transaction. Each request runs in its own SAVEPOINT (one that fails is rolled
//! back alone and answered with its error); one COMMIT (one fsync under `synchronous=FULL`) makes
//! the whole batch durable; only then is each request answered, on a tokio oneshot, so an async
//! caller waits without holding a runtime thread. A failed COMMIT (disk full, I/O error) answers
//! every request of the batch with that error: none of them was written.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use super::error::{At, Site};
use super::liveness::OwnerLock;
use super::{time, CommitStats, RunId, StoreError};

/// The most requests one transaction takes; more wait for the next commit.
pub const MAX_BATCH_JOBS: usize = 4096;

/// What the writer's requests work with.
pub(crate) struct WriterCtx {
    pub conn: Connection,
    pub site: Site,
    pub owners_dir: PathBuf,
    /// This handle's owner lock, taken on the first creation or claim.
    owner: Option<OwnerLock>,
    /// Its id, for the readers (a run this handle holds is alive without testing the file).
    pub my_owner: Arc<OnceLock<RunId>>,
    /// Set by a request that wants the WAL checkpointed and truncated after its commit (prune).
    pub checkpoint_after_commit: bool,
}

impl WriterCtx {
    pub fn new(conn: Connection, site: Site, owners_dir: PathBuf) -> WriterCtx {
        WriterCtx {
            conn,
            site,
            owners_dir,
            owner: None,
            my_owner: Arc::new(OnceLock::new()),
            checkpoint_after_commit: false,
        }
    }

    /// This handle's owner id, locking its file on first use and (re)writing its `owners` row in
    /// the current transaction (a prune may have removed the row while this handle held nothing).
    pub fn owner_id(&mut self) -> Result<RunId, StoreError> {
        if self.owner.is_none() {
            let lock = OwnerLock::acquire(&self.owners_dir)
                .map_err(|e| StoreError::io(&self.owners_dir, &e))?;
            let _ = self.my_owner.set(lock.id().clone());
            self.owner = Some(lock);
        }
        let id = match &self.owner {
            Some(lock) => lock.id().clone(),
            None => return Err(self.site.internal("no owner lock")),
        };
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO owners (id, pid, host, started_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    id.as_str(),
                    i64::from(std::process::id()),
                    host_name(),
                    time::format_time(time::now())
                ])
            })
            .at(&self.site)?;
        Ok(id)
    }

    /// The owner id if this handle has one.
    pub fn current_owner(&self) -> Option<&RunId> {
        self.owner.as_ref().map(OwnerLock::id)
    }
}

/// This machine's name, for "held by pid N on HOST".
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".to_string())
}

/// One request in the queue.
trait Job: Send {
    /// Does the work inside the batch's transaction; the error is also kept for the answer.
    fn run(&mut self, ctx: &mut WriterCtx) -> Result<(), StoreError>;
    /// Journal entries it wrote (for the counters).
    fn entries(&self) -> usize;
    /// Answers the caller once the batch has committed (or failed).
    fn complete(self: Box<Self>, batch: &Result<(), StoreError>);
}

struct Request<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
    entries: usize,
}

impl<T, F> Job for Request<T, F>
where
    T: Send,
    F: FnOnce(&mut WriterCtx) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, ctx: &mut WriterCtx) -> Result<(), StoreError> {
        let Some(work) = self.work.take() else {
            return Ok(());
        };
        let result = work(ctx);
        let status = result.as_ref().map(|_| ()).map_err(Clone::clone);
        self.result = Some(result);
        status
    }

    fn entries(&self) -> usize {
        self.entries
    }

    fn complete(self: Box<Self>, batch: &Result<(), StoreError>) {
        let answer = match (self.result, batch) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e.clone()),
            (None, Ok(())) => Err(StoreError::Closed),
        };
        // The caller may have stopped waiting (its future dropped): the write stands anyway.
        let _ = self.reply.send(answer);
    }
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    entries: AtomicU64,
    requests: AtomicU64,
    commit_nanos: AtomicU64,
}

/// The handle on the writer thread. Dropping it lets the thread finish the queue and end.
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    pub my_owner: Arc<OnceLock<RunId>>,
}

impl Writer {
    pub fn start(ctx: WriterCtx) -> std::io::Result<Writer> {
        let (queue, inbox) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let my_owner = ctx.my_owner.clone();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("codeless-store-writer".to_string())
            .spawn(move || serve(ctx, inbox, &thread_counters))?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
            counters,
            my_owner,
        })
    }

    /// Queues `work` for the next transaction; resolves once that transaction has committed.
    /// `entries` is how many journal entries it writes, for the counters.
    pub fn submit<T, F>(
        &self,
        entries: usize,
        work: F,
    ) -> impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterCtx) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Request {
            work: Some(work),
            result: None,
            reply,
            entries,
        });
        let sent = self
            .queue
            .as_ref()
            .is_some_and(|queue| queue.send(job).is_ok());
        async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        }
    }

    pub fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            entries: self.counters.entries.load(Ordering::Relaxed),
            requests: self.counters.requests.load(Ordering::Relaxed),
            commit_nanos: self.counters.commit_nanos.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: a batch per wake-up, until every sender is gone.
fn serve(mut ctx: WriterCtx, inbox: mpsc::Receiver<Box<dyn Job>>, counters: &Counters) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_JOBS {
            match inbox.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = run_batch(&mut ctx, &mut batch);
        if let Ok((entries, nanos)) = &outcome {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            counters.entries.fetch_add(*entries, Ordering::Relaxed);
            counters
                .requests
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            counters.commit_nanos.fetch_add(*nanos, Ordering::Relaxed);
        }
        if std::mem::take(&mut ctx.checkpoint_after_commit) && outcome.is_ok() {
            // Gives the file system back what a prune freed; a reader still busy only delays it.
            let _ = ctx
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        let outcome = outcome.map(|_| ());
        for job in batch {
            job.complete(&outcome);
        }
    }
}

/// Runs a batch in one transaction; the journal entries written and the nanoseconds COMMIT took.
fn run_batch(ctx: &mut WriterCtx, batch: &mut [Box<dyn Job>]) -> Result<(u64, u64), StoreError> {
    ctx.conn.execute_batch("BEGIN IMMEDIATE").at(&ctx.site)?;
    let mut entries = 0;
    for job in batch.iter_mut() {
        if let Err(e) = ctx.conn.execute_batch("SAVEPOINT request").at(&ctx.site) {
            rollback(ctx);
            return Err(e);
        }
        let step = match job.run(ctx) {
            Ok(()) => {
                entries += job.entries() as u64;
                ctx.conn.execute_batch("RELEASE request").at(&ctx.site)
            }
            // Some errors (SQLITE_FULL, I/O) make SQLite roll the whole transaction back: what
            // the batch did so far is gone, so it fails as a whole.
            Err(e) if ctx.conn.is_autocommit() => Err(e),
            Err(_) => ctx
                .conn
                .execute_batch("ROLLBACK TO request; RELEASE request")
                .at(&ctx.site),
        };
        if let Err(e) = step {
            rollback(ctx);
            return Err(e);
        }
    }
    let started = Instant::now();
    if let Err(e) = ctx.conn.execute_batch("COMMIT").at(&ctx.site) {
        rollback(ctx);
        return Err(e);
    }
    Ok((entries, started.elapsed().as_nanos() as u64))
}

fn rollback(ctx: &WriterCtx) {
    if !ctx.conn.is_autocommit() {
        let _ = ctx.conn.execute_batch("ROLLBACK");
    }
}
