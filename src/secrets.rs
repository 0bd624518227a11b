//! Masking secret values (the values of `sensitive` connection parameters, values read with
//! `${env:...}`/`${file:...}`, credentials in URLs and auth) as `*****` in everything codeless
//! prints: run documents, progress, errors, traces, validate output. Owns the forms a secret is
//! recognised in and the cut of long texts (summaries, clipped messages); knows nothing about
//! where secrets come from.
//!
//! A secret is matched in the encodings HTTP and servers give it, alone or mixed within one
//! occurrence: as written in any letter case (so `toUpper`/`toLower` of it too), any of its
//! characters but ASCII letters and digits percent-encoded (upper- or lower-case hex, a space
//! as `+`: URL and form encodings, and the re-quoted URLs servers such as httpbin echo), as
//! HTML character references (named, decimal, hex) and JSON string escapes; as hex of its bytes (either case); as base64 (standard
//! and URL-safe alphabets) at any alignment, so it is masked inside a longer base64 text such as
//! an HTTP Basic pair whatever the user name. Registered HTTP Basic pairs are masked whole.
//!
//! Texts are cut after masking, never before: a cut never shows the start of a secret it fell
//! inside, and what a cut shows does not depend on whether the text near the cut resembles a
//! secret (no oracle).

use base64::Engine;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock, RwLock};

pub const MASK: &str = "*****";

/// Sensitive values shorter than this are refused by connections: masking them would mask
/// ordinary text.
pub const MIN_SECRET_CHARS: usize = 4;

/// The characters a path segment keeps unencoded (as `http` inserts values into paths).
pub const PATH_SEGMENT: percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// The secrets as given, longest first (so a secret containing another is masked whole).
    values: Vec<String>,
    /// Texts masked exactly as written: the base64 of registered HTTP Basic pairs.
    exact: Vec<String>,
    /// One pattern for all of the above, built on first use and shared by clones.
    matcher: Arc<OnceLock<Matcher>>,
}

#[derive(Debug, Clone)]
struct Matcher {
    /// Every form of every secret, as alternatives.
    re: Option<Regex>,
    /// The alternatives one by one: where one matches, another may match longer (a form of one
    /// secret can begin like a form of another).
    alternatives: Vec<String>,
    /// `alternatives` anchored at the start, as a set (which match) and one by one (how far),
    /// built at the first match.
    anchored: OnceLock<Option<(RegexSet, Vec<Regex>)>>,
    /// Forms matched as written, for secrets too long for a pattern (a key file read with
    /// `${file:...}`), and for all of them should the pattern not build.
    literals: Vec<String>,
    /// The most bytes one match can span (how far past a cut a secret can reach).
    longest: usize,
}

/// Secrets longer than this (in characters) are matched in a few literal forms only: a
/// pattern for each character would take seconds to build.
const PATTERN_MAX_CHARS: usize = 4096;

impl Secrets {
    /// Adds a secret (every form of it is masked). Values shorter than `MIN_SECRET_CHARS`
    /// are ignored: connections refuse them, and masking them would garble ordinary text.
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_CHARS || self.values.iter().any(|v| v == secret) {
            return;
        }
        self.values.push(secret.to_owned());
        self.changed();
    }

    /// Also masks `user:password` as HTTP Basic sends it (base64 of the pair), user included.
    pub fn add_basic(&mut self, user: &str, password: &str) {
        if password.is_empty() {
            return;
        }
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        if !self.exact.contains(&pair) {
            self.exact.push(pair);
            self.changed();
        }
    }

    pub fn extend(&mut self, other: &Secrets) {
        let before = (self.values.len(), self.exact.len());
        for v in &other.values {
            if !self.values.contains(v) {
                self.values.push(v.clone());
            }
        }
        for v in &other.exact {
            if !self.exact.contains(v) {
                self.exact.push(v.clone());
            }
        }
        if before != (self.values.len(), self.exact.len()) {
            self.changed();
        }
    }

    fn changed(&mut self) {
        self.values
            .sort_by_key(|v| std::cmp::Reverse(v.chars().count()));
        self.exact.sort_by_key(|v| std::cmp::Reverse(v.len()));
        self.matcher = Arc::default();
    }

    fn matcher(&self) -> &Matcher {
        self.matcher
            .get_or_init(|| Matcher::build(&self.values, &self.exact))
    }

    /// Whether `text` holds any of the secrets (in any of their forms).
    pub fn found_in(&self, text: &str) -> bool {
        let m = self.matcher();
        m.re.as_ref().is_some_and(|re| re.is_match(text))
            || m.literals.iter().any(|l| text.contains(l.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.exact.is_empty()
    }

    /// The most bytes one occurrence of a secret can span in any of its forms.
    pub fn longest_form(&self) -> usize {
        self.matcher().longest
    }

    pub fn mask(&self, text: &str) -> String {
        self.masked(text).into_owned()
    }

    fn masked<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let ranges = self.ranges(text, text.len());
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for (start, end) in ranges {
            out.push_str(&text[pos..start]);
            out.push_str(MASK);
            pos = end;
        }
        out.push_str(&text[pos..]);
        Cow::Owned(out)
    }

    /// The first `max` bytes of `text` (cut at a character boundary), every secret in them
    /// masked whole first: a secret the cut falls inside shows as `*****` and ends the head.
    /// The second value says whether `text` went on past the head.
    pub fn head(&self, text: &str, max: usize) -> (String, bool) {
        let max = floor_boundary(text, max);
        let mut out = String::with_capacity(max + MASK.len());
        let mut pos = 0;
        for (start, end) in self.ranges(text, max) {
            out.push_str(&text[pos..start]);
            out.push_str(MASK);
            pos = end;
            if end >= max {
                break;
            }
        }
        if pos < max {
            out.push_str(&text[pos..max]);
            pos = max;
        }
        (out, pos < text.len())
    }

    /// The byte ranges to mask in `text`, in order, for occurrences starting before `before`.
    /// Occurrences that overlap (a secret repeated with overlap, two secrets' forms sharing
    /// bytes) make one range, so no part of either shows.
    fn ranges(&self, text: &str, before: usize) -> Vec<(usize, usize)> {
        let m = self.matcher();
        let mut out = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let Some((start, mut end)) = m.find_at(text, at) else {
                break;
            };
            if start >= before {
                break;
            }
            let mut next = next_boundary(text, start);
            while next < end {
                match m.find_at(text, next) {
                    Some((s, e)) if s < end => {
                        end = end.max(e);
                        next = next_boundary(text, s);
                    }
                    _ => break,
                }
            }
            out.push((start, end));
            at = end;
        }
        out
    }

    /// Masks every string (and object key) inside a JSON value.
    pub fn mask_value(&self, v: &mut Value) {
        if self.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                if let Cow::Owned(masked) = self.masked(s) {
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

    /// Makes these secrets known to every cut of a text in this process (`clip`, output
    /// summaries), which happen far from any connection: a cut must mask before it cuts.
    /// Connections register theirs when they are resolved.
    pub fn register(&self) {
        if self.is_empty() {
            return;
        }
        let known = registered();
        if known.as_ref().is_some_and(|k| k.includes(self)) {
            return;
        }
        if let Ok(mut slot) = REGISTERED.write() {
            let mut all = slot.as_deref().cloned().unwrap_or_default();
            all.extend(self);
            *slot = Some(Arc::new(all));
        }
    }

    fn includes(&self, other: &Secrets) -> bool {
        other.values.iter().all(|v| self.values.contains(v))
            && other.exact.iter().all(|v| self.exact.contains(v))
    }
}

/// Every secret registered in this process (`Secrets::register`); `None` while there is none.
static REGISTERED: RwLock<Option<Arc<Secrets>>> = RwLock::new(None);

pub fn registered() -> Option<Arc<Secrets>> {
    REGISTERED.read().ok().and_then(|s| s.clone())
}

/// `text` cut to at most `max_chars` characters for a message, ending with `…` when cut; the
/// registered secrets are masked before the cut.
pub fn clip(text: &str, max_chars: usize) -> String {
    let (head, cut) = clip_head(text, max_chars);
    if cut {
        format!("{head}…")
    } else {
        head
    }
}

/// `clip` without the `…`: the head, and whether `text` went on past it.
pub fn clip_head(text: &str, max_chars: usize) -> (String, bool) {
    let max = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    match registered() {
        Some(s) => s.head(text, max),
        None => (text[..max].to_owned(), max < text.len()),
    }
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn next_boundary(text: &str, at: usize) -> usize {
    let mut at = (at + 1).min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

impl Matcher {
    fn build(values: &[String], exact: &[String]) -> Matcher {
        let mut alternatives: Vec<String> = exact.iter().map(|e| regex::escape(e)).collect();
        let mut longest = exact.iter().map(String::len).max().unwrap_or(0);
        let mut literals = Vec::new();
        for v in values {
            if v.chars().count() > PATTERN_MAX_CHARS {
                literals.extend(literal_forms(v));
                continue;
            }
            let (textual, len) = textual_pattern(v);
            alternatives.push(textual);
            let hex = hex::encode(v);
            longest = longest.max(len).max(hex.len());
            alternatives.push(format!("(?i:{hex})"));
            for b in base64_patterns(v.as_bytes()) {
                longest = longest.max(b.len());
                alternatives.push(b);
            }
        }
        let re = (!alternatives.is_empty())
            .then(|| compile(&alternatives.join("|")))
            .flatten();
        if re.is_none() && !alternatives.is_empty() {
            // Never unmasked for want of a pattern: every secret in its literal forms.
            alternatives.clear();
            literals.extend(exact.iter().cloned());
            for v in values
                .iter()
                .filter(|v| v.chars().count() <= PATTERN_MAX_CHARS)
            {
                literals.extend(literal_forms(v));
            }
        }
        literals.sort_by_key(|l| std::cmp::Reverse(l.len()));
        literals.dedup();
        longest = longest.max(literals.first().map_or(0, String::len));
        Matcher {
            re,
            alternatives,
            anchored: OnceLock::new(),
            literals,
            longest,
        }
    }

    /// The first occurrence of a form at or after `at`: its start, and the end of the longest
    /// form that starts there.
    fn find_at(&self, text: &str, at: usize) -> Option<(usize, usize)> {
        let by_pattern = self
            .re
            .as_ref()
            .and_then(|re| re.find_at(text, at))
            .map(|m| m.start());
        let by_literal = self
            .literals
            .iter()
            .filter_map(|l| text[at..].find(l.as_str()).map(|i| at + i))
            .min();
        let start = match (by_pattern, by_literal) {
            (Some(p), Some(l)) => p.min(l),
            (p, l) => p.or(l)?,
        };
        Some((start, self.longest_at(text, start)))
    }

    /// The end of the longest occurrence of any form that starts at `start` (at least one
    /// character on).
    fn longest_at(&self, text: &str, start: usize) -> usize {
        let rest = &text[start..];
        let mut end = next_boundary(text, start);
        // Each alternative alone: the combined pattern stops at the first that matches.
        let anchored = self.anchored.get_or_init(|| {
            let patterns: Vec<String> = self
                .alternatives
                .iter()
                .map(|a| format!(r"\A(?:{a})"))
                .collect();
            let set = RegexSetBuilder::new(&patterns)
                .size_limit(256 << 20)
                .dfa_size_limit(32 << 20)
                .build()
                .ok()?;
            let each = patterns.iter().map(|p| compile(p)).collect::<Option<_>>()?;
            Some((set, each))
        });
        if let Some((set, each)) = anchored {
            for i in set.matches(rest).iter() {
                if let Some(m) = each[i].find(rest) {
                    end = end.max(start + m.end());
                }
            }
        }
        for l in &self.literals {
            if rest.starts_with(l.as_str()) {
                end = end.max(start + l.len());
            }
        }
        end
    }
}

/// The forms a very long secret is matched in, as written: plain and in either ASCII case,
/// percent-encoded (either hex case), form-encoded, JSON-escaped, hex, base64.
fn literal_forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let percent = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let lower_hex_percent = percent
        .split('%')
        .enumerate()
        .map(|(i, p)| match (i, p.get(..2)) {
            (0, _) | (_, None) => p.to_owned(),
            (_, Some(h)) => format!("{}{}", h.to_ascii_lowercase(), &p[2..]),
        })
        .collect::<Vec<_>>()
        .join("%");
    let json = serde_json::to_string(secret).unwrap_or_default();
    vec![
        secret.to_owned(),
        secret.to_ascii_lowercase(),
        secret.to_ascii_uppercase(),
        percent,
        lower_hex_percent,
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        json.get(1..json.len().saturating_sub(1))
            .unwrap_or_default()
            .to_owned(),
        hex::encode(secret),
        hex::encode_upper(secret),
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ]
}

fn compile(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(256 << 20)
        .dfa_size_limit(32 << 20)
        .build()
        .ok()
}

/// One secret as text: each character as itself (any case) or encoded as URLs, HTML and JSON
/// encode characters, each one independently. Returns the pattern and the most bytes a match
/// can span.
fn textual_pattern(secret: &str) -> (String, usize) {
    let mut pattern = String::from("(?i:");
    let mut longest = 0;
    for c in secret.chars() {
        let forms = char_forms(c);
        longest += forms.iter().map(|(_, len)| len).max().copied().unwrap_or(0);
        pattern.push_str("(?:");
        let alternatives: Vec<&str> = forms.iter().map(|(f, _)| f.as_str()).collect();
        pattern.push_str(&alternatives.join("|"));
        pattern.push(')');
    }
    pattern.push(')');
    (pattern, longest)
}

/// The ways one character of a secret may be written, as regex fragments with the most bytes
/// each can match.
fn char_forms(c: char) -> Vec<(String, usize)> {
    let mut buf = [0u8; 4];
    let plain = c.encode_utf8(&mut buf);
    // Encoders leave ASCII letters and digits as they are (and a pattern for every form of
    // them took seconds to build for a long token).
    if c.is_ascii_alphanumeric() {
        return vec![(plain.to_owned(), 4)];
    }
    let code = c as u32;
    let mut forms = vec![
        (
            plain.bytes().map(|b| format!("%{b:02x}")).collect(),
            3 * plain.len(),
        ),
        (format!("&#0{{0,3}}{code};"), 16),
        (format!("&#x0{{0,3}}{code:x};"), 16),
    ];
    let mut units = [0u16; 2];
    let units = c.encode_utf16(&mut units);
    forms.push((
        units.iter().map(|u| format!(r"\\u{u:04x}")).collect(),
        6 * units.len(),
    ));
    let json_short = match c {
        '"' => Some(r#"\\""#),
        '\\' => Some(r"\\\\"),
        '/' => Some(r"\\/"),
        '\n' => Some(r"\\n"),
        '\r' => Some(r"\\r"),
        '\t' => Some(r"\\t"),
        '\u{8}' => Some(r"\\b"),
        '\u{c}' => Some(r"\\f"),
        _ => None,
    };
    forms.extend(json_short.map(|f| (f.to_owned(), 2)));
    if c == ' ' {
        forms.push((r"\+".to_owned(), 1));
    }
    for name in html_names(c) {
        forms.push((format!("&{name};"), name.len() + 2));
    }
    // The regex takes the first alternative that leads to a match: longer encodings first and
    // the character itself last, so that `&amp;` is not read as `&` and leave `amp;` showing.
    forms.sort_by_key(|(_, len)| std::cmp::Reverse(*len));
    // Upper- and lower-case variants of a character can differ in UTF-8 length.
    forms.push((regex::escape(plain), 4));
    forms
}

/// HTML's named character references for the ASCII characters that have one.
fn html_names(c: char) -> &'static [&'static str] {
    match c {
        '!' => &["excl"],
        '"' => &["quot"],
        '#' => &["num"],
        '$' => &["dollar"],
        '%' => &["percnt"],
        '&' => &["amp"],
        '\'' => &["apos"],
        '(' => &["lpar"],
        ')' => &["rpar"],
        '*' => &["ast", "midast"],
        '+' => &["plus"],
        ',' => &["comma"],
        '.' => &["period"],
        '/' => &["sol"],
        ':' => &["colon"],
        ';' => &["semi"],
        '<' => &["lt"],
        '=' => &["equals"],
        '>' => &["gt"],
        '?' => &["quest"],
        '@' => &["commat"],
        '[' => &["lsqb", "lbrack"],
        '\\' => &["bsol"],
        ']' => &["rsqb", "rbrack"],
        '^' => &["hat"],
        '_' => &["lowbar", "underbar"],
        '`' => &["grave", "diacriticalgrave"],
        '{' => &["lcub", "lbrace"],
        '|' => &["verbar", "vert", "verticalline"],
        '}' => &["rcub", "rbrace"],
        '\t' => &["tab"],
        '\n' => &["newline"],
        _ => &[],
    }
}

/// The secret's bytes as base64 wherever they sit in a longer text: for each of the three
/// alignments and both alphabets, the characters that encode only its bits, with the
/// characters it shares with its neighbours matched by every value they can take. Case-
/// sensitive, as base64 is.
fn base64_patterns(secret: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    const STANDARD_CHARS: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE_CHARS: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    for (engine, chars) in [
        (&STANDARD_NO_PAD, STANDARD_CHARS),
        (&URL_SAFE_NO_PAD, URL_SAFE_CHARS),
    ] {
        for shift in 0..3usize {
            let mut bytes = vec![0u8; shift];
            bytes.extend_from_slice(secret);
            let encoded = engine.encode(&bytes).into_bytes();
            let value = |i: usize| chars.iter().position(|&c| c == encoded[i]).unwrap_or(0) as u8;
            let (first_bit, end_bit) = (8 * shift, 8 * bytes.len());
            let first_whole = first_bit.div_ceil(6);
            let end_whole = end_bit / 6;
            if end_whole <= first_whole {
                continue;
            }
            let mut p = String::new();
            // A leading character holding the low bits of the neighbour and the secret's first.
            if first_bit % 6 != 0 {
                let own = 6 * first_whole - first_bit;
                let mask = (1u8 << own) - 1;
                let want = value(first_whole - 1) & mask;
                p.push_str(&char_class(chars, |v| v & mask == want));
                p.push('?');
            }
            p.push_str(&regex::escape(
                std::str::from_utf8(&encoded[first_whole..end_whole]).unwrap_or_default(),
            ));
            // A trailing character holding the secret's last bits and the neighbour's first.
            if end_bit % 6 != 0 {
                let own = end_bit - 6 * end_whole;
                let want = value(end_whole) >> (6 - own);
                p.push_str(&char_class(chars, |v| v >> (6 - own) == want));
                p.push('?');
            }
            // Padding says nothing, but `*****=` reads worse than `*****`.
            p.push_str("={0,2}");
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A regex class of the base64 characters whose 6-bit values satisfy `keep`.
fn char_class(chars: &[u8; 64], keep: impl Fn(u8) -> bool) -> String {
    let mut class = String::from("[");
    for (v, &c) in chars.iter().enumerate() {
        if keep(v as u8) {
            class.push_str(&regex::escape(&(c as char).to_string()));
        }
    }
    class.push(']');
    class
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets(values: &[&str]) -> Secrets {
        let mut s = Secrets::default();
        for v in values {
            s.add(v);
        }
        s
    }

    #[test]
    fn masks_plain_and_encoded_forms() {
        let mut s = secrets(&["sk-live-123456"]);
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

    /// Finding 16: the encodings servers choose.
    #[test]
    fn masks_the_encodings_servers_choose() {
        let s = secrets(&["sk-live/abc+def= x&y~"]);
        for text in [
            // Lower-case percent-encoding, and form encoding (space as `+`).
            "sk-live%2fabc%2bdef%3d%20x%26y~",
            "sk-live%2Fabc%2Bdef%3D+x%26y%7E",
            // httpbin's `url`: werkzeug re-quotes the query, decoding all but ` #%&+=`.
            "http://127.0.0.1:18080/anything?key=sk-live/abc%2Bdef%3D%20x%26y~",
            // HTML entities: Handlebars' (`&#x3D;`), named, decimal, hex, upper-case hex.
            "sk-live/abc+def&#x3D; x&amp;y~",
            "sk-live&sol;abc&plus;def&equals;&#32;x&#38;y&#X7E;",
            "sk-live&#47;abc&#043;def&#x3d; x&AMP;y~",
            // JSON escapes.
            r"sk-live\/abc\u002bdef= x\u0026y~",
        ] {
            let masked = s.mask(text);
            assert!(
                masked.contains(MASK) && !masked.contains("abc") && !masked.contains("sk-"),
                "{text} -> {masked}"
            );
        }
    }

    /// Finding 18: transformed secrets: hex in either case, and case-folded.
    #[test]
    fn masks_hex_and_case_folded_forms() {
        let s = secrets(&["Sk-Live-Token9"]);
        for text in [
            "SK-LIVE-TOKEN9".to_owned(),
            "sk-live-token9".to_owned(),
            hex::encode("Sk-Live-Token9"),
            hex::encode_upper("Sk-Live-Token9"),
        ] {
            assert_eq!(s.mask(&format!("<{text}>")), "<*****>", "{text}");
        }
    }

    /// The secret's base64 inside any longer base64 text (a Basic pair of any user name,
    /// a JSON document encoded whole) shows none of its bits.
    #[test]
    fn masks_the_secret_inside_longer_base64() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let secret = "pw-?>?>-leak-83d61b";
        let s = secrets(&[secret]);
        for prefix in ["", "a", "ab", "svc-user:", "{\"token\": \""] {
            for encoded in [
                STANDARD.encode(format!("{prefix}{secret}\"}}")),
                URL_SAFE_NO_PAD.encode(format!("{prefix}{secret}")),
            ] {
                let masked = s.mask(&encoded);
                assert!(masked.contains(MASK), "{prefix}: {encoded} -> {masked}");
                // What is left decodes to the neighbours only: at most the prefix's
                // characters and two characters of padding and what followed.
                let left = masked.replace(MASK, "").replace('=', "");
                assert!(
                    left.len() <= prefix.len() * 4 / 3 + 3,
                    "{prefix}: {encoded} -> {masked}"
                );
            }
        }
    }

    /// Finding 8: a cut masks first, shows no part of a secret it falls inside, and shows
    /// the same whether or not the text at the cut is a prefix of a secret.
    #[test]
    fn a_cut_masks_first_and_is_no_oracle() {
        let secret = "tok-leakcheck-5f0c2a9e71";
        let s = secrets(&[secret]);
        for at in 1..secret.len() {
            let text = format!("{}{secret} and more", "x".repeat(200 - at));
            let (head, more) = s.head(&text, 200);
            assert!(more);
            assert_eq!(head, format!("{}{MASK}", "x".repeat(200 - at)), "{at}");
        }
        // A guess of the secret's start at the cut comes out as it went in, right or wrong.
        for guess in ["tok-leakc", "tok-leakX"] {
            let text = format!(
                "{}{guess}ZZZZZZZZZZZZZZZZZZZZZ",
                "x".repeat(200 - guess.len())
            );
            let (head, _) = s.head(&text, 200);
            assert_eq!(head, format!("{}{guess}", "x".repeat(200 - guess.len())));
        }
        // Overlapping occurrences are masked as one: no part of the second shows.
        let s = secrets(&["abcabcab"]);
        assert_eq!(s.mask("<abcabcabcab>"), "<*****>");
        // Where the form of one secret begins like a longer form of another, the longer one
        // is masked ("abc/1234x" with its `/` percent-encoded).
        let s = secrets(&["abc%2F1234", "abc/1234x"]);
        assert_eq!(s.mask("<abc%2F1234x>"), "<*****>");
    }

    /// A secret too long for a pattern (a key file) is still masked, in its literal forms.
    #[test]
    fn a_very_long_secret_is_masked_in_its_literal_forms() {
        use base64::engine::general_purpose::STANDARD;
        let key = format!(
            "-----BEGIN KEY-----\n{}\n-----END KEY-----",
            "MIIEvQ+/=".repeat(600)
        );
        let s = secrets(&[&key]);
        for form in [key.clone(), key.to_ascii_lowercase(), STANDARD.encode(&key)] {
            assert_eq!(s.mask(&format!("<{form}>")), "<*****>");
        }
        assert!(s.found_in(&format!("x{key}x")));
        let (head, more) = s.head(&format!("{}{key}", "x".repeat(190)), 200);
        assert_eq!((head, more), (format!("{}{MASK}", "x".repeat(190)), false));
    }

    #[test]
    fn short_values_are_not_masked_and_texts_without_secrets_are_kept() {
        let s = secrets(&["abc"]);
        assert!(s.is_empty());
        assert_eq!(s.mask("abc"), "abc");
        let s = secrets(&["long-secret-1"]);
        let text = "nothing to see here: ü, %41, &amp;";
        assert_eq!(s.mask(text), text);
        assert!(!s.found_in(text));
        assert!(s.found_in("x LONG-SECRET-1 y"));
    }
}
