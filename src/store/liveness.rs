//! Which processes are alive: each owner (a store handle that holds runs) keeps an exclusive lock
//! on its own file `<store>-owners/<owner id>.lock` while it lives; the kernel drops the lock when
//! the process dies, `kill -9` included. A tester takes a *shared* lock without waiting: it gets
//! one only when no live owner holds the file. Testers never block each other or the owner, and
//! owner ids are never reused, so an owner found dead stays dead. A missing file is a dead owner
//! (its process ended cleanly, or the directory was cleaned).

use std::fs::{File, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::RunId;

/// The directory of owner lock files of the store at `db`.
pub fn owners_dir(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push("-owners");
    PathBuf::from(name)
}

/// This process's lock as an owner; dropping it removes the file and releases the lock.
#[derive(Debug)]
pub struct OwnerLock {
    id: RunId,
    path: PathBuf,
    _file: File,
}

impl OwnerLock {
    /// A new owner id with its file created and locked.
    pub fn acquire(dir: &Path) -> std::io::Result<OwnerLock> {
        std::fs::create_dir_all(dir)?;
        let id = RunId::generate();
        let path = lock_path(dir, &id);
        // Locked under another name, then renamed into place (the lock is the inode's): a
        // `remove_dead` sweep never sees the file unlocked and takes it for a dead owner's.
        let fresh = path.with_extension("new");
        let mut file = File::create_new(&fresh)?;
        let locked = match file.try_lock() {
            Ok(()) => Ok(()),
            Err(TryLockError::WouldBlock) => {
                Err(std::io::Error::other("a new owner file is locked already"))
            }
            Err(TryLockError::Error(e)) => Err(e),
        };
        if let Err(e) = locked.and_then(|()| std::fs::rename(&fresh, &path)) {
            let _ = std::fs::remove_file(&fresh);
            return Err(e);
        }
        // For whoever looks in the directory; the owners table says the same.
        let _ = writeln!(file, "{}", std::process::id());
        Ok(OwnerLock {
            id,
            path,
            _file: file,
        })
    }

    pub fn id(&self) -> &RunId {
        &self.id
    }
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // Removed while still locked: a tester opening it from now on finds no file (dead).
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a live process holds owner `id`'s lock. Errors other than "no such file" (say, no
/// permission to open another user's file) count as alive: a run is never shown `Interrupted`,
/// nor taken over, on a guess.
pub fn is_alive(dir: &Path, id: &str) -> bool {
    let Ok(id) = RunId::parse(id) else {
        return false; // not an id this store writes: no live owner can have it
    };
    let file = match File::open(lock_path(dir, &id)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    match file.try_lock_shared() {
        Ok(()) => false, // released when `file` is dropped
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => true,
    }
}

/// Removes the files of owners that are no longer alive (left by processes that were killed).
pub fn remove_dead(dir: &Path, keep: Option<&RunId>) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else {
            continue;
        };
        if keep.is_some_and(|k| k.as_str() == id) || is_alive(dir, id) {
            continue;
        }
        if std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn lock_path(dir: &Path, id: &RunId) -> PathBuf {
    dir.join(format!("{id}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_alive_while_its_lock_lives_and_dead_after() {
        let dir = tempfile::tempdir().unwrap();
        let owners = owners_dir(&dir.path().join("s.db"));
        let lock = OwnerLock::acquire(&owners).unwrap();
        let id = lock.id().to_string();
        assert!(is_alive(&owners, &id));
        // Testing twice at once: shared locks do not conflict, both see it alive.
        assert!(is_alive(&owners, &id) && is_alive(&owners, &id));
        drop(lock);
        assert!(!is_alive(&owners, &id));
        assert!(!is_alive(&owners, "not an id"));
    }
}
