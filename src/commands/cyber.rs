//! Cyber utilities: extracting indicators (IPs, URLs, domains, e-mails, hashes) from text,
//! defanging and refanging them, and IP address checks (private ranges, CIDR membership).

use super::{quote, utility, Args, ParamSpec, ParamType, Registry, UtilityContext};
use regex::Regex;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::LazyLock;

const CAT: &str = "Cyber";

fn text_input(sample: &str) -> ParamSpec {
    ParamSpec::new("input", "Input", ParamType::Text)
        .required()
        .sample(json!(sample))
}

const SAMPLE_TEXT: &str =
    "Beacon to hxxps://evil[.]example[.]com/a.php from 10.0.0.5 and 203.0.113[.]7, mail admin@evil.example.com";

pub(super) fn register(r: &mut Registry) {
    utility("extractIPs", "Extract IP Addresses", CAT, extract_ips)
        .describe(
            "Finds the IPv4 and IPv6 addresses in a text, also defanged ones (1.2.3[.]4), \
             each once, in order of appearance. IPv6 addresses are written in their short form.",
        )
        .input(text_input(SAMPLE_TEXT))
        .input(
            ParamSpec::new("ip_version", "IP Version", ParamType::Text)
                .options(&["all", "ipv4", "ipv6"])
                .default(json!("all"))
                .sample(json!("ipv4")),
        )
        .returns("text_array")
        .register(r);
    utility("extractUrls", "Extract URLs", CAT, extract_urls)
        .describe(
            "Finds the http, https, ftp and sftp URLs in a text, also defanged ones \
             (hxxps://example[.]com), refanged, each once, in order of appearance.",
        )
        .input(text_input(SAMPLE_TEXT))
        .returns("text_array")
        .register(r);
    utility("extractDomains", "Extract Domains", CAT, extract_domains)
        .describe(
            "Finds the domain names in a text (also inside URLs and e-mail addresses, and \
             defanged ones), lowercased, each once. Names ending in a common file extension \
             that is not a top-level domain (.exe, .pdf, .php, ...) are left out.",
        )
        .input(text_input(SAMPLE_TEXT))
        .returns("text_array")
        .register(r);
    utility(
        "extractEmails",
        "Extract Email Addresses",
        CAT,
        extract_emails,
    )
    .describe(
        "Finds the e-mail addresses in a text, also defanged ones (user[@]example[.]com), \
             each once (ignoring case), in order of appearance.",
    )
    .input(text_input(SAMPLE_TEXT))
    .returns("text_array")
    .register(r);
    utility("extractHashes", "Extract Hashes", CAT, extract_hashes)
        .describe(
            "Finds MD5, SHA-1, SHA-256 and SHA-512 hashes (by length: 32, 40, 64 or 128 hex \
             digits) in a text, lowercased, each once.",
        )
        .input(text_input("md5 44d88612fea8a8f36de82e1278abb02f seen"))
        .input(
            ParamSpec::new("hash_type", "Hash Type", ParamType::Text)
                .options(&["all", "md5", "sha1", "sha256", "sha512"])
                .default(json!("all"))
                .sample(json!("md5")),
        )
        .returns("text_array")
        .register(r);
    utility("defang", "Defang Indicators", CAT, defang)
        .describe(
            "Makes the URLs, IP addresses and domains of a text safe to share: dots become [.], \
             http becomes hxxp, ftp becomes fxp and the colons of IPv6 addresses become [:].",
        )
        .input(text_input("Visit https://evil.example.com from 10.0.0.5"))
        .register(r);
    utility("refang", "Refang Indicators", CAT, refang)
        .describe(
            "Undoes defanging: [.] (.) {.} [dot] (dot) become dots, [:] a colon, [://] ://, \
             [@] and [at] @, hxxp (any case) http and fxp ftp.",
        )
        .input(text_input("hxxps://evil[.]example[.]com from 10.0.0[.]5"))
        .register(r);
    utility("isPrivateIp", "Is Private IP", CAT, is_private_ip)
        .describe(
            "Checks if an IP address is internal: IPv4 private (10/8, 172.16/12, 192.168/16), \
             loopback (127/8), link-local (169.254/16) or shared (100.64/10); IPv6 loopback \
             (::1), unique local (fc00::/7), link-local (fe80::/10), or an IPv4-mapped internal \
             address.",
        )
        .input(
            ParamSpec::new("input", "Input", ParamType::Text)
                .required()
                .sample(json!("192.168.1.10")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("isValidIp", "Is Valid IP", CAT, is_valid_ip)
        .describe("Checks if a text is an IPv4 or IPv6 address.")
        .input(
            ParamSpec::new("input", "Input", ParamType::Text)
                .required()
                .sample(json!("2001:db8::1")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("ipInCidr", "IP in CIDR Range", CAT, ip_in_cidr)
        .describe(
            "Checks if an IP address is in a CIDR range (10.0.0.0/8, 2001:db8::/32; a bare \
             address is a range of one). Addresses of the other IP version are not in the range.",
        )
        .input(
            ParamSpec::new("ip", "IP", ParamType::Text)
                .required()
                .sample(json!("10.1.2.3")),
        )
        .input(
            ParamSpec::new("cidr", "CIDR", ParamType::Text)
                .required()
                .sample(json!("10.0.0.0/8")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
}

fn regex(pattern: &str) -> Regex {
    // The patterns are constants of this file, checked by the tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad built-in pattern {pattern}: {e}"))
}

static DEFANGED: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\[://\]|\[:\]|\[@\]|\[at\]|\bhxxp(s?)\b|\bfxp\b",
    )
});

/// Runs of characters an IP address is made of; boundaries are checked by hand.
static IP_RUN: LazyLock<Regex> = LazyLock::new(|| regex(r"[0-9A-Fa-f:.]+"));

static URL: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"(?i)\b(?:https?|s?ftp)://[^\s<>"'`{}|\\^]+"#));

const LABEL: &str = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";

static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"(?i)\b(?:{LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})\b"
    ))
});

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"(?i)\b[a-z0-9][a-z0-9._%+-]{{0,63}}@(?:{LABEL}\.)+[a-z]{{2,63}}\b"
    ))
});

static HASH: LazyLock<Regex> = LazyLock::new(|| regex(r"\b[0-9A-Fa-f]{32,128}\b"));

/// File extensions that look like top-level domains but are not ones (so `a.exe` is no domain).
const NOT_TLDS: [&str; 36] = [
    "exe", "dll", "sys", "pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "txt",
    "rtf", "jpg", "jpeg", "png", "gif", "bmp", "bat", "cmd", "vbs", "js", "htm", "html", "php",
    "asp", "aspx", "jsp", "json", "xml", "yaml", "yml", "csv", "tmp", "lnk",
];

/// Undoes common defanging.
pub(crate) fn refang_text(s: &str) -> String {
    DEFANGED
        .replace_all(s, |c: &regex::Captures| {
            let m = c
                .get(0)
                .map(|m| m.as_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            if m.starts_with("hxxp") {
                format!("http{}", c.get(1).map(|s| s.as_str()).unwrap_or_default())
            } else if m == "fxp" {
                "ftp".to_owned()
            } else if m == "[://]" {
                "://".to_owned()
            } else if m == "[:]" {
                ":".to_owned()
            } else if m.contains('@') || m.contains("at") {
                "@".to_owned()
            } else {
                ".".to_owned()
            }
        })
        .into_owned()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// An IP address found in a text: where, and its canonical form.
struct FoundIp {
    span: Range<usize>,
    addr: IpAddr,
}

/// The IP addresses in `text` (not refanged), with their byte positions.
fn find_ips(text: &str) -> Vec<FoundIp> {
    let mut out = Vec::new();
    for m in IP_RUN.find_iter(text) {
        let mut span = m.range();
        // Glued to a word (`v1.2.3.4`, `std::`) at a boundary: that side is not an address edge.
        let mut open_start = text
            .get(..span.start)
            .and_then(|t| t.chars().next_back())
            .is_none_or(|c| !is_word_char(c));
        let mut open_end = text
            .get(span.end..)
            .and_then(|t| t.chars().next())
            .is_none_or(|c| !is_word_char(c));
        let run = |s: &Range<usize>| text.get(s.clone()).unwrap_or_default();
        // Colons and dots at the edges are punctuation (`IP:10.0.0.1`, end of a sentence).
        if run(&span).starts_with(':') && !run(&span).starts_with("::") {
            span.start += 1;
            open_start = true;
        }
        while run(&span).ends_with('.')
            || (run(&span).ends_with(':') && !run(&span).ends_with("::"))
        {
            span.end -= 1;
            open_end = true;
        }
        let s = run(&span);
        if !s.bytes().any(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        if !s.contains(':') {
            if open_start && open_end {
                if let Ok(v4) = s.parse::<Ipv4Addr>() {
                    out.push(FoundIp {
                        span,
                        addr: IpAddr::V4(v4),
                    });
                }
            }
            continue;
        }
        if open_start && open_end {
            if let Ok(v6) = s.parse::<Ipv6Addr>() {
                out.push(FoundIp {
                    span,
                    addr: IpAddr::V6(v6),
                });
                continue;
            }
        }
        // Not one IPv6 address: look for IPv4 addresses between the colons (`1.2.3.4:8080`).
        let pieces: Vec<&str> = s.split(':').collect();
        let mut offset = span.start;
        for (i, piece) in pieces.iter().enumerate() {
            let edge_ok = (i > 0 || open_start) && (i + 1 < pieces.len() || open_end);
            if edge_ok && piece.contains('.') {
                if let Ok(v4) = piece.parse::<Ipv4Addr>() {
                    out.push(FoundIp {
                        span: offset..offset + piece.len(),
                        addr: IpAddr::V4(v4),
                    });
                }
            }
            offset += piece.len() + 1;
        }
    }
    out
}

/// Keeps the first occurrence of each text, in order.
fn dedup(items: impl IntoIterator<Item = String>, key: impl Fn(&str) -> String) -> Value {
    let mut seen = HashSet::new();
    Value::Array(
        items
            .into_iter()
            .filter(|s| seen.insert(key(s)))
            .map(Value::String)
            .collect(),
    )
}

fn extract_ips(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let text = refang_text(a.text("input")?);
    let version = a
        .opt_text("ip_version")?
        .unwrap_or("all")
        .trim()
        .to_ascii_lowercase();
    let keep: fn(&IpAddr) -> bool = match version.as_str() {
        "all" | "" => |_| true,
        "ipv4" => IpAddr::is_ipv4,
        "ipv6" => IpAddr::is_ipv6,
        _ => {
            return Err(format!(
                "parameter `ip_version` must be all, ipv4 or ipv6; got {}",
                quote(&version)
            ))
        }
    };
    let ips = find_ips(&text)
        .into_iter()
        .filter(|f| keep(&f.addr))
        .map(|f| f.addr.to_string());
    Ok(dedup(ips, str::to_owned))
}

/// A URL match without the punctuation that usually follows a URL in prose.
fn trim_url(url: &str) -> &str {
    let mut u = url;
    loop {
        let before = u;
        u = u.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '"', '*']);
        for (open, close) in [('(', ')'), ('[', ']')] {
            if u.ends_with(close) && u.matches(close).count() > u.matches(open).count() {
                u = u.get(..u.len() - 1).unwrap_or(u);
            }
        }
        if u == before {
            return u;
        }
    }
}

fn find_urls(text: &str) -> Vec<Range<usize>> {
    URL.find_iter(text)
        .map(|m| m.start()..m.start() + trim_url(m.as_str()).len())
        .collect()
}

fn extract_urls(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let text = refang_text(a.text("input")?);
    let urls = find_urls(&text)
        .into_iter()
        .filter_map(|r| text.get(r).map(str::to_owned));
    Ok(dedup(urls, str::to_owned))
}

fn find_domains(text: &str) -> Vec<Range<usize>> {
    DOMAIN
        .find_iter(text)
        .filter(|m| {
            let tld = m
                .as_str()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            !NOT_TLDS.contains(&tld.as_str())
        })
        .map(|m| m.range())
        .collect()
}

fn extract_domains(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let text = refang_text(a.text("input")?);
    let domains = find_domains(&text)
        .into_iter()
        .filter_map(|r| text.get(r).map(str::to_ascii_lowercase));
    Ok(dedup(domains, str::to_owned))
}

fn extract_emails(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let text = refang_text(a.text("input")?);
    let emails = EMAIL.find_iter(&text).map(|m| m.as_str().to_owned());
    Ok(dedup(emails, str::to_lowercase))
}

fn extract_hashes(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let text = a.text("input")?;
    let kind = a
        .opt_text("hash_type")?
        .unwrap_or("all")
        .trim()
        .to_ascii_lowercase();
    let lengths: &[usize] = match kind.as_str() {
        "all" | "" => &[32, 40, 64, 128],
        "md5" => &[32],
        "sha1" => &[40],
        "sha256" => &[64],
        "sha512" => &[128],
        _ => {
            return Err(format!(
                "parameter `hash_type` must be one of all, md5, sha1, sha256, sha512; got {}",
                quote(&kind)
            ))
        }
    };
    let hashes = HASH
        .find_iter(text)
        .filter(|m| lengths.contains(&m.as_str().len()))
        .map(|m| m.as_str().to_ascii_lowercase());
    Ok(dedup(hashes, str::to_owned))
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Url,
    Ipv6,
    Dotted,
}

fn defang(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let text = a.text("input")?;
    let mut spans: Vec<(Range<usize>, Kind)> = Vec::new();
    spans.extend(find_urls(text).into_iter().map(|r| (r, Kind::Url)));
    spans.extend(find_ips(text).into_iter().map(|f| {
        let kind = if f.addr.is_ipv6() {
            Kind::Ipv6
        } else {
            Kind::Dotted
        };
        (f.span, kind)
    }));
    spans.extend(find_domains(text).into_iter().map(|r| (r, Kind::Dotted)));
    spans.sort_by_key(|(r, kind)| (r.start, std::cmp::Reverse(r.end), *kind != Kind::Url));
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut done = 0;
    for (span, kind) in spans {
        // Spans inside an earlier one (a domain inside a URL) were handled with it.
        if span.start < done {
            continue;
        }
        out.push_str(text.get(done..span.start).unwrap_or_default());
        let mut part = text.get(span.clone()).unwrap_or_default();
        if kind == Kind::Url {
            let lower = part.to_ascii_lowercase();
            for (scheme, defanged) in [("http", "hxxp"), ("ftp", "fxp")] {
                if lower.starts_with(scheme)
                    && lower
                        .get(scheme.len()..)
                        .is_some_and(|r| r.starts_with("://") || r.starts_with("s://"))
                {
                    out.push_str(defanged);
                    part = part.get(scheme.len()..).unwrap_or_default();
                    break;
                }
            }
        }
        for c in part.chars() {
            match (c, kind) {
                ('.', _) => out.push_str("[.]"),
                (':', Kind::Ipv6) => out.push_str("[:]"),
                (c, _) => out.push(c),
            }
        }
        done = span.end;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    Ok(Value::String(out))
}

fn refang(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(refang_text(a.text("input")?)))
}

fn ip_arg(a: &Args, name: &str) -> Result<IpAddr, String> {
    let text = a.text(name)?;
    refang_text(text.trim()).parse().map_err(|_| {
        format!(
            "parameter `{name}` is not a valid IP address: {}",
            quote(text)
        )
    })
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let shared = in_v4(ip, Ipv4Addr::new(100, 64, 0, 0), 10);
    ip.is_private() || ip.is_loopback() || ip.is_link_local() || shared
}

fn is_private_ip(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let internal = match ip_arg(a, "input")? {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => {
                v6.is_loopback()
                    || in_v6(v6, Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7)
                    || in_v6(v6, Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10)
            }
        },
    };
    Ok(Value::Bool(internal))
}

fn is_valid_ip(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(
        a.text("input")?.trim().parse::<IpAddr>().is_ok(),
    ))
}

/// The mask of a `prefix`-bit network in a `bits`-bit address (prefix ≤ bits ≤ 128).
fn mask(prefix: u8, bits: u8) -> u128 {
    let all = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if prefix == 0 {
        0
    } else {
        (all << (bits - prefix.min(bits))) & all
    }
}

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let m = mask(prefix, 32);
    (u128::from(u32::from(ip)) & m) == (u128::from(u32::from(net)) & m)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let m = mask(prefix, 128);
    (u128::from(ip) & m) == (u128::from(net) & m)
}

fn ip_in_cidr(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let ip = ip_arg(a, "ip")?;
    let text = a.text("cidr")?;
    let bad = || {
        format!(
            "parameter `cidr` is not a valid CIDR range: {} (expected e.g. 10.0.0.0/8 or 2001:db8::/32)",
            quote(text)
        )
    };
    let cidr = text.trim();
    let (addr, prefix) = match cidr.split_once('/') {
        Some((addr, prefix)) => (addr.trim(), Some(prefix.trim())),
        None => (cidr, None),
    };
    let net: IpAddr = addr.parse().map_err(|_| bad())?;
    let bits = if net.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(|| {
                format!(
                    "parameter `cidr` has prefix length /{p}, more than the {bits} bits of an IPv{} address",
                    if bits == 32 { 4 } else { 6 }
                )
            })?
        }
        Some(_) => return Err(bad()),
        None => bits,
    };
    let inside = match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => in_v4(ip, net, prefix),
        (IpAddr::V6(ip), IpAddr::V6(net)) => in_v6(ip, net, prefix),
        (IpAddr::V6(ip), IpAddr::V4(net)) => {
            ip.to_ipv4_mapped().is_some_and(|v4| in_v4(v4, net, prefix))
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    };
    Ok(Value::Bool(inside))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use super::mask;
    use serde_json::json;

    #[test]
    fn extracts_ips_from_messy_text() {
        let text = "src=10.0.0.5:8080 dst 203.0.113[.]7, again 10.0.0.5. v6 [2001:DB8::1]:443 and \
                    fe80::1%eth0; IP:192.168.1.1 host:8.8.8.8; time 10:52:37 mac 00:1a:2b:3c:4d:5e \
                    std::vector ver v1.2.3.4 bad 999.1.1.1 1.2.3.4.5 ::ffff:1.2.3.4 (9.9.9.9)";
        assert_eq!(
            ok("extractIPs", json!({ "input": text })),
            json!([
                "10.0.0.5",
                "203.0.113.7",
                "2001:db8::1",
                "fe80::1",
                "192.168.1.1",
                "8.8.8.8",
                "::ffff:1.2.3.4",
                "9.9.9.9"
            ])
        );
        assert_eq!(
            ok("extractIPs", json!({ "input": text, "ip_version": "ipv6" })),
            json!(["2001:db8::1", "fe80::1", "::ffff:1.2.3.4"])
        );
        assert_eq!(
            ok("extractIPs", json!({"input": "1.2.3(.)4 and 5.6.7[dot]8"})),
            json!(["1.2.3.4", "5.6.7.8"])
        );
        assert_eq!(
            ok("extractIPs", json!({"input": "nothing here"})),
            json!([])
        );
        assert_eq!(
            err("extractIPs", json!({"input": "x", "ip_version": "v5"})),
            "parameter `ip_version` must be all, ipv4 or ipv6; got \"v5\""
        );
    }

    #[test]
    fn extracts_urls_domains_emails() {
        let text = "See hxxps://evil[.]example[.]com/a.php?x=1. Also (http://test.org/path) and \
                    ftp://files.example.net/f.zip, mail Admin@Evil.Example.com or bob[@]corp[.]io; \
                    report.pdf, invoice.exe, www.Example.COM";
        assert_eq!(
            ok("extractUrls", json!({ "input": text })),
            json!([
                "https://evil.example.com/a.php?x=1",
                "http://test.org/path",
                "ftp://files.example.net/f.zip"
            ])
        );
        assert_eq!(
            ok("extractDomains", json!({ "input": text })),
            json!([
                "evil.example.com",
                "test.org",
                "files.example.net",
                "f.zip",
                "corp.io",
                "www.example.com"
            ])
        );
        assert_eq!(
            ok(
                "extractEmails",
                json!({ "input": format!("{text} admin@evil.example.com") })
            ),
            json!(["Admin@Evil.Example.com", "bob@corp.io"])
        );
        assert_eq!(
            ok(
                "extractUrls",
                json!({"input": "[http://a.com/x_(y)] <https://b.com/>"})
            ),
            json!(["http://a.com/x_(y)", "https://b.com/"])
        );
    }

    #[test]
    fn extracts_hashes() {
        let md5 = "44d88612fea8a8f36de82e1278abb02f";
        let sha1 = "3395856CE81F2B7382DEE72602F798B642F14140";
        let sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
        let text = format!("{md5} {sha1}, {sha256}; 0x{md5} {md5}{md5}{md5} {md5}");
        assert_eq!(
            ok("extractHashes", json!({ "input": text })),
            json!([md5, sha1.to_lowercase(), sha256])
        );
        assert_eq!(
            ok(
                "extractHashes",
                json!({ "input": text, "hash_type": "sha1" })
            ),
            json!([sha1.to_lowercase()])
        );
        assert!(
            err("extractHashes", json!({"input": "", "hash_type": "crc"}))
                .contains("must be one of all, md5")
        );
    }

    #[test]
    fn defang_and_refang_round_trip() {
        let text = "Visit https://evil.example.com/a.html from 10.0.0.5 or 2001:db8::1, see docs.example.org. Version 1.2 ok, file report.pdf";
        let defanged = ok("defang", json!({ "input": text }));
        assert_eq!(
            defanged,
            json!("Visit hxxps://evil[.]example[.]com/a[.]html from 10[.]0[.]0[.]5 or 2001[:]db8[:][:]1, see docs[.]example[.]org. Version 1.2 ok, file report.pdf")
        );
        assert_eq!(ok("refang", json!({ "input": defanged })), json!(text));
        assert_eq!(
            ok("defang", json!({"input": "ftp://x.io"})),
            json!("fxp://x[.]io")
        );
        assert_eq!(
            ok("defang", json!({"input": "hxxp://x[.]io"})),
            json!("hxxp://x[.]io")
        );
        assert_eq!(
            ok(
                "refang",
                json!({"input": "hXXps[://]a(.)b{.}c[dot]d HXXP://e[:]f user[at]x[.]io fxp://g"})
            ),
            json!("https://a.b.c.d http://e:f user@x.io ftp://g")
        );
    }

    #[test]
    fn private_and_valid_ips() {
        for (ip, private) in [
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("172.32.0.1", false),
            ("192.168.1.10", true),
            ("127.0.0.1", true),
            ("169.254.1.1", true),
            ("100.64.0.1", true),
            ("8.8.8.8", false),
            ("::1", true),
            ("fd00::1", true),
            ("fe80::1", true),
            ("2001:4860:4860::8888", false),
            ("::ffff:192.168.0.1", true),
            (" 10.0.0[.]1 ", true),
        ] {
            assert_eq!(
                ok("isPrivateIp", json!({ "input": ip })),
                json!(private),
                "{ip}"
            );
        }
        assert_eq!(
            err("isPrivateIp", json!({"input": "300.1.1.1"})),
            "parameter `input` is not a valid IP address: \"300.1.1.1\""
        );
        assert_eq!(
            ok("isValidIp", json!({"input": "2001:db8::1"})),
            json!(true)
        );
        assert_eq!(ok("isValidIp", json!({"input": "1.2.3"})), json!(false));
    }

    #[test]
    fn cidr_membership() {
        let check = |ip: &str, cidr: &str| ok("ipInCidr", json!({ "ip": ip, "cidr": cidr }));
        assert_eq!(check("10.1.2.3", "10.0.0.0/8"), json!(true));
        assert_eq!(check("11.1.2.3", "10.0.0.0/8"), json!(false));
        assert_eq!(check("192.168.1.130", "192.168.1.128/25"), json!(true));
        assert_eq!(check("192.168.1.127", "192.168.1.128/25"), json!(false));
        assert_eq!(check("1.2.3.4", "0.0.0.0/0"), json!(true));
        assert_eq!(check("1.2.3.4", "1.2.3.4"), json!(true));
        assert_eq!(check("1.2.3.5", "1.2.3.4/32"), json!(false));
        assert_eq!(check("10.9.9.9", "10.1.2.3/8"), json!(true));
        assert_eq!(check("2001:db8::1", "2001:db8::/32"), json!(true));
        assert_eq!(check("2001:db9::1", "2001:db8::/32"), json!(false));
        assert_eq!(check("::1", "::/0"), json!(true));
        assert_eq!(check("2001:db8::1", "2001:db8::1/128"), json!(true));
        assert_eq!(check("::ffff:10.0.0.1", "10.0.0.0/8"), json!(true));
        assert_eq!(check("10.0.0.1", "::/0"), json!(false));
        assert_eq!(
            err("ipInCidr", json!({"ip": "10.0.0.1", "cidr": "10.0.0.0/33"})),
            "parameter `cidr` has prefix length /33, more than the 32 bits of an IPv4 address"
        );
        assert_eq!(
            err("ipInCidr", json!({"ip": "10.0.0.1", "cidr": "10.0.0/8"})),
            "parameter `cidr` is not a valid CIDR range: \"10.0.0/8\" (expected e.g. 10.0.0.0/8 or 2001:db8::/32)"
        );
        assert!(
            err("ipInCidr", json!({"ip": "10.0.0.1", "cidr": "10.0.0.0/-1"}))
                .contains("not a valid CIDR")
        );
        assert!(err("ipInCidr", json!({"ip": "::1", "cidr": "::/129"})).contains("/129"));
        assert!(err("ipInCidr", json!({"ip": "nope", "cidr": "::/0"}))
            .starts_with("parameter `ip` is not a valid IP address"));
        assert_eq!(mask(0, 32), 0);
        assert_eq!(mask(8, 32), 0xff00_0000);
        assert_eq!(mask(32, 32), 0xffff_ffff);
        assert_eq!(mask(128, 128), u128::MAX);
        assert_eq!(mask(1, 128), 1u128 << 127);
    }
}
