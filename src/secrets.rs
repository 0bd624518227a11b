//! Masking secret values (the values of `sensitive` connection parameters) as `*****` in
//! everything codeless prints: run documents, progress, errors, traces. Encoded forms a secret
//! commonly travels in (base64, URL encoding, HTTP Basic credentials) are masked too.

use base64::Engine;
use serde_json::Value;

pub const MASK: &str = "*****";

/// The characters a path segment keeps unencoded (as `http` inserts values into paths).
pub const PATH_SEGMENT: percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Longest first, so a secret containing another is masked whole.
    values: Vec<String>,
}

impl Secrets {
    /// Adds a secret and its encoded forms. Very short values are not masked (they would
    /// garble ordinary text); secrets are expected to be long.
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < 4 {
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let forms = [
            secret.to_owned(),
            b64.encode(secret),
            b64.encode(secret).trim_end_matches('=').to_owned(),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
            // As sent in a query string or form (space → `+`, `-_.*` kept) ...
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            // ... and as inserted into a path segment (`-_.~` kept).
            percent_encoding::utf8_percent_encode(secret, &PATH_SEGMENT).to_string(),
            serde_json::to_string(secret)
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned(),
        ];
        for f in forms {
            if f.chars().count() >= 4 && !self.values.contains(&f) {
                self.values.push(f);
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Also masks `user:password` as HTTP Basic sends it (base64 of the pair).
    pub fn add_basic(&mut self, user: &str, password: &str) {
        if password.chars().count() >= 4 {
            let pair = format!("{user}:{password}");
            self.add(&base64::engine::general_purpose::STANDARD.encode(pair));
        }
    }

    pub fn extend(&mut self, other: &Secrets) {
        for v in &other.values {
            if !self.values.contains(v) {
                self.values.push(v.clone());
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Whether `text` holds any of the secrets (in any of their forms).
    pub fn found_in(&self, text: &str) -> bool {
        self.values.iter().any(|v| text.contains(v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.values {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        // Summaries are cut at a length and end with `…`: a secret cut there shows its start.
        if out.contains('…') {
            for s in &self.values {
                let chars: Vec<char> = s.chars().collect();
                for keep in (4..chars.len()).rev() {
                    let cut: String = chars[..keep].iter().collect();
                    let with_ellipsis = format!("{cut}…");
                    if out.contains(&with_ellipsis) {
                        out = out.replace(&with_ellipsis, &format!("{MASK}…"));
                        break;
                    }
                }
            }
        }
        out
    }

    /// Masks every string (and object key) inside a JSON value.
    pub fn mask_value(&self, v: &mut Value) {
        if self.values.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                let masked = self.mask(s);
                if masked != *s {
                    *s = masked;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.mask_value(x)),
            Value::Object(o) => {
                let entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
                for (k, mut x) in entries {
                    self.mask_value(&mut x);
                    o.insert(self.mask(&k), x);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_plain_and_encoded_forms() {
        let mut s = Secrets::default();
        s.add("sk-live-123456");
        s.add_basic("admin", "hunter2-pass");
        assert_eq!(s.mask("key=sk-live-123456!"), "key=*****!");
        assert_eq!(s.mask("c2stbGl2ZS0xMjM0NTY="), "*****");
        assert_eq!(s.mask("Basic YWRtaW46aHVudGVyMi1wYXNz"), "Basic *****");
        let mut v = json!({"h": {"Authorization": "Bearer sk-live-123456"}, "sk-live-123456": [1]});
        s.mask_value(&mut v);
        assert_eq!(
            v,
            json!({"h": {"Authorization": "Bearer *****"}, "*****": [1]})
        );
    }
}
