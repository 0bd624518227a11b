//! The output model every command returns (DESIGN.md §4).
//! Owns the shape and its JSON form; knows nothing about how commands compute it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Status {
    #[default]
    Successful,
    #[serde(rename = "Partially Successful")]
    PartiallySuccessful,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Successful => "Successful",
            Status::PartiallySuccessful => "Partially Successful",
            Status::Failed => "Failed",
        }
    }
}

/// `{ indicator, status_code, message }`, rendered as the seed does:
/// `<Command> failed. Status Code: 400. Message: ...`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandError {
    pub indicator: String,
    pub status_code: Option<u16>,
    pub message: String,
}

impl CommandError {
    /// An error of command `display` (its display name) with no HTTP status.
    pub fn new(display: &str, message: impl Into<String>) -> Self {
        CommandError {
            indicator: format!("{display} failed."),
            status_code: None,
            message: message.into(),
        }
    }
    pub fn with_status(mut self, code: u16) -> Self {
        self.status_code = Some(code);
        self
    }
    pub fn render(&self) -> String {
        match self.status_code {
            Some(code) => format!(
                "{} Status Code: {}. Message: {}",
                self.indicator, code, self.message
            ),
            None => format!("{} Message: {}", self.indicator, self.message),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct OutputModel {
    pub status: Status,
    pub return_data: Value,
    pub result: Value,
    pub key_fields: Map<String, Value>,
    pub raw_data: Value,
    pub error: Option<CommandError>,
    pub passdown: Value,
    /// The seed's "run me again" (`{"__ACTION__": "__RETRY__", "__DELAY__": [...]}`), set only by
    /// producers the playbook's author controls: a mock, a `tasks:` command whose
    /// `outputs.returnData` is that object written in the YAML, and (later) a Python command.
    /// Never read from `returnData`: data that looks like the marker stays data (DESIGN §5).
    #[serde(skip)]
    pub retry: Option<RetryRequest>,
}

/// A command's request to be run again after a delay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetryRequest {
    /// Seconds before retry N (0-based); the last repeats; none means no wait.
    pub delays: Vec<f64>,
}

impl RetryRequest {
    /// The marker object's request, if `v` is that object: `__ACTION__` is `__RETRY__`, and
    /// `__DELAY__` a number or a list of numbers. Only trusted producers may call this.
    pub fn from_marker(v: &Value) -> Option<RetryRequest> {
        let obj = v.as_object()?;
        if obj.get("__ACTION__")?.as_str()? != "__RETRY__" {
            return None;
        }
        let delays = match obj.get("__DELAY__") {
            Some(Value::Array(d)) => d.iter().map(|x| x.as_f64().unwrap_or(0.0)).collect(),
            Some(Value::Number(n)) => vec![n.as_f64().unwrap_or(0.0)],
            _ => Vec::new(),
        };
        Some(RetryRequest { delays })
    }

    /// The wait before retry number `retry` (0-based), at most an hour.
    pub fn delay(&self, retry: u32) -> std::time::Duration {
        let secs = self
            .delays
            .get(retry as usize)
            .or(self.delays.last())
            .copied()
            .unwrap_or(0.0);
        crate::util::seconds(secs.clamp(0.0, crate::util::MAX_WAIT_SECONDS))
    }
}

impl OutputModel {
    /// A successful output whose returnData (and rawData) is `value`.
    pub fn success(value: Value) -> Self {
        OutputModel {
            status: Status::Successful,
            result: summary_of(&value),
            raw_data: value.clone(),
            return_data: value,
            ..Default::default()
        }
    }
    pub fn failure(error: CommandError) -> Self {
        OutputModel {
            status: Status::Failed,
            return_data: Value::String("Failed".into()),
            result: Value::String(error.render()),
            error: Some(error),
            ..Default::default()
        }
    }
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// About the bytes of this output written out as `how` says (a task's entry in the run
    /// document when printed; field names and the small fields are counted roughly), or `None`
    /// once that passes `cap`.
    pub fn size(&self, how: crate::limits::MeasureAs, cap: u64) -> Option<u64> {
        use crate::limits::{measure, MeasureAs};
        // Field names, status, counts, punctuation: a small task entry's fixed part.
        const FIXED: u64 = 200;
        let inner = match how {
            MeasureAs::Printed { depth } => MeasureAs::Printed { depth: depth + 1 },
            compact => compact,
        };
        let error = self
            .error
            .as_ref()
            .map_or(0, |e| e.indicator.len() + e.message.len()) as u64;
        let mut total = FIXED + error;
        let fields = [
            &self.return_data,
            &self.result,
            &self.raw_data,
            &self.passdown,
        ];
        let keyed = self.key_fields.iter().map(|(k, v)| (k.len() as u64 + 4, v));
        for (extra, v) in fields.into_iter().map(|v| (0, v)).chain(keyed) {
            let how = if extra > 0 { inner } else { how };
            total += extra + measure(v, how, cap.checked_sub(total + extra)?)?;
        }
        (total <= cap).then_some(total)
    }
}

/// A short human summary of a value: text as is, anything else as compact JSON (truncated).
/// Secrets registered in the process are masked before the cut (`Secrets::head`), so a cut
/// never shows the start of one.
pub fn summary_of(value: &Value) -> Value {
    const MAX: usize = 200;
    let secrets = crate::secrets::registered();
    let (text, went_on) = match value {
        Value::String(s) => (Cow::Borrowed(s.as_str()), false),
        Value::Null => (Cow::Borrowed(""), false),
        // Serialize no more than the summary needs: a 1 MB response is not written out whole
        // to keep 200 bytes of it.
        other => match &secrets {
            // Written on the stack and then copied out at its length: the summary is kept for
            // every element of a batch, and a 204-byte buffer per element was most of its memory.
            None => {
                let mut w = Capped {
                    buf: [0; MAX + 4],
                    len: 0,
                };
                let _ = serde_json::to_writer(&mut w, other);
                (Cow::Owned(valid_prefix(&w.buf[..w.len])), false)
            }
            // A secret starting before the cut is masked whole, so the text must reach its end.
            Some(s) => {
                let room = MAX + 4 + s.longest_form();
                let mut w = CappedVec {
                    buf: Vec::with_capacity(room),
                    room,
                };
                let full = serde_json::to_writer(&mut w, other).is_ok();
                (Cow::Owned(valid_prefix(&w.buf)), !full)
            }
        },
    };
    match secrets {
        None if text.len() <= MAX => Value::String(text.into_owned()),
        None => {
            let mut cut = MAX;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            Value::String(format!("{}…", &text[..cut]))
        }
        Some(s) => match s.head(&text, MAX) {
            (head, false) if !went_on => Value::String(head),
            (head, _) => Value::String(format!("{head}…")),
        },
    }
}

/// `bytes` as text, up to the last whole character (a capped writer may stop inside one).
fn valid_prefix(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(e) => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
    }
}

/// `Capped` on the heap, for a size known at run time.
struct CappedVec {
    buf: Vec<u8>,
    room: usize,
}

impl std::io::Write for CappedVec {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.room.saturating_sub(self.buf.len());
        if room == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let n = room.min(buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that keeps the first `N` bytes and then refuses more, which stops the serializer.
struct Capped<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> std::io::Write for Capped<N> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = N.saturating_sub(self.len);
        if room == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let n = room.min(buf.len());
        self.buf[self.len..self.len + n].copy_from_slice(&buf[..n]);
        self.len += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Key fields by JSONPath from `raw`. A path with a wildcard, filter, slice, union or descendant
/// segment yields an array; a plain path its one value (null when absent). A path that selects
/// more than `budget` allows fails the extraction, naming the key field and the limit.
pub fn extract_key_fields(
    specs: &[crate::commands::KeyFieldSpec],
    raw: &Value,
    budget: crate::jsonpath::Budget,
) -> Result<Map<String, Value>, String> {
    extract_key_fields_noted(specs, raw, budget).map(|(fields, _)| fields)
}

/// Like `extract_key_fields`, with a note for each `parse_json` key field whose values were
/// not all JSON (those are kept as text).
pub fn extract_key_fields_noted(
    specs: &[crate::commands::KeyFieldSpec],
    raw: &Value,
    budget: crate::jsonpath::Budget,
) -> Result<(Map<String, Value>, Vec<String>), String> {
    use crate::jsonpath::Exceeded;
    let mut out = Map::new();
    let mut notes = Vec::new();
    // The key fields of one output share the byte budget: together they are copies of rawData.
    let mut used = 0u64;
    for kf in specs {
        let too_much = |e: Exceeded| {
            let e = match e {
                Exceeded::Bytes(_) => Exceeded::Bytes(budget.bytes),
                other => other,
            };
            format!("key field `{}`: {e}", kf.name)
        };
        let room = crate::jsonpath::Budget {
            bytes: budget.bytes.saturating_sub(used),
            ..budget
        };
        let (v, bytes) = match crate::jsonpath::parse(&kf.path) {
            Ok(p) if is_plural(&kf.path) => {
                let (values, bytes) = p.values_measured(raw, room).map_err(too_much)?;
                // Brackets and commas.
                let punctuation = 1 + values.len().max(1) as u64;
                (Value::Array(values), bytes + punctuation)
            }
            Ok(p) => {
                let first = p.first(raw, room).map_err(too_much)?;
                let bytes = crate::jsonpath::within_bytes(first.as_slice(), room.bytes)
                    .map_err(too_much)?;
                (first.cloned().unwrap_or(Value::Null), bytes)
            }
            Err(_) => (Value::Null, 0),
        };
        used += bytes;
        let v = if kf.parse_json {
            let mut bad = 0;
            let v = parse_json_texts(v, &mut bad);
            if bad > 0 {
                notes.push(format!(
                    "key field `{}`: {bad} value(s) were not valid JSON and are kept as text",
                    kf.name
                ));
            }
            v
        } else {
            v
        };
        out.insert(kf.name.clone(), v);
    }
    Ok((out, notes))
}

/// JSON written as text becomes JSON (in arrays, element by element); other text stays text
/// and is counted in `bad`.
fn parse_json_texts(v: Value, bad: &mut usize) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(&s).unwrap_or_else(|_| {
            *bad += 1;
            Value::String(s)
        }),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| parse_json_texts(x, bad)).collect()),
        other => other,
    }
}

/// Whether a JSONPath can select several nodes (by its syntax, outside quoted names).
pub fn is_plural(path: &str) -> bool {
    let mut quote = None;
    let mut prev = ' ';
    for c in path.chars() {
        match quote {
            Some(q) if c == q && prev != '\\' => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '*' | '?' | ':' | ',' => return true,
                '.' if prev == '.' => return true,
                _ => {}
            },
        }
        prev = c;
    }
    false
}

#[cfg(test)]
mod summary_tests {
    use super::summary_of;
    use serde_json::{json, Value};

    /// What the summary was before it stopped serializing early: the whole text, cut.
    fn cut_whole(v: &Value) -> Value {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        if text.len() <= 200 {
            return Value::String(text);
        }
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        Value::String(format!("{}…", &text[..cut]))
    }

    #[test]
    fn summaries_stop_early_but_read_the_same() {
        let mut cases = vec![
            json!(null),
            json!("short"),
            json!({"a": 1}),
            json!([1, 2, 3]),
        ];
        // Multi-byte characters straddling byte 200 and the 204-byte cap, at every offset.
        for pad in 0..8 {
            let s = format!("{}{}", "x".repeat(190 + pad), "é😀ü".repeat(10));
            cases.push(json!({ "k": s }));
            cases.push(json!([s]));
        }
        cases.push(json!({"ids": (0..10_000).collect::<Vec<_>>()}));
        cases.push(json!({"exactly": "y".repeat(200 - 14)}));
        for v in &cases {
            assert_eq!(summary_of(v), cut_whole(v), "{v}");
        }
        assert_eq!(
            summary_of(&json!({"exactly": "y".repeat(200 - 14)}))
                .as_str()
                .map(str::len),
            Some(200)
        );
    }
}
