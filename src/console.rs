//! Writing to stdout and stderr (DESIGN.md §6). Output to a closed pipe (`codeless commands |
//! head`) ends the command quietly with the exit status it would have had; any other write
//! error (a full disk) makes it exit 2 with a message; neither is a panic, as `println!` is.
//! Text written to stderr has its control characters escaped ([`escape_controls`]): messages
//! carry data and servers' words, and stderr ends up on terminals (CI logs and `tee` too).
//!
//! Every write of the binary goes through here; [`finish`] turns what happened into the exit
//! status.

use std::borrow::Cow;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The exit status of a command that could not write its output (DESIGN.md §6).
const EXIT_WRITE_ERROR: i32 = 2;

/// Set once the reader of stdout (or stderr) has gone: later writes are skipped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error that was not a closed pipe, as the message to end with.
static WRITE_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Writes `text` to stdout as it is.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    write_to(&mut out, text, &STDOUT_CLOSED, "stdout");
}

/// Writes `text` to stderr with its control characters escaped ([`escape_controls`]).
pub fn eprint(text: &str) {
    eprint_raw(&escape_controls(text));
}

/// Writes `text` to stderr as it is: only for text whose control sequences are codeless's own
/// (the live progress view, coloured diagnostics), with everything from data escaped already.
pub fn eprint_raw(text: &str) {
    let mut err = std::io::stderr().lock();
    write_to(&mut err, text, &STDERR_CLOSED, "stderr");
}

/// Records a write error that is not a closed pipe (a full disk, an unwritable trace): the
/// command then ends with exit status 2 and `message` (the first such error is kept).
pub fn write_failed(message: String) {
    if let Ok(mut first) = WRITE_ERROR.lock() {
        first.get_or_insert(message);
    }
}

/// The exit status to leave with: `code`, the command's own, unless a write failed for another
/// reason than a closed pipe; then the error is said on stderr and the status is 2.
pub fn finish(code: i32) -> i32 {
    if !STDOUT_CLOSED.load(Ordering::Relaxed) {
        if let Err(e) = std::io::stdout().lock().flush() {
            note(e, &STDOUT_CLOSED, "stdout");
        }
    }
    let failed = WRITE_ERROR.lock().ok().and_then(|mut e| e.take());
    match failed {
        Some(message) => {
            eprint(&format!("error: {message}\n"));
            EXIT_WRITE_ERROR
        }
        None => code,
    }
}

fn write_to(w: &mut impl Write, text: &str, closed: &AtomicBool, name: &str) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        note(e, closed, name);
    }
}

fn note(e: std::io::Error, closed: &AtomicBool, name: &str) {
    closed.store(true, Ordering::Relaxed);
    if e.kind() != ErrorKind::BrokenPipe {
        write_failed(format!("cannot write to {name}: {e}"));
    }
}

/// `text` with its control characters escaped, so that data cannot drive a terminal (set its
/// title, clear it, rewrite lines, reach the clipboard with OSC 52): C0 controls other than
/// newline and tab, DEL and the C1 controls are written in Rust's notation, `\x1b`, `\x7f`,
/// `\u{9b}`. Backslashes are left as they are.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// [`escape_controls`] for text that must stay on one line (a progress line): newlines and
/// tabs are escaped too, so data cannot start a line of its own (a fake `✔ task` line).
pub fn escape_line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

fn escape(text: &str, keep: fn(char) -> bool) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !keep(c);
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !escaped(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("\x1b]0;pwned\x07\x1b[2J\r✔ ok\u{9b}31m\x7f\u{85}\n\tnext\\x1b"),
            "\\x1b]0;pwned\\x07\\x1b[2J\\r✔ ok\\u{9b}31m\\x7f\\u{85}\n\tnext\\x1b"
        );
        assert_eq!(escape_line("a\nb\tc\x00"), "a\\nb\\tc\\x00");
        // Text without controls is not copied; other Unicode is kept.
        assert!(matches!(
            escape_controls("é ✔ \u{a0} ok"),
            Cow::Borrowed("é ✔ \u{a0} ok")
        ));
    }
}
