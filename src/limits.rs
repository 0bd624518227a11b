//! Resource limits: how big, how deep and how many, each with a default that fits real playbooks
//! and a `--limit NAME=VALUE` override. Every limit is enforced with a message that names it, so
//! whoever hits one knows which knob to turn (or that the input is hostile).

use std::fmt::Write as _;

/// The limits in force for one invocation. `Copy`: the run services carry their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of any file read: playbooks, integrations, connections, tests, incidents, inputs, mocks.
    pub file_size: u64,
    /// Nesting levels of a YAML document.
    pub yaml_depth: usize,
    /// Values in a YAML document, counting what aliases expand to.
    pub yaml_nodes: usize,
    /// Times one conditional may take a loop back-edge in a run, whatever its `max_loops`.
    pub loop_iterations: u32,
    /// Elements of a batch (a list given to a scalar input) or of an integration's `for_each`.
    pub batch_size: usize,
    /// Bytes of one HTTP response body.
    pub response_size: usize,
    /// Levels of playbooks calling playbooks.
    pub nesting_depth: u32,
    /// `__RETRY__` re-runs one command may ask for in one task run.
    pub command_retries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_size: 10 * MIB,
            yaml_depth: 64,
            yaml_nodes: 250_000,
            loop_iterations: 10_000,
            batch_size: 100_000,
            response_size: 16 * MIB as usize,
            nesting_depth: 8,
            command_retries: 100,
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// One limit as the command line names it.
pub struct LimitInfo {
    pub name: &'static str,
    pub what: &'static str,
    /// Whether the value is a size in bytes (accepts KiB/MiB/GiB suffixes).
    pub bytes: bool,
    /// The largest value accepted (deeper YAML or nesting would risk the stack).
    pub max: u64,
    get: fn(&Limits) -> u64,
    set: fn(&mut Limits, u64),
}

/// Every limit, in the order `codeless limits` lists them.
pub const LIMITS: &[LimitInfo] = &[
    LimitInfo {
        name: "file-size",
        what: "bytes of any file read (YAML files, incidents, inputs, mocks)",
        bytes: true,
        max: u32::MAX as u64,
        get: |l| l.file_size,
        set: |l, v| l.file_size = v,
    },
    LimitInfo {
        name: "yaml-depth",
        what: "nesting levels of a YAML document",
        bytes: false,
        max: 1_000,
        get: |l| l.yaml_depth as u64,
        set: |l, v| l.yaml_depth = v as usize,
    },
    LimitInfo {
        name: "yaml-nodes",
        what: "values in a YAML document, counting what aliases expand to",
        bytes: false,
        max: u32::MAX as u64,
        get: |l| l.yaml_nodes as u64,
        set: |l, v| l.yaml_nodes = v as usize,
    },
    LimitInfo {
        name: "loop-iterations",
        what: "times a conditional may loop back in one run, whatever its max_loops",
        bytes: false,
        max: u32::MAX as u64,
        get: |l| u64::from(l.loop_iterations),
        set: |l, v| l.loop_iterations = v as u32,
    },
    LimitInfo {
        name: "batch-size",
        what: "elements of a batch (a list given to a scalar input) or of a for_each request",
        bytes: false,
        max: u32::MAX as u64,
        get: |l| l.batch_size as u64,
        set: |l, v| l.batch_size = v as usize,
    },
    LimitInfo {
        name: "response-size",
        what: "bytes of one HTTP response body",
        bytes: true,
        max: u32::MAX as u64,
        get: |l| l.response_size as u64,
        set: |l, v| l.response_size = v as usize,
    },
    LimitInfo {
        name: "nesting-depth",
        what: "levels of playbooks calling playbooks",
        bytes: false,
        max: 64,
        get: |l| u64::from(l.nesting_depth),
        set: |l, v| l.nesting_depth = v as u32,
    },
    LimitInfo {
        name: "command-retries",
        what: "__RETRY__ re-runs one command may ask for in one task run",
        bytes: false,
        max: u32::MAX as u64,
        get: |l| u64::from(l.command_retries),
        set: |l, v| l.command_retries = v as u32,
    },
];

impl Limits {
    /// The defaults with `NAME=VALUE` overrides applied, in order.
    pub fn parse(overrides: &[String]) -> Result<Limits, String> {
        let mut limits = Limits::default();
        for kv in overrides {
            limits.set(kv)?;
        }
        Ok(limits)
    }

    /// Applies one `NAME=VALUE` override.
    pub fn set(&mut self, kv: &str) -> Result<(), String> {
        let Some((name, value)) = kv.split_once('=') else {
            return Err(format!(
                "--limit `{kv}` must be NAME=VALUE (see `codeless limits`)"
            ));
        };
        let name = name.trim();
        let Some(info) = LIMITS.iter().find(|i| i.name == name) else {
            let hint = crate::util::closest(name, LIMITS.iter().map(|i| i.name))
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "--limit: unknown limit `{name}`{hint}; `codeless limits` lists them"
            ));
        };
        let v =
            parse_value(value.trim(), info.bytes).map_err(|e| format!("--limit {name}: {e}"))?;
        if v == 0 || v > info.max {
            return Err(format!(
                "--limit {name}: {v} is out of range (1 to {})",
                info.max
            ));
        }
        (info.set)(self, v);
        Ok(())
    }

    /// The value of the named limit as the command line would write it.
    pub fn shown(&self, info: &LimitInfo) -> String {
        show_value((info.get)(self), info.bytes)
    }

    /// A table of every limit, its value and default (`codeless limits`).
    pub fn table(&self) -> String {
        let defaults = Limits::default();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>10}  WHAT",
            "LIMIT", "VALUE", "DEFAULT"
        );
        for info in LIMITS {
            let _ = writeln!(
                out,
                "{:<16} {:>10} {:>10}  {}",
                info.name,
                self.shown(info),
                defaults.shown(info),
                info.what
            );
        }
        out.push_str("\nChange one with `--limit NAME=VALUE` (sizes take KiB, MiB or GiB).\n");
        out
    }
}

/// Why a file could not be read whole: over the `file-size` limit, or an I/O error.
#[derive(Debug)]
pub enum ReadError {
    /// `size` is known for regular files (their metadata), not for pipes and devices.
    TooLarge {
        limit: u64,
        size: Option<u64>,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge {
                limit,
                size: Some(size),
            } => write!(
                f,
                "the file is {size} bytes, more than the file-size limit of {limit} bytes"
            ),
            ReadError::TooLarge { limit, size: None } => write!(
                f,
                "the file is larger than the file-size limit of {limit} bytes"
            ),
            ReadError::Io(e) => e.fmt(f),
        }
    }
}

/// Reads the whole file at `path`, at most `limit` bytes of it, whatever it is: a regular file,
/// a pipe (`/dev/stdin`), a FIFO or a device (`/dev/zero`). Their metadata says 0 bytes, so the
/// bound is on what is read (`take(limit + 1)`), never on `metadata().len()`; a regular file's
/// length only refuses it early, without reading it.
pub fn read_file(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    read_bounded(file, limit)
}

/// [`read_file`] for a file opened already (the file store opens its entries its own way).
pub fn read_bounded(file: std::fs::File, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read as _;
    let len = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if let Some(size) = len.filter(|&size| size > limit) {
        return Err(ReadError::TooLarge {
            limit,
            size: Some(size),
        });
    }
    let mut bytes = Vec::with_capacity(len.unwrap_or(0) as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit, size: None });
    }
    Ok(bytes)
}

impl Limits {
    /// [`read_file`] under the `file-size` limit.
    pub fn read_file(&self, path: &std::path::Path) -> Result<Vec<u8>, ReadError> {
        read_file(path, self.file_size)
    }
}

/// What to tell someone who hit a limit.
pub fn raise_hint(name: &str) -> String {
    format!("raise it with `--limit {name}=N` if the input is trusted")
}

fn parse_value(s: &str, bytes: bool) -> Result<u64, String> {
    let s = s.replace('_', "");
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s.as_str(), ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kb" | "kib" if bytes => 1024,
        "m" | "mb" | "mib" if bytes => MIB,
        "g" | "gb" | "gib" if bytes => 1024 * MIB,
        other if bytes => return Err(format!("unknown unit `{other}` (use KiB, MiB or GiB)")),
        _ => return Err(format!("`{s}` is not a whole number")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{s}` is too large"))
}

fn show_value(v: u64, bytes: bool) -> String {
    match v {
        _ if bytes && v >= MIB && v % MIB == 0 => format!("{}MiB", v / MIB),
        _ if bytes && v >= 1024 && v % 1024 == 0 => format!("{}KiB", v / 1024),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_sizes_take_units() {
        let l = Limits::parse(&[
            "file-size=2MiB".into(),
            "response-size = 512k".into(),
            "loop-iterations=50".into(),
            "batch-size=1_000".into(),
        ])
        .unwrap();
        assert_eq!(l.file_size, 2 * MIB);
        assert_eq!(l.response_size, 512 * 1024);
        assert_eq!(l.loop_iterations, 50);
        assert_eq!(l.batch_size, 1000);
        assert_eq!(l.yaml_depth, Limits::default().yaml_depth);
    }

    #[test]
    fn bad_overrides_say_what_is_wrong() {
        let err = |s: &str| Limits::parse(&[s.to_owned()]).unwrap_err();
        assert!(err("loop-iteration=3").contains("did you mean `loop-iterations`"));
        assert!(err("file-size").contains("NAME=VALUE"));
        assert!(err("file-size=10XB").contains("unknown unit `xb`"));
        assert!(err("yaml-depth=3MiB").contains("not a whole number"));
        assert!(err("yaml-depth=0").contains("out of range"));
        assert!(err("batch-size=99999999999").contains("out of range"));
        assert!(err("file-size=99999999999GiB").contains("too large"));
        assert!(err("nesting-depth=-1").contains("not a whole number"));
    }

    #[test]
    fn read_file_takes_exactly_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_file(&path, 5).unwrap(), b"12345");
        assert_eq!(
            read_file(&path, 4).unwrap_err().to_string(),
            "the file is 5 bytes, more than the file-size limit of 4 bytes"
        );
        // A device: no length to go by, the bound is on what is read.
        assert_eq!(
            read_file(std::path::Path::new("/dev/zero"), 4)
                .unwrap_err()
                .to_string(),
            "the file is larger than the file-size limit of 4 bytes"
        );
        let missing = read_file(&dir.path().join("nope"), 4).unwrap_err();
        assert!(matches!(missing, ReadError::Io(_)), "{missing}");
    }

    #[test]
    fn table_lists_every_limit_with_its_default() {
        let t = Limits::parse(&["yaml-depth=12".into()]).unwrap().table();
        for info in LIMITS {
            assert!(t.contains(info.name), "{t}");
        }
        assert!(t.contains("yaml-depth               12         64"), "{t}");
        assert!(t.contains("file-size             10MiB      10MiB"), "{t}");
    }
}
