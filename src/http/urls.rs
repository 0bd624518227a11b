//! Request URLs, parsed with the origin's parse reused.
//!
//! A batch sends hundreds of URLs to one origin (`http://host:port` + a path). `Url::parse`
//! spends most of its time on the origin, the host above all (it goes through IDNA even for
//! `127.0.0.1`): in the HTTP batch benchmark it cost 6.1k instructions a request, 3.1k of them
//! for the host, and joining a path to an origin already parsed costs 2.2k (callgrind,
//! bench/README.md "hot spot 3"). So each thread keeps its last plain origin parsed, and a URL
//! on the same origin is that origin joined with the URL's path.
//!
//! The result is the same `Url` as `Url::parse` gives, because only URLs whose origin is plain
//! (scheme `http` or `https`, then a host and port made of letters, digits, `.`, `-` and `:`)
//! and whose rest begins with exactly one `/` take this path. WHATWG parsing resolves such a
//! rest against a base exactly as it parses it after that base's authority: both go straight to
//! the path state with the base's host and port. Everything else (user info, IPv6, percent
//! signs, `//` or `/\` after the host, no path) is parsed whole, as before. The tests compare
//! the two on such URLs.

use reqwest::Url;
use std::cell::RefCell;

thread_local! {
    /// The last plain origin this thread parsed, as written, and its parse.
    static LAST_ORIGIN: RefCell<Option<(String, Url)>> = const { RefCell::new(None) };
}

/// `Url::parse(s)`, reusing this thread's last parse of `s`'s origin when it is plain.
pub fn parse(s: &str) -> Result<Url, url::ParseError> {
    let Some((origin, rest)) = split_plain(s) else {
        return Url::parse(s);
    };
    LAST_ORIGIN.with(|last| {
        let mut last = last.borrow_mut();
        if !matches!(&*last, Some((o, _)) if o == origin) {
            // An origin that does not parse alone fails the whole URL the same way; parse it
            // whole so the error is the one `Url::parse` gives.
            let Ok(base) = Url::parse(origin) else {
                return Url::parse(s);
            };
            *last = Some((origin.to_owned(), base));
        }
        match &*last {
            Some((_, base)) => base.join(rest),
            None => Url::parse(s),
        }
    })
}

/// `s` as a plain origin and a rest that begins with one `/`, when it is such a URL.
fn split_plain(s: &str) -> Option<(&str, &str)> {
    let after_scheme = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))?;
    let host_len = after_scheme.find('/')?;
    if host_len == 0
        || !after_scheme[..host_len]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
    {
        return None;
    }
    let split = s.len() - after_scheme.len() + host_len;
    let (origin, rest) = s.split_at(split);
    // `//x` or `/\x` would be read as a new authority when joined (`\` is `/` in http URLs),
    // and so would `/\t/x`: parsing drops tabs and newlines first.
    let second = rest[1..]
        .bytes()
        .find(|b| !matches!(b, b'\t' | b'\n' | b'\r'));
    if matches!(second, Some(b'/' | b'\\')) {
        return None;
    }
    Some((origin, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and `Url::parse` agree, URL by URL, on what each gives (URL or error).
    #[test]
    fn same_as_url_parse() {
        let cases = [
            "http://127.0.0.1:8080/item/0",
            "http://127.0.0.1:8080/item/1?x=1&y=a b#frag",
            "http://Example.COM/a/./b/../c",
            "http://example.com:80/default-port",
            "https://example.com:443/x",
            "https://example.com:8443/x",
            "http://example.com:/empty-port",
            "http://example.com/a%20b/%zz/ü/<>\"`{}",
            "http://example.com/tab\there/new\nline",
            "http://example.com/trailing  ",
            "http://example.com/\\back\\slash",
            "http://example.com//double",
            "http://example.com/\\evil.com/x",
            "http://example.com/?only-query",
            "http://example.com/#only-fragment",
            "http://0x7f.1/x",
            "http://1.2.3.4.5/x",
            "http://256.0.0.1/x",
            "http://exa-mple..com/x",
            "http://-.com/x",
            "http://example.com:99999/bad-port",
            "http://example.com:8x/bad-port",
            "http://:80/no-host",
            "http://xn--nxasmq6b.com/x",
            "http://xn--a.com/x",
            "http://user:pass@example.com/x",
            "http://[::1]:8080/x",
            "http://exa%41mple.com/x",
            "http://example.com",
            "http://example.com?q",
        ];
        for s in cases {
            // Twice: once parsing the origin, once from the cache.
            for _ in 0..2 {
                assert_eq!(parse(s), Url::parse(s), "{s:?}");
            }
            if let (Ok(fast), Ok(whole)) = (parse(s), Url::parse(s)) {
                assert_eq!(fast.as_str(), whole.as_str(), "{s:?}");
            }
        }
    }

    /// The same on 20,000 generated URLs: plain and other origins, and rests made of the
    /// characters URL parsing treats specially.
    #[test]
    fn same_as_url_parse_on_generated_urls() {
        let origins = [
            "http://127.0.0.1:8080",
            "https://api.example.com",
            "http://EXAMPLE.com:80",
            "http://h:",
            "http://1.2.3",
            "http://a..b",
            "http://u@h",
            "http://[::1]",
        ];
        let alphabet = [
            "/", "\\", ".", "..", "%", "%2e", "?", "#", " ", "\t", "\n", "a", "Z", "0", ":", "@",
            "ü", "[", "]", "'", "\"", "<", "\u{0}", "\u{7f}",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut fast = 0;
        for _ in 0..20_000 {
            let mut s = String::from(origins[next(origins.len())]);
            if next(4) > 0 {
                s.push('/');
            }
            for _ in 0..next(8) {
                s.push_str(alphabet[next(alphabet.len())]);
            }
            fast += usize::from(split_plain(&s).is_some());
            assert_eq!(parse(&s), Url::parse(&s), "{s:?}");
        }
        // Enough of them went the fast way for the comparison to mean something.
        assert!(fast > 5_000, "only {fast} took the fast path");
    }

    #[test]
    fn only_plain_origins_with_one_leading_slash_take_the_fast_path() {
        assert_eq!(split_plain("http://h:1/a?b"), Some(("http://h:1", "/a?b")));
        assert_eq!(split_plain("https://h/"), Some(("https://h", "/")));
        for s in [
            "http://h",
            "http://h?q",
            "http:///x",
            "http://u@h/x",
            "http://[::1]/x",
            "http://h%41/x",
            "http://h//x",
            "http://h/\\x",
            "http://h/\t/x",
            "http://h/\n\\x",
            "ftp://h/x",
            "HTTP://h/x",
        ] {
            assert_eq!(split_plain(s), None, "{s:?}");
        }
    }

    /// A second origin replaces the first; going back parses it again, with the same result.
    #[test]
    fn a_new_origin_replaces_the_cached_one() {
        let a = parse("http://a.example/x").expect("parses");
        let b = parse("http://b.example/y").expect("parses");
        let a2 = parse("http://a.example/z").expect("parses");
        assert_eq!(a.host_str(), Some("a.example"));
        assert_eq!(b.host_str(), Some("b.example"));
        assert_eq!(a2.as_str(), "http://a.example/z");
    }
}
