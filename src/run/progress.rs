//! Progress on stderr while a playbook runs. On a terminal: a live view — finished tasks scroll
//! by, and one status line, redrawn in place, shows what is running and how far the run is.
//! Otherwise (pipes, CI logs): one plain line per task start and finish. Every line is masked,
//! then has its control characters escaped (`console::escape_line`: data cannot write a line
//! of its own or drive the terminal), before the live view adds its own colours.

use crate::console::{eprint_raw, escape_line};
use crate::output::OutputModel;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub enabled: bool,
    /// Masked out of every line.
    pub secrets: crate::secrets::Secrets,
    /// Redraw a status line in place (set by `Progress::for_stderr` on a terminal).
    pub live: bool,
    state: Arc<Mutex<Live>>,
}

#[derive(Debug, Default)]
struct Live {
    running: Vec<String>,
    done: usize,
    total: usize,
}

impl Progress {
    /// Progress on stderr: live when stderr is a terminal (and TERM is not `dumb`).
    pub fn for_stderr(enabled: bool, secrets: crate::secrets::Secrets) -> Self {
        let live = enabled
            && std::io::stderr().is_terminal()
            && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Progress {
            enabled,
            secrets,
            live,
            state: Arc::default(),
        }
    }

    /// The number of tasks of the run (for "done/total").
    pub fn begin(&self, total: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.total = total;
        }
    }

    pub fn started(&self, task: &str, command: &str) {
        if !self.enabled {
            return;
        }
        if self.live {
            if let Ok(mut s) = self.state.lock() {
                s.running.push(task.to_owned());
                self.redraw(&s, None);
            }
        } else {
            eprint_raw(&format!(
                "{}\n",
                escape_line(&format!("▶ {task} ({command})"))
            ));
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
        let line = self.secrets.mask(&line);
        let line = escape_line(&line);
        if self.live {
            if let Ok(mut s) = self.state.lock() {
                if let Some(i) = s
                    .running
                    .iter()
                    .position(|r| r == task || r.starts_with(&format!("{task} (")))
                {
                    s.running.remove(i);
                }
                s.done += 1;
                let colored = if out.error.is_some() {
                    format!("\x1b[31m{line}\x1b[0m")
                } else {
                    format!("\x1b[32m{line}\x1b[0m")
                };
                self.redraw(&s, Some(&colored));
            }
        } else {
            eprint_raw(&format!("{line}\n"));
        }
    }

    /// A batch element of `task` finished: `done` of `total`.
    pub fn batch(&self, task: &str, done: usize, total: usize) {
        if !self.enabled || total < 2 {
            return;
        }
        if self.live {
            if let Ok(mut s) = self.state.lock() {
                let label = format!("{task} ({done}/{total})");
                if let Some(r) = s
                    .running
                    .iter_mut()
                    .find(|r| r.as_str() == task || r.starts_with(&format!("{task} (")))
                {
                    *r = label;
                }
                self.redraw(&s, None);
            }
        } else if done == total || done.is_multiple_of((total / 4).max(1)) {
            // Plain output: a line at each quarter.
            let line = format!("… {task}: {done}/{total} elements done");
            eprint_raw(&format!("{}\n", escape_line(&line)));
        }
    }

    pub fn note(&self, msg: &str) {
        if self.enabled {
            let line = format!("! {}", escape_line(&self.secrets.mask(msg)));
            if self.live {
                if let Ok(s) = self.state.lock() {
                    self.redraw(&s, Some(&line));
                }
            } else {
                eprint_raw(&format!("{line}\n"));
            }
        }
    }

    /// Clears the status line at the end of a live run.
    pub fn end(&self) {
        if self.enabled && self.live {
            eprint_raw("\r\x1b[K");
        }
    }

    /// Redraws the status line, with `print_above` (escaped already) scrolled above it.
    fn redraw(&self, s: &Live, print_above: Option<&str>) {
        let mut out = String::from("\r\x1b[K");
        if let Some(line) = print_above {
            out.push_str(line);
            out.push('\n');
        }
        let running = if s.running.is_empty() {
            "—".to_owned()
        } else {
            s.running.join(", ")
        };
        let status = self.secrets.mask(&format!(
            "⏵ {}/{} done · running: {running}",
            s.done, s.total
        ));
        let width = 100;
        let shown: String = escape_line(&status).chars().take(width).collect();
        out.push_str(&format!("\x1b[2m{shown}\x1b[0m"));
        eprint_raw(&out);
    }
}
