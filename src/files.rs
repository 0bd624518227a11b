//! The local file store: files that commands create or take, addressed by ID.
//! Owns storage and metadata; knows nothing about commands.
//!
//! The store is private to the user (DESIGN.md §5): `--files DIR`, else `files/` beside the
//! run store, else `$XDG_DATA_HOME/codeless/files`. A directory it creates is mode 0700 and its
//! files 0600; a default directory must be a real directory of this user that nobody else may
//! enter, or it is refused. Entries are never followed as symbolic links, temporary files are
//! created exclusively, and a file whose content no longer matches its ID is refused: another
//! user who could write into the directory could otherwise replace what a playbook reads, or
//! plant a link to a file of the runner's.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
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

/// The most bytes a file's metadata may have (a name, a content type and a source URL).
const MAX_META_LEN: u64 = 1 << 20;

/// Files kept under one directory: `<id>` holds the bytes, `<id>.json` the metadata.
///
/// IDs are content-addressed: the first 16 hex characters of the SHA-256 of the bytes and the
/// name, so storing the same named content twice yields the same ID.
#[derive(Debug, Clone)]
pub struct FileStore {
    location: Location,
}

#[derive(Debug, Clone)]
enum Location {
    /// A directory given (`--files DIR`): used as it is, created (0700) when missing.
    Given(PathBuf),
    /// A default location: created 0700 when missing, and used only when it is a real
    /// directory owned by this user with no access for others. `Err`: none could be found.
    Default(Result<PathBuf, String>),
}

impl FileStore {
    /// The store in `dir`, as `--files DIR` gives it.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore {
            location: Location::Given(dir.into()),
        }
    }

    /// Where the store is, by DESIGN.md §5's order: `--files DIR`, else `files/` beside the
    /// run store (`--store`, §8: the store's commands pass it), else the user's data directory.
    pub fn resolve(files: Option<PathBuf>, run_store: Option<&Path>) -> Self {
        match (files, run_store) {
            (Some(dir), _) => FileStore::new(dir),
            (None, Some(store)) => FileStore::beside(store),
            (None, None) => FileStore::user_default(),
        }
    }

    /// `files/` beside the run store's file (an SQLite database), held to a default location's
    /// checks.
    pub fn beside(run_store: &Path) -> Self {
        let dir = match run_store.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("files"),
            _ => PathBuf::from("files"),
        };
        FileStore {
            location: Location::Default(Ok(dir)),
        }
    }

    /// `$XDG_DATA_HOME/codeless/files` (`~/.local/share/codeless/files`), held to a default
    /// location's checks. Nothing is created until the store is first used.
    pub fn user_default() -> Self {
        FileStore {
            location: Location::Default(user_data_dir().map(|d| d.join("codeless").join("files"))),
        }
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
        let dir = self.ready()?;
        let id = Self::id_for(name, bytes);
        let meta = FileMeta {
            id: id.clone(),
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            source: source.to_owned(),
        };
        let json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| format!("cannot encode the metadata of file {id}: {e}"))?;
        // Data first, metadata last: a file is visible (has metadata) only once complete.
        write_atomically(&dir, &id, bytes)?;
        write_atomically(&dir, &format!("{id}.json"), &json)?;
        Ok(meta)
    }

    /// The metadata and content of file `id`, refused when the content no longer matches the ID.
    pub fn get(&self, id: &str) -> Result<(FileMeta, Vec<u8>), String> {
        check_id(id)?;
        let dir = self.ready()?;
        let meta = meta_in(&dir, id)?;
        let bytes = read_entry(&dir, id, id, meta.size)?;
        if bytes.len() as u64 != meta.size || Self::id_for(&meta.name, &bytes) != id {
            return Err(changed(&dir, id, "its content no longer matches its ID"));
        }
        Ok((meta, bytes))
    }

    /// The metadata of file `id` (its content is checked by `get`).
    pub fn meta(&self, id: &str) -> Result<FileMeta, String> {
        check_id(id)?;
        meta_in(&self.ready()?, id)
    }

    /// The store's directory, created if missing and, for a default location, checked.
    fn ready(&self) -> Result<PathBuf, String> {
        match &self.location {
            Location::Given(dir) => {
                create_private_dir(dir)?;
                if !dir.is_dir() {
                    return Err(format!(
                        "the file store {} is not a directory (--files DIR)",
                        dir.display()
                    ));
                }
                Ok(dir.clone())
            }
            Location::Default(Err(e)) => Err(e.clone()),
            Location::Default(Ok(dir)) => {
                create_private_dir(dir)?;
                let meta = std::fs::symlink_metadata(dir).map_err(|e| {
                    format!("cannot use the file store directory {}: {e}", dir.display())
                })?;
                match private::refusal(&meta, private::current_uid()) {
                    Some(why) => Err(format!(
                        "refusing to use the file store directory {}: {why} (pass --files DIR \
                         to use another)",
                        dir.display()
                    )),
                    None => Ok(dir.clone()),
                }
            }
        }
    }
}

/// The metadata of file `id` (a valid ID) in the store's directory `dir`.
fn meta_in(dir: &Path, id: &str) -> Result<FileMeta, String> {
    let text = read_entry(dir, id, &format!("{id}.json"), MAX_META_LEN)?;
    let meta: FileMeta = serde_json::from_slice(&text).map_err(|e| {
        format!(
            "the metadata of file {id} ({}) is damaged: {e}",
            dir.join(format!("{id}.json")).display()
        )
    })?;
    if meta.id != id {
        return Err(format!(
            "the metadata of file {id} names another file ({}); refusing it",
            meta.id
        ));
    }
    Ok(meta)
}

/// The user's data directory: `$XDG_DATA_HOME` when it is absolute (the XDG specification
/// ignores a relative one), else `$HOME/.local/share`.
fn user_data_dir() -> Result<PathBuf, String> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_DATA_HOME")
        .or_else(|| absolute("HOME").map(|h| h.join(".local").join("share")))
        .ok_or_else(|| {
            "there is no directory for the file store: neither XDG_DATA_HOME nor HOME is set \
             (pass --files DIR)"
                .to_owned()
        })
}

/// Creates `dir` and its missing parents, each mode 0700.
fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    private::owner_only_dir(&mut builder);
    builder.create(dir).map_err(|e| {
        format!(
            "cannot create the file store directory {}: {e}",
            dir.display()
        )
    })
}

/// Reads the entry `name` (of file `id`) of the store, at most `limit` bytes: a regular file,
/// never through a symbolic link.
fn read_entry(dir: &Path, id: &str, name: &str, limit: u64) -> Result<Vec<u8>, String> {
    let path = dir.join(name);
    let file = private::open_no_follow(&path).map_err(|e| {
        let link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        match e.kind() {
            _ if link => format!(
                "{} is a symbolic link; file store entries are never followed",
                path.display()
            ),
            std::io::ErrorKind::NotFound => {
                format!("file {id} not found in the file store {}", dir.display())
            }
            _ => format!("cannot read {}: {e}", path.display()),
        }
    })?;
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        _ => return Err(format!("{} is not a regular file", path.display())),
    }
    crate::limits::read_bounded(file, limit).map_err(|e| match e {
        crate::limits::ReadError::Io(e) => format!("cannot read {}: {e}", path.display()),
        crate::limits::ReadError::TooLarge { .. } => {
            changed(dir, id, &format!("{name} is larger than it was"))
        }
    })
}

/// Why file `id` is refused: it is not what was stored.
fn changed(dir: &Path, id: &str, why: &str) -> String {
    format!(
        "file {id} in the file store {} was changed after it was stored ({why}); refusing it",
        dir.display()
    )
}

/// Writes `file_name` in the store through a temporary file and a rename, so concurrent
/// writers of the same (content-addressed) file never expose a partial file. The temporary
/// file is created exclusively (a link planted at its name is never written through), and the
/// rename replaces whatever `file_name` was, a planted link included, without following it.
fn write_atomically(dir: &Path, file_name: &str, bytes: &[u8]) -> Result<(), String> {
    let (tmp, mut file) = create_temp(dir, file_name)?;
    let target = dir.join(file_name);
    let written = file
        .write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, &target)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A new temporary file beside `file_name`, created exclusively with mode 0600. Names that
/// exist already (left by a crash, or planted) are skipped.
fn create_temp(dir: &Path, file_name: &str) -> Result<(PathBuf, File), String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ATTEMPTS: usize = 64;
    for _ in 0..ATTEMPTS {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!(
            ".{file_name}.{}.{n}.{nanos:x}.tmp",
            std::process::id()
        ));
        match create_new(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write {}: {e}", tmp.display())),
        }
    }
    Err(format!(
        "cannot create a temporary file in {}: {ATTEMPTS} names in a row exist already",
        dir.display()
    ))
}

/// Creates `path`, which must not exist (not even as a symbolic link), readable by its owner only.
fn create_new(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    private::owner_only_file(&mut options);
    options.open(path)
}

/// File IDs are hex only: this also keeps them from naming anything outside the store.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        // Masked before it is cut: the text may hold a secret (`secrets::clip`).
        let shown = crate::secrets::clip(id, 70);
        return Err(format!(
            "{shown:?} is not a file ID (file IDs are {ID_LEN} hexadecimal characters)"
        ));
    }
    Ok(())
}

/// Owner-only permissions, ownership and links: Unix's, and nothing elsewhere.
#[cfg(unix)]
mod private {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};

    pub fn owner_only_dir(b: &mut std::fs::DirBuilder) {
        b.mode(0o700);
    }

    pub fn owner_only_file(o: &mut std::fs::OpenOptions) {
        o.mode(0o600);
    }

    /// Opens for reading without following a final symbolic link, and without blocking on a
    /// FIFO planted in the store.
    pub fn open_no_follow(path: &std::path::Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
    }

    pub fn current_uid() -> u32 {
        // SAFETY: geteuid takes nothing, cannot fail and touches no memory of ours.
        unsafe { libc::geteuid() }
    }

    /// Why a default file store directory (its `symlink_metadata`) is refused for user `uid`:
    /// not a real directory, another user's, or open to others.
    pub fn refusal(meta: &std::fs::Metadata, uid: u32) -> Option<String> {
        let mode = meta.permissions().mode() & 0o777;
        if meta.file_type().is_symlink() {
            Some("it is a symbolic link, not a real directory".into())
        } else if !meta.is_dir() {
            Some("it is not a directory".into())
        } else if meta.uid() != uid {
            Some(format!(
                "it belongs to user {}, not to you (user {uid})",
                meta.uid()
            ))
        } else if mode & 0o077 != 0 {
            Some(format!(
                "others may use it (mode {mode:04o}); make it yours alone with `chmod 700`"
            ))
        } else {
            None
        }
    }
}

#[cfg(not(unix))]
mod private {
    pub fn owner_only_dir(_: &mut std::fs::DirBuilder) {}

    pub fn owner_only_file(_: &mut std::fs::OpenOptions) {}

    /// Without `O_NOFOLLOW`: a link is refused before opening (a race remains).
    pub fn open_no_follow(path: &std::path::Path) -> std::io::Result<std::fs::File> {
        if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
            return Err(std::io::Error::other("a symbolic link"));
        }
        std::fs::File::open(path)
    }

    pub fn current_uid() -> u32 {
        0
    }

    pub fn refusal(meta: &std::fs::Metadata, _: u32) -> Option<String> {
        if meta.file_type().is_symlink() {
            Some("it is a symbolic link, not a real directory".into())
        } else if !meta.is_dir() {
            Some("it is not a directory".into())
        } else {
            None
        }
    }
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
        let names: Vec<_> = std::fs::read_dir(dir.path().join("nested/files"))
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

    /// The attacks of issue 16 (item 3), with real files, links and permissions.
    #[cfg(unix)]
    mod attacks {
        use super::super::*;

        fn mode(path: &Path) -> u32 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::symlink_metadata(path)
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        }

        #[test]
        fn directories_it_creates_and_files_it_stores_are_the_users_alone() {
            let dir = tempfile::tempdir().unwrap();
            let store = FileStore::new(dir.path().join("a/files"));
            let meta = store.put("a.txt", "text/plain", b"hello", "test").unwrap();
            assert_eq!(mode(&dir.path().join("a")), 0o700);
            assert_eq!(mode(&dir.path().join("a/files")), 0o700);
            assert_eq!(mode(&dir.path().join("a/files").join(&meta.id)), 0o600);
            let json = dir.path().join("a/files").join(format!("{}.json", meta.id));
            assert_eq!(mode(&json), 0o600);
        }

        /// A default location (here: beside a run store) that others may enter is refused, and so
        /// is a link in its place; a directory of this user's alone is used.
        #[test]
        fn a_default_directory_open_to_others_or_a_link_is_refused() {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            let files = dir.path().join("files");
            std::fs::create_dir(&files).unwrap();
            let store = FileStore::beside(&dir.path().join("runs.db"));
            for open in [0o755, 0o750, 0o701, 0o777] {
                std::fs::set_permissions(&files, std::fs::Permissions::from_mode(open)).unwrap();
                let e = store.put("a.txt", "text/plain", b"x", "t").unwrap_err();
                assert_eq!(
                    e,
                    format!(
                        "refusing to use the file store directory {}: others may use it (mode \
                         {open:04o}); make it yours alone with `chmod 700` (pass --files DIR to use \
                         another)",
                        files.display()
                    )
                );
                assert!(store
                    .get("0123456789abcdef")
                    .unwrap_err()
                    .contains("others may use it"));
            }
            std::fs::set_permissions(&files, std::fs::Permissions::from_mode(0o700)).unwrap();
            let id = store.put("a.txt", "text/plain", b"x", "t").unwrap().id;
            assert_eq!(store.get(&id).unwrap().1, b"x");
            // A link to a private directory, in place of the default one.
            let elsewhere = tempfile::tempdir().unwrap();
            let linked = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(elsewhere.path(), linked.path().join("files")).unwrap();
            let e = FileStore::beside(&linked.path().join("runs.db"))
                .put("a.txt", "text/plain", b"x", "t")
                .unwrap_err();
            assert!(
                e.ends_with("files: it is a symbolic link, not a real directory (pass --files DIR to use another)"),
                "{e}"
            );
            // A file in its place.
            let file = tempfile::tempdir().unwrap();
            std::fs::write(file.path().join("files"), b"").unwrap();
            let e = FileStore::beside(&file.path().join("runs.db"))
                .meta("0123456789abcdef")
                .unwrap_err();
            assert!(
                e.starts_with("cannot create the file store directory"),
                "{e}"
            );
        }

        /// Ownership is checked against the effective user: a directory of another user's is
        /// refused (with a real one when the tests run as root, which may give it away).
        #[test]
        fn a_default_directory_of_another_user_is_refused() {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
            let meta = std::fs::symlink_metadata(dir.path()).unwrap();
            let me = private::current_uid();
            assert_eq!(private::refusal(&meta, me), None);
            assert_eq!(
                private::refusal(&meta, me.wrapping_add(1)),
                Some(format!(
                    "it belongs to user {me}, not to you (user {})",
                    me.wrapping_add(1)
                ))
            );
            if me == 0 {
                let files = dir.path().join("files");
                std::fs::create_dir(&files).unwrap();
                std::os::unix::fs::chown(&files, Some(65534), None).unwrap();
                let e = FileStore::beside(&dir.path().join("runs.db"))
                    .put("a.txt", "text/plain", b"x", "t")
                    .unwrap_err();
                assert!(
                    e.contains("files: it belongs to user 65534, not to you (user 0)"),
                    "{e}"
                );
            }
        }

        #[test]
        fn content_replaced_after_it_was_stored_is_refused() {
            let dir = tempfile::tempdir().unwrap();
            let store = FileStore::new(dir.path());
            let id = store.put("a.txt", "text/plain", b"hello", "t").unwrap().id;
            let changed = |why: &str| {
                format!(
                    "file {id} in the file store {} was changed after it was stored ({why}); \
                     refusing it",
                    dir.path().display()
                )
            };
            for replaced in [&b"HELLO"[..], b""] {
                std::fs::write(dir.path().join(&id), replaced).unwrap();
                assert_eq!(
                    store.get(&id).unwrap_err(),
                    changed("its content no longer matches its ID")
                );
            }
            std::fs::write(dir.path().join(&id), b"hello, world").unwrap();
            assert_eq!(
                store.get(&id).unwrap_err(),
                changed(&format!("{id} is larger than it was"))
            );
            // Metadata renamed to another name no longer matches the ID either.
            std::fs::write(dir.path().join(&id), b"hello").unwrap();
            let json = dir.path().join(format!("{id}.json"));
            let text = std::fs::read_to_string(&json)
                .unwrap()
                .replace("a.txt", "b.txt");
            std::fs::write(&json, text).unwrap();
            assert!(store
                .get(&id)
                .unwrap_err()
                .contains("no longer matches its ID"));
        }

        #[test]
        fn a_link_planted_under_a_file_id_is_never_followed() {
            let dir = tempfile::tempdir().unwrap();
            let secret = dir.path().join("secret.txt");
            std::fs::write(&secret, b"the runner's key").unwrap();
            let store_dir = dir.path().join("files");
            let store = FileStore::new(&store_dir);
            let real = store.put("x.txt", "text/plain", b"x", "t").unwrap();
            // The content is a link to the secret, under metadata that describes it.
            let id = "00112233aabbccdd";
            std::os::unix::fs::symlink(&secret, store_dir.join(id)).unwrap();
            let meta = FileMeta {
                id: id.into(),
                name: "secret.txt".into(),
                content_type: "text/plain".into(),
                size: 16,
                source: "planted".into(),
            };
            std::fs::write(
                store_dir.join(format!("{id}.json")),
                serde_json::to_vec(&meta).unwrap(),
            )
            .unwrap();
            let e = store.get(id).unwrap_err();
            assert_eq!(
                e,
                format!(
                    "{} is a symbolic link; file store entries are never followed",
                    store_dir.join(id).display()
                )
            );
            // The metadata as a link (to a real file's metadata).
            let id2 = "99887766ffeeddcc";
            std::os::unix::fs::symlink(
                store_dir.join(format!("{}.json", real.id)),
                store_dir.join(format!("{id2}.json")),
            )
            .unwrap();
            assert!(store.meta(id2).unwrap_err().contains("is a symbolic link"));
            // A FIFO planted there: refused at once, not waited on.
            let id3 = "0123012301230123";
            let fifo = store_dir.join(format!("{id3}.json"));
            assert!(std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success());
            assert_eq!(
                store.meta(id3).unwrap_err(),
                format!("{} is not a regular file", fifo.display())
            );
        }

        #[test]
        fn links_at_temporary_names_are_never_written_through() {
            let dir = tempfile::tempdir().unwrap();
            let victim = dir.path().join("victim");
            std::fs::write(&victim, b"untouched").unwrap();
            let store_dir = dir.path().join("files");
            std::fs::create_dir(&store_dir).unwrap();
            let id = FileStore::id_for("a.txt", b"payload");
            // Every name an earlier version would have used for this process's first writes.
            for n in 0..300 {
                for name in [id.clone(), format!("{id}.json")] {
                    let tmp = store_dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
                    std::os::unix::fs::symlink(&victim, tmp).unwrap();
                }
            }
            let store = FileStore::new(&store_dir);
            store.put("a.txt", "text/plain", b"payload", "t").unwrap();
            assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
            assert_eq!(store.get(&id).unwrap().1, b"payload");
            // Creating a temporary file where a link lies fails; nothing is written through it.
            let planted = store_dir.join("planted");
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
            let e = create_new(&planted).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
            assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        }

        #[test]
        fn the_default_location_follows_xdg() {
            let store = FileStore::user_default();
            let Location::Default(Ok(dir)) = &store.location else {
                // Neither XDG_DATA_HOME nor HOME: said when a file is used.
                assert!(store
                    .meta("0123456789abcdef")
                    .unwrap_err()
                    .contains("pass --files DIR"));
                return;
            };
            assert!(dir.ends_with("codeless/files"), "{}", dir.display());
            match std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
                Some(x) if x.is_absolute() => assert_eq!(dir, &x.join("codeless/files")),
                _ => assert!(dir.ends_with(".local/share/codeless/files")),
            }
        }
    }
}
