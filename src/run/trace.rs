//! `--trace FILE`: one JSON line per event (run started/finished, task started with its inputs,
//! retried, finished with its output and duration, HTTP retries), every secret masked.

use crate::secrets::Secrets;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Default)]
pub struct Trace {
    out: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
    secrets: Secrets,
    started: Option<Instant>,
    path: std::path::PathBuf,
    /// Why the trace could not be written (the first error): nothing more is written then.
    failed: Mutex<Option<String>>,
}

impl Trace {
    /// A trace written to `path` (created or truncated).
    pub fn to_file(path: &std::path::Path, secrets: Secrets) -> Result<Trace, String> {
        let f = std::fs::File::create(path)
            .map_err(|e| format!("cannot write the trace to {}: {e}", path.display()))?;
        Ok(Trace {
            out: Some(Mutex::new(std::io::BufWriter::new(f))),
            secrets,
            started: Some(Instant::now()),
            path: path.to_path_buf(),
            failed: Mutex::default(),
        })
    }

    pub fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Writes one event; `fields` is an object merged into the line.
    pub fn emit(&self, event: &str, fields: Value) {
        let Some(out) = &self.out else { return };
        let mut line = Map::new();
        line.insert(
            "ts".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert(
            "elapsed_ms".into(),
            json!(self
                .started
                .map(|s| s.elapsed().as_secs_f64() * 1000.0)
                .unwrap_or(0.0)),
        );
        line.insert("event".into(), json!(event));
        if let Value::Object(f) = fields {
            line.extend(f);
        }
        let mut v = Value::Object(line);
        self.secrets.mask_value(&mut v);
        let Ok(mut failed) = self.failed.lock() else {
            return;
        };
        if failed.is_some() {
            return;
        }
        if let Ok(mut w) = out.lock() {
            if let Err(e) = writeln!(w, "{v}").and_then(|()| w.flush()) {
                *failed = Some(format!(
                    "cannot write the trace to {}: {e}",
                    self.path.display()
                ));
            }
        }
    }

    /// Why the trace could not be written, if it could not (a full disk): the run's events
    /// from then on are missing from it.
    pub fn error(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }
}
