//! The local file store: files that commands create or take, addressed by ID.
//! Owns storage and metadata; knows nothing about commands.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMeta {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub source: String,
}

/// Length of a file ID: hex characters of the content hash.
const ID_LEN: usize = 16;

/// Files kept under one directory: `<id>` holds the bytes, `<id>.json` the metadata.
///
/// IDs are content-addressed: the first 16 hex characters of the SHA-256 of the bytes and the
/// name, so storing the same named content twice yields the same ID.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ID that `put` gives to `bytes` stored under `name`.
    pub fn id_for(name: &str, bytes: &[u8]) -> String {
        let mut h = Sha256::new();
        // Length-prefixed, so (bytes, name) pairs cannot collide by shifting the boundary.
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
        h.update(name.as_bytes());
        let mut id = hex::encode(h.finalize());
        id.truncate(ID_LEN);
        id
    }

    /// Stores a file and returns its metadata (with its new ID). Creates the directory.
    pub fn put(
        &self,
        name: &str,
        content_type: &str,
        bytes: &[u8],
        source: &str,
    ) -> Result<FileMeta, String> {
        let id = Self::id_for(name, bytes);
        let meta = FileMeta {
            id: id.clone(),
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            source: source.to_owned(),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            format!(
                "cannot create the file store directory {}: {e}",
                self.dir.display()
            )
        })?;
        let json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| format!("cannot encode the metadata of file {id}: {e}"))?;
        // Data first, metadata last: a file is visible (has metadata) only once complete.
        self.write_atomically(&id, bytes)?;
        self.write_atomically(&format!("{id}.json"), &json)?;
        Ok(meta)
    }

    /// The metadata and content of file `id`.
    pub fn get(&self, id: &str) -> Result<(FileMeta, Vec<u8>), String> {
        let meta = self.meta(id)?;
        let path = self.dir.join(id);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read file {id} ({}): {e}", path.display()))?;
        Ok((meta, bytes))
    }

    /// The metadata of file `id`.
    pub fn meta(&self, id: &str) -> Result<FileMeta, String> {
        check_id(id)?;
        let path = self.dir.join(format!("{id}.json"));
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "file {id} not found in the file store {}",
                    self.dir.display()
                ))
            }
            Err(e) => return Err(format!("cannot read the metadata of file {id}: {e}")),
        };
        serde_json::from_slice(&text).map_err(|e| {
            format!(
                "the metadata of file {id} ({}) is damaged: {e}",
                path.display()
            )
        })
    }

    /// Writes `file_name` in the store through a temporary file and a rename, so concurrent
    /// writers of the same (content-addressed) file never expose a partial file.
    fn write_atomically(&self, file_name: &str, bytes: &[u8]) -> Result<(), String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{file_name}.{}.{n}.tmp", std::process::id()));
        let target = self.dir.join(file_name);
        std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", target.display())
        })
    }
}

/// File IDs are hex only: this also keeps them from naming anything outside the store.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let shown: String = id.chars().take(70).collect();
        return Err(format!(
            "{shown:?} is not a file ID (file IDs are {ID_LEN} hexadecimal characters)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_round_trip_and_content_addressing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("nested/files"));
        let meta = store.put("a.txt", "text/plain", b"hello", "test").unwrap();
        assert_eq!(meta.id.len(), 16);
        assert!(meta.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(meta.size, 5);
        let (m, bytes) = store.get(&meta.id).unwrap();
        assert_eq!(m, meta);
        assert_eq!(bytes, b"hello");
        assert_eq!(store.meta(&meta.id).unwrap().name, "a.txt");
        // Same content and name: same ID; another name: another ID.
        assert_eq!(
            store
                .put("a.txt", "text/plain", b"hello", "again")
                .unwrap()
                .id,
            meta.id
        );
        assert_ne!(
            store
                .put("b.txt", "text/plain", b"hello", "test")
                .unwrap()
                .id,
            meta.id
        );
        assert_ne!(FileStore::id_for("ab", b"c"), FileStore::id_for("b", b"ca"));
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn ids_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        for bad in [
            "",
            "../etc/passwd",
            "abc/def",
            "zz",
            "0123456789abcdef.json",
            "..",
            "/tmp",
        ] {
            let e = store.get(bad).unwrap_err();
            assert!(e.contains("is not a file ID"), "{bad}: {e}");
        }
        let e = store.get("0123456789abcdef").unwrap_err();
        assert!(e.contains("not found"), "{e}");
    }
}
