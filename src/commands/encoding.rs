//! Encoding and hashing utilities: Base64, URL (percent) encoding, hex, HTML escapes and digests.

use super::{quote, utility, Args, ParamSpec, ParamType, Registry, UtilityContext};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha2::Digest;

const CAT: &str = "Encoding";

/// Everything but RFC 3986 unreserved characters is percent-encoded.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn text_input(sample: &str) -> ParamSpec {
    ParamSpec::new("input", "Input", ParamType::Text)
        .required()
        .sample(json!(sample))
}

pub(super) fn register(r: &mut Registry) {
    utility("base64Encode", "Base64 Encode", CAT, base64_encode)
        .describe("Encodes the UTF-8 bytes of a text as standard Base64 (with padding).")
        .input(text_input("SOAR"))
        .register(r);
    utility("base64Decode", "Base64 Decode", CAT, base64_decode)
        .describe(
            "Decodes Base64 (standard or URL-safe alphabet, padding optional, whitespace \
             ignored) into text; fails when the bytes are not UTF-8 text.",
        )
        .input(text_input("U09BUg=="))
        .register(r);
    utility("urlEncode", "URL Encode", CAT, url_encode)
        .describe(
            "Percent-encodes a text for use in a URL: everything except letters, digits and \
             - _ . ~ is encoded.",
        )
        .input(text_input("a b&c=d/é"))
        .register(r);
    utility("urlDecode", "URL Decode", CAT, url_decode)
        .describe("Decodes percent-encoding (%20 and the like) in a text.")
        .input(text_input("a%20b%26c"))
        .input(
            ParamSpec::new("plus_as_space", "Plus as Space", ParamType::Boolean)
                .default(json!(false))
                .sample(json!(true))
                .describe("Also read + as a space, as in HTML form data."),
        )
        .register(r);
    utility("hexEncode", "Hex Encode", CAT, hex_encode)
        .describe("Writes the UTF-8 bytes of a text as lowercase hexadecimal.")
        .input(text_input("SOAR"))
        .register(r);
    utility("hexDecode", "Hex Decode", CAT, hex_decode)
        .describe("Reads hexadecimal (whitespace and an 0x prefix ignored) into text.")
        .input(text_input("534f4152"))
        .register(r);
    utility("htmlEscape", "HTML Escape", CAT, html_escape)
        .describe("Escapes & < > \" and ' so a text can be put in HTML.")
        .input(text_input("<b>\"SOAR\" & co</b>"))
        .register(r);
    utility("htmlUnescape", "HTML Unescape", CAT, html_unescape)
        .describe(
            "Replaces HTML character references (&amp; &lt; &gt; &quot; &apos; &#39; &nbsp; \
             and numeric ones like &#x41;) by their characters.",
        )
        .input(text_input("&lt;b&gt;SOAR&lt;/b&gt;"))
        .register(r);
    let digests: [(&str, &str, &str, super::UtilityFn); 4] = [
        ("md5Hash", "MD5 Hash", "MD5", md5_hash),
        ("sha1Hash", "SHA1 Hash", "SHA-1", sha1_hash),
        ("sha256Hash", "SHA256 Hash", "SHA-256", sha256_hash),
        ("sha512Hash", "SHA512 Hash", "SHA-512", sha512_hash),
    ];
    for (name, display, algorithm, f) in digests {
        utility(name, display, CAT, f)
            .describe(&format!(
                "The {algorithm} digest of the UTF-8 bytes of a text, as lowercase hexadecimal."
            ))
            .input(text_input("SOAR"))
            .register(r);
    }
}

/// Hex digest of `bytes` with `algorithm` (`md5`, `sha1`, `sha256`, `sha512`), for file hashing.
pub(crate) fn digest(algorithm: &str, bytes: &[u8]) -> Option<String> {
    Some(match algorithm {
        "md5" => hex::encode(md5::Md5::digest(bytes)),
        "sha1" => hex::encode(sha1::Sha1::digest(bytes)),
        "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
        "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
        _ => return None,
    })
}

fn md5_hash(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    hash(a, "md5")
}
fn sha1_hash(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    hash(a, "sha1")
}
fn sha256_hash(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    hash(a, "sha256")
}
fn sha512_hash(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    hash(a, "sha512")
}

fn hash(a: &Args, algorithm: &str) -> Result<Value, String> {
    digest(algorithm, a.text("input")?.as_bytes())
        .map(Value::String)
        .ok_or_else(|| format!("unknown hash algorithm {algorithm}"))
}

/// Bytes to text, or an error naming what was decoded and where it stops being UTF-8.
fn utf8(bytes: Vec<u8>, what: &str) -> Result<Value, String> {
    String::from_utf8(bytes).map(Value::String).map_err(|e| {
        format!(
            "the decoded {what} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn base64_encode(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(a.text("input")?),
    ))
}

fn base64_decode(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if compact.contains(['-', '_']) {
        &alphabet::URL_SAFE
    } else {
        &alphabet::STANDARD
    };
    let bytes = GeneralPurpose::new(alphabet, config)
        .decode(compact.as_bytes())
        .map_err(|e| {
            format!(
                "parameter `input` is not valid Base64: {e} (in {})",
                quote(input)
            )
        })?;
    utf8(bytes, "Base64")
}

fn url_encode(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(
        utf8_percent_encode(a.text("input")?, URL_COMPONENT).to_string(),
    ))
}

fn url_decode(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let plus = a.opt_boolean("plus_as_space")?.unwrap_or(false);
    let spaced;
    let text = if plus {
        spaced = input.replace('+', " ");
        spaced.as_str()
    } else {
        input
    };
    utf8(percent_decode_str(text).collect(), "URL text")
}

fn hex_encode(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(hex::encode(a.text("input")?)))
}

fn hex_decode(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = compact
        .strip_prefix("0x")
        .or_else(|| compact.strip_prefix("0X"))
        .unwrap_or(&compact);
    let bytes = hex::decode(digits).map_err(|e| {
        format!(
            "parameter `input` is not valid hexadecimal: {e} (in {})",
            quote(input)
        )
    })?;
    utf8(bytes, "hexadecimal")
}

fn html_escape(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

fn html_unescape(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let mut rest = a.text("input")?;
    let mut out = String::with_capacity(rest.len());
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp..).unwrap_or_default();
        // A reference is short: look for its `;` within a few characters only.
        let decoded = after.get(1..).and_then(|body| {
            let semi = body.char_indices().take(12).find(|(_, c)| *c == ';')?.0;
            let name = body.get(..semi)?;
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => '\u{a0}',
                _ => {
                    let code = if let Some(h) = name
                        .strip_prefix(['#'])
                        .and_then(|n| n.strip_prefix(['x', 'X']))
                    {
                        u32::from_str_radix(h, 16).ok()?
                    } else {
                        name.strip_prefix('#')?.parse::<u32>().ok()?
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, semi + 2))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = after.get(len..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use serde_json::json;

    #[test]
    fn base64() {
        assert_eq!(
            ok("base64Encode", json!({"input": "SOAR"})),
            json!("U09BUg==")
        );
        assert_eq!(ok("base64Encode", json!({"input": ""})), json!(""));
        assert_eq!(
            ok("base64Decode", json!({"input": "U09BUg=="})),
            json!("SOAR")
        );
        assert_eq!(
            ok("base64Decode", json!({"input": "U09B\nUg"})),
            json!("SOAR")
        );
        assert_eq!(
            ok("base64Decode", json!({"input": "U09BUj8-"})),
            json!("SOAR?>")
        );
        assert_eq!(
            ok("base64Encode", json!({"input": "SOAR?>"})),
            json!("U09BUj8+")
        );
        let e = err("base64Decode", json!({"input": "not base64!"}));
        assert!(
            e.starts_with("parameter `input` is not valid Base64:"),
            "{e}"
        );
        assert_eq!(
            err("base64Decode", json!({"input": "/w=="})),
            "the decoded Base64 is not UTF-8 text (invalid byte at offset 0)"
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            ok("urlEncode", json!({"input": "a b&c=d/é~"})),
            json!("a%20b%26c%3Dd%2F%C3%A9~")
        );
        assert_eq!(
            ok("urlDecode", json!({"input": "a%20b%26c%3Dd%2F%C3%A9+"})),
            json!("a b&c=d/é+")
        );
        assert_eq!(
            ok("urlDecode", json!({"input": "a+b", "plus_as_space": true})),
            json!("a b")
        );
        assert_eq!(ok("urlDecode", json!({"input": "100%"})), json!("100%"));
        assert_eq!(
            err("urlDecode", json!({"input": "ab%FF"})),
            "the decoded URL text is not UTF-8 text (invalid byte at offset 2)"
        );
    }

    #[test]
    fn hex_and_html() {
        assert_eq!(ok("hexEncode", json!({"input": "SOAR"})), json!("534f4152"));
        assert_eq!(
            ok("hexDecode", json!({"input": "0x534F 4152"})),
            json!("SOAR")
        );
        assert!(err("hexDecode", json!({"input": "abc"}))
            .starts_with("parameter `input` is not valid hexadecimal"));
        assert_eq!(
            ok("htmlEscape", json!({"input": "<b>\"SOAR\" & 'co'</b>"})),
            json!("&lt;b&gt;&quot;SOAR&quot; &amp; &#39;co&#39;&lt;/b&gt;")
        );
        assert_eq!(
            ok(
                "htmlUnescape",
                json!({"input": "&lt;b&gt; &amp;amp; &#39;x&#x27; &unknown; & &#xZZ; &#1114112; fin&"})
            ),
            json!("<b> &amp; 'x' &unknown; & &#xZZ; &#1114112; fin&")
        );
    }

    #[test]
    fn digests() {
        assert_eq!(
            ok("md5Hash", json!({"input": "abc"})),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            ok("sha1Hash", json!({"input": "abc"})),
            json!("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            ok("sha256Hash", json!({"input": "abc"})),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            ok("sha512Hash", json!({"input": ""})),
            json!("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
        );
    }
}
