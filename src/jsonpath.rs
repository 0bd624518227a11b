//! The one place JSONPath (RFC 9535) text becomes a query. `serde_json_path` overflows the
//! stack near 1,000 nested parentheses and slows down sharply with nested filters, so paths that
//! nest too deeply are refused before parsing. Every JSONPath in codeless goes through here.

use serde_json_path::JsonPath;

/// Most levels of `[ ]`.
pub const MAX_BRACKETS: usize = 8;
/// Most levels of `[ ]` and `( )` together.
pub const MAX_NESTING: usize = 32;

/// Parses a JSONPath; the error says what is wrong (without repeating the path).
pub fn parse(path: &str) -> Result<JsonPath, String> {
    let (mut brackets, mut parens, mut quote, mut escaped) = (0usize, 0usize, None, false);
    for c in path.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => brackets += 1,
                ']' => brackets = brackets.saturating_sub(1),
                '(' => parens += 1,
                ')' => parens = parens.saturating_sub(1),
                _ => {}
            },
        }
        if brackets > MAX_BRACKETS || brackets + parens > MAX_NESTING {
            return Err(format!(
                "it nests brackets too deeply (at most {MAX_BRACKETS} levels of [ ] and {MAX_NESTING} of [ ] and ( ) together)"
            ));
        }
    }
    // serde_json_path 0.7 panics ("entered unreachable code") on a path that ends inside a
    // `\u` escape; every `\u` must be followed by four hex digits. Escapes are read in pairs
    // from the left, so `\\u` is an escaped backslash and a `u`, and `\\\u` an escape again.
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '\\' {
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'u') {
            let hex = chars.get(i + 2..i + 6);
            if !hex.is_some_and(|h| h.iter().all(char::is_ascii_hexdigit)) {
                return Err("a `\\u` escape needs four hex digits".into());
            }
        }
        i += 2;
    }
    JsonPath::parse(path.trim()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("$[?{}@.a{}]", "(".repeat(5000), ")".repeat(5000));
        assert!(super::parse(&deep).unwrap_err().contains("too deeply"));
        let filters = format!("${}", "[?@".repeat(20));
        assert!(super::parse(&filters).is_err());
        assert!(super::parse("$.data[*].id").is_ok());
        assert!(super::parse("$.data[?@.s > 5 && (@.t == 'x')]").is_ok());
    }

    #[test]
    fn unfinished_unicode_escapes_are_refused_whatever_precedes_them() {
        // Crash 2 (fuzzing): an odd run of backslashes before the `u`.
        for path in [r#"$["\u"#, r#"$["\\\u"#, r#"$["a\\\\\u"#, r#"$[?":\\\\\u"#] {
            let r = std::panic::catch_unwind(|| super::parse(path).map(|_| ()));
            assert!(matches!(r, Ok(Err(_))), "{path}");
        }
        // An even run is escaped backslashes: no escape, and the path parses.
        assert!(super::parse(r#"$["a\\u"]"#).is_ok());
        assert!(super::parse(r#"$["\u0041"]"#).is_ok());
    }
}
