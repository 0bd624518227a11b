//! Source snippets without secrets: diagnostics show the lines around a problem, and a
//! connections file's lines may hold secrets written in it, in forms no masking of values
//! recognises (YAML escapes such as `"sk-\x41..."`, a block scalar cut into lines). Owns which
//! parts of such a file a snippet may show; the workspace decides which values are secrets.
//!
//! Hidden text keeps its byte length and its line breaks (it becomes `*****` and spaces), so
//! every line, column and span of a diagnostic stays where it was.

use crate::load::node::Span;

/// `text` with the written parts of each range hidden.
pub fn hide(text: &str, ranges: &[Span]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for r in ranges {
        let (start, end) = (r.start.min(text.len()), r.end().min(text.len()));
        let mut line_start = start;
        for piece in text[start..end].split_inclusive('\n') {
            let core = piece.trim();
            if !core.is_empty() {
                let offset = line_start + (piece.len() - piece.trim_start().len());
                cover(&mut bytes[offset..offset + core.len()]);
            }
            line_start += piece.len();
        }
    }
    // Only whole characters were replaced, by ASCII: the text is still UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

/// `*****` (or fewer stars) and spaces over `bytes`.
fn cover(bytes: &mut [u8]) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = if i < crate::secrets::MASK.len() {
            b'*'
        } else {
            b' '
        };
    }
}

/// Whether a file that could not be loaded looks like a connections file (its `kind:` says so,
/// or it has `params:`), so that its snippets hide its values.
pub fn looks_like_connections(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        let Some(rest) = l.strip_prefix("kind").or_else(|| l.strip_prefix("params")) else {
            return false;
        };
        let rest = rest.trim_start();
        rest.starts_with(':')
            && (l.starts_with("params")
                || rest[1..]
                    .trim_start()
                    .trim_start_matches(['"', '\''])
                    .starts_with("connections"))
    })
}

/// Every value of a connections file that does not parse, read line by line since there is no
/// tree: what follows each key's `:`, every line that is not a `key:` line (continued flow
/// mappings, block scalars, quoted text over several lines) and comments. Left visible: keys,
/// and `kind:` and `integration:` values that are plain names.
pub fn unparsed_values(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    // The indentation of the key a block scalar (`|`, `>`) belongs to, while in one.
    let mut block: Option<usize> = None;
    // The quote of a quoted value that goes on past its line.
    let mut quote: Option<char> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end();
        let indent = content.len() - content.trim_start().len();
        let whole = Span::new(start + indent, content.len() - indent);
        if content.trim().is_empty() {
            continue;
        }
        if let Some(q) = quote {
            out.push(whole);
            if closes(content, q) {
                quote = None;
            }
            continue;
        }
        if let Some(b) = block {
            if indent > b {
                out.push(whole);
                continue;
            }
            block = None;
        }
        let body = content.trim_start();
        let body = body.strip_prefix("- ").unwrap_or(body);
        let key_at = content.len() - body.len();
        let Some((key, colon)) = key_of(body) else {
            out.push(whole);
            continue;
        };
        let value = &body[colon + 1..];
        let value_at = key_at + colon + 1 + (value.len() - value.trim_start().len());
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let plain_name = value.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
            && value.starts_with(|c: char| c.is_ascii_alphabetic());
        if !(matches!(key, "kind" | "integration") && plain_name) {
            out.push(Span::new(start + value_at, value.len()));
        }
        if value.starts_with(['|', '>']) {
            block = Some(indent);
        } else if let Some(q) = value.chars().next().filter(|c| matches!(c, '"' | '\'')) {
            if !closes(&value[1..], q) {
                quote = Some(q);
            }
        }
    }
    out
}

/// The key of a `key: value` line and the offset of its `:`; `None` for a line that is not one.
fn key_of(body: &str) -> Option<(&str, usize)> {
    let (key, colon) = if let Some(q) = body.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        let close = body[1..].find(q)? + 1;
        (&body[1..close], close + 1)
    } else {
        let colon = body.find(':')?;
        let key = &body[..colon];
        if key.is_empty()
            || key != key.trim()
            || key.contains(['{', '[', ']', '}', ',', '"', '\'', '#'])
        {
            return None;
        }
        (key, colon)
    };
    let rest = body.get(colon..)?;
    let followed = rest.strip_prefix(':')?;
    (followed.is_empty() || followed.starts_with([' ', '\t'])).then_some((key, colon))
}

/// Whether a quoted scalar opened with `q` ends in `text` (a `\"` does not end a `"` scalar,
/// a `''` does not end a `'` one).
fn closes(text: &str, q: char) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if q == '"' && c == '\\' {
            chars.next();
        } else if c == q {
            if q == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hiding_keeps_lengths_and_lines() {
        let text = "a: sk-secret-1\nb: >-\n  line one\n  two\nc: ok\n";
        let at = |s: &str| Span::new(text.find(s).unwrap(), s.len());
        let hidden = hide(text, &[at("sk-secret-1"), at("line one\n  two")]);
        assert_eq!(hidden, "a: *****      \nb: >-\n  *****   \n  ***\nc: ok\n");
        assert_eq!(hidden.len(), text.len());
    }

    #[test]
    fn a_connections_file_that_does_not_parse_shows_keys_only() {
        let text = "kind: connections\nconnections:\n  a:\n    integration: ChatGPT\n    params: { apikey: sk-broken-1234, x: \"y }\n  b:\n    integration: sk-pasted-key-99\n    params:\n      apikey: |\n        sk-block-5678\n      url: \"http://u:pw-99@h\n        more\"\n    # old key: sk-old-4321\n";
        let hidden = hide(text, &unparsed_values(text));
        for gone in [
            "sk-broken",
            "1234",
            "sk-pasted",
            "sk-block",
            "pw-99",
            "more",
            "sk-old",
        ] {
            assert!(!hidden.contains(gone), "{gone} in:\n{hidden}");
        }
        for kept in [
            "kind: connections",
            "integration: ChatGPT",
            "params:",
            "apikey:",
            "url:",
        ] {
            assert!(hidden.contains(kept), "{kept} not in:\n{hidden}");
        }
        assert!(looks_like_connections(text));
        assert!(looks_like_connections("x:\n  params: [\n"));
        assert!(!looks_like_connections("kind: playbook\nname: x\n"));
    }
}
