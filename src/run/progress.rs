//! Progress lines on stderr while a playbook runs (one line per task start and finish).

use crate::output::OutputModel;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub enabled: bool,
    /// Masked out of every line.
    pub secrets: crate::secrets::Secrets,
}

impl Progress {
    pub fn started(&self, task: &str, command: &str) {
        if self.enabled {
            let _ = writeln!(std::io::stderr(), "▶ {task} ({command})");
        }
    }
    pub fn finished(&self, task: &str, out: &OutputModel, took: Duration, branch: Option<&str>) {
        if !self.enabled {
            return;
        }
        let ms = took.as_secs_f64() * 1000.0;
        let branch = branch
            .map(|b| format!(" → branch \"{b}\""))
            .unwrap_or_default();
        let line = match &out.error {
            Some(e) => format!("✘ {task} Failed in {ms:.1} ms: {}", e.render()),
            None => format!("✔ {task} {} in {ms:.1} ms{branch}", out.status.as_str()),
        };
        let _ = writeln!(std::io::stderr(), "{}", self.secrets.mask(&line));
    }
    pub fn note(&self, msg: &str) {
        if self.enabled {
            let _ = writeln!(std::io::stderr(), "! {}", self.secrets.mask(msg));
        }
    }
}
