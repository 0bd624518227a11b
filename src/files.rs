//! The local file store: files that commands create or take, addressed by ID.
//! Owns storage and metadata; knows nothing about commands.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMeta {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub source: String,
}

/// Files kept under one directory: `<id>` holds the bytes, `<id>.json` the metadata.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore { dir: dir.into() }
    }
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}
