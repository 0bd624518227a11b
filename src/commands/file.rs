//! File utilities: creating files in the run's file store from text, and reading them back.

use super::encoding::digest;
use super::{quote, utility, Args, ParamSpec, ParamType, Registry, UtilityContext, MAX_OUTPUT_LEN};
use serde_json::{json, Value};

const CAT: &str = "File";

fn file_name() -> ParamSpec {
    ParamSpec::new("file_name", "File Name", ParamType::Text)
        .required()
        .sample(json!("indicators.txt"))
}

fn file_id() -> ParamSpec {
    ParamSpec::new("file_id", "File ID", ParamType::File)
        .required()
        .sample(json!("3f2a9c0d1b4e5f60"))
        .describe("The ID of a file in the run's file store.")
}

pub(super) fn register(r: &mut Registry) {
    utility(
        "CreateFileFromTextArray",
        "Create a File from input Text Array",
        CAT,
        create_file_from_text_array,
    )
    .describe(
        "Creates a text file with one line per element of the text array and returns the new \
         file's ID.",
    )
    .input(
        ParamSpec::new("input", "Input", ParamType::TextArray)
            .required()
            .sample(json!(["1.1.1.1", "8.8.8.8"])),
    )
    .input(file_name())
    .register(r);
    utility(
        "createFileFromText",
        "Create a File from Text",
        CAT,
        create_file_from_text,
    )
    .describe("Creates a file holding a text and returns the new file's ID.")
    .input(
        ParamSpec::new("input", "Input", ParamType::Text)
            .required()
            .sample(json!("1.1.1.1\n8.8.8.8")),
    )
    .input(file_name())
    .register(r);
    utility("createFileFromBase64", "Create a File from Base64", CAT, create_file_from_base64)
        .describe("Creates a file from base64-encoded bytes (an e-mail attachment, an image) and returns its ID. The content type comes from the file name's extension unless given.")
        .input(ParamSpec::new("input", "Input", ParamType::Text).required().sample(json!("iVBORw0KGgo=")))
        .input(file_name())
        .input(ParamSpec::new("content_type", "Content Type", ParamType::Text).sample(json!("image/png")))
        .register(r);
    utility("readFileText", "Read File as Text", CAT, read_file_text)
        .describe("The content of a file of the file store, as (UTF-8) text.")
        .input(file_id())
        .register(r);
    utility("getFileInfo", "Get File Info", CAT, get_file_info)
        .describe("The metadata of a file: id, name, content_type, size (bytes) and source.")
        .input(file_id())
        .returns("json_object")
        .register(r);
    utility("fileHash", "Hash a File", CAT, file_hash)
        .describe("The digest of a file's content, as lowercase hexadecimal.")
        .input(file_id())
        .input(
            ParamSpec::new("algorithm", "Algorithm", ParamType::Text)
                .options(&["md5", "sha1", "sha256", "sha512"])
                .default(json!("sha256"))
                .sample(json!("md5")),
        )
        .register(r);
}

/// A file name is metadata only, but it may later name a download: keep it a plain name.
fn checked_name(a: &Args) -> Result<&str, String> {
    let raw = a.text("file_name")?;
    let name = raw.trim();
    if name.is_empty() {
        return Err("parameter `file_name` must not be empty".to_owned());
    }
    if name.len() > 255
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name == "."
        || name == ".."
    {
        return Err(format!(
            "parameter `file_name` must be a plain file name (no path, at most 255 bytes), got {}",
            quote(raw)
        ));
    }
    Ok(name)
}

fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "md" => "text/markdown",
        _ => "text/plain",
    }
}

/// Content types of binary files, by extension.
fn binary_content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "eml" => "message/rfc822",
        _ => match content_type(name) {
            "text/plain" if !name.ends_with(".txt") && !name.ends_with(".log") => {
                "application/octet-stream"
            }
            other => other,
        },
    }
}

fn create_file_from_base64(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    use base64::Engine;
    let name = checked_name(a)?;
    let text: String = a
        .text("input")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(
            text.trim_end_matches('=').to_owned()
                + &"=".repeat((4 - text.trim_end_matches('=').len() % 4) % 4),
        )
        .map_err(|e| format!("parameter `input` is not valid base64: {e}"))?;
    let ct = match a.opt_text("content_type")? {
        Some(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => binary_content_type(name).to_owned(),
    };
    let meta = ctx.files.put(name, &ct, &bytes, "createFileFromBase64")?;
    Ok(Value::String(meta.id))
}

fn store_text(a: &Args, ctx: &UtilityContext, text: &str, source: &str) -> Result<Value, String> {
    let name = checked_name(a)?;
    ctx.files
        .put(name, content_type(name), text.as_bytes(), source)
        .map(|meta| Value::String(meta.id))
}

fn create_file_from_text_array(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    let lines = a.text_array("input")?;
    let size: usize = lines.iter().map(|l| l.len() + 1).sum();
    if size > MAX_OUTPUT_LEN {
        return Err(format!(
            "the file would be larger than {MAX_OUTPUT_LEN} bytes"
        ));
    }
    store_text(a, ctx, &lines.join("\n"), "CreateFileFromTextArray")
}

fn create_file_from_text(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    store_text(a, ctx, a.text("input")?, "createFileFromText")
}

fn read_file_text(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    let id = a.text("file_id")?.trim();
    let meta = ctx.files.meta(id)?;
    if meta.size > MAX_OUTPUT_LEN as u64 {
        return Err(format!(
            "file {id} ({}) has {} bytes, more than the {MAX_OUTPUT_LEN} a text may hold",
            meta.name, meta.size
        ));
    }
    let (meta, bytes) = ctx.files.get(id)?;
    String::from_utf8(bytes).map(Value::String).map_err(|e| {
        format!(
            "file {id} ({}) is not UTF-8 text (invalid byte at offset {})",
            meta.name,
            e.utf8_error().valid_up_to()
        )
    })
}

fn get_file_info(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    // Read whole, so that a file changed since it was stored is refused here too.
    let (meta, _) = ctx.files.get(a.text("file_id")?.trim())?;
    serde_json::to_value(meta).map_err(|e| format!("cannot describe the file: {e}"))
}

fn file_hash(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    let algorithm = a
        .opt_text("algorithm")?
        .unwrap_or("sha256")
        .trim()
        .to_ascii_lowercase();
    if digest(&algorithm, b"").is_none() {
        return Err(format!(
            "parameter `algorithm` must be one of md5, sha1, sha256, sha512; got {}",
            quote(&algorithm)
        ));
    }
    let (_, bytes) = ctx.files.get(a.text("file_id")?.trim())?;
    digest(&algorithm, &bytes)
        .map(Value::String)
        .ok_or_else(|| format!("unknown hash algorithm {algorithm}"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{call_with, err};
    use crate::files::FileStore;
    use serde_json::json;

    #[test]
    fn create_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::new(dir.path().join("store"));
        let id = call_with(
            &files,
            "CreateFileFromTextArray",
            json!({"input": ["1.1.1.1", "8.8.8.8"], "file_name": "ips.txt"}),
        )
        .unwrap();
        let id = id.as_str().expect("the ID is text").to_owned();
        assert_eq!(id.len(), 16);
        let (meta, bytes) = files.get(&id).unwrap();
        assert_eq!(bytes, b"1.1.1.1\n8.8.8.8");
        assert_eq!(meta.name, "ips.txt");
        assert_eq!(meta.content_type, "text/plain");
        assert_eq!(meta.source, "CreateFileFromTextArray");
        assert_eq!(
            call_with(&files, "readFileText", json!({"file_id": id})).unwrap(),
            json!("1.1.1.1\n8.8.8.8")
        );
        let info = call_with(&files, "getFileInfo", json!({"file_id": id})).unwrap();
        assert_eq!(info["size"], json!(15));
        assert_eq!(info["name"], json!("ips.txt"));
        assert_eq!(
            call_with(
                &files,
                "fileHash",
                json!({"file_id": id, "algorithm": "md5"})
            )
            .unwrap(),
            json!(crate::commands::encoding::digest("md5", b"1.1.1.1\n8.8.8.8").unwrap())
        );
        // Same content and name: same file.
        let again = call_with(
            &files,
            "createFileFromText",
            json!({"input": "1.1.1.1\n8.8.8.8", "file_name": "ips.txt"}),
        );
        assert_eq!(again.unwrap(), json!(id));
        let csv = call_with(
            &files,
            "createFileFromText",
            json!({"input": "a,b", "file_name": "t.CSV"}),
        )
        .unwrap();
        assert_eq!(
            files.meta(csv.as_str().unwrap()).unwrap().content_type,
            "text/csv"
        );
        let e = call_with(
            &files,
            "fileHash",
            json!({"file_id": id, "algorithm": "crc32"}),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "parameter `algorithm` must be one of md5, sha1, sha256, sha512; got \"crc32\""
        );
    }

    #[test]
    fn empty_array_makes_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::new(dir.path());
        let id = call_with(
            &files,
            "CreateFileFromTextArray",
            json!({"input": [], "file_name": "empty.txt"}),
        )
        .unwrap();
        assert_eq!(
            call_with(&files, "readFileText", json!({"file_id": id})).unwrap(),
            json!("")
        );
    }

    #[test]
    fn bad_names_ids_and_content() {
        assert_eq!(
            err(
                "CreateFileFromTextArray",
                json!({"input": ["a"], "file_name": "  "})
            ),
            "parameter `file_name` must not be empty"
        );
        let e = err(
            "CreateFileFromTextArray",
            json!({"input": ["a"], "file_name": "../x.txt"}),
        );
        assert!(
            e.starts_with("parameter `file_name` must be a plain file name"),
            "{e}"
        );
        let e = err("readFileText", json!({"file_id": "../../etc/passwd"}));
        assert!(e.contains("is not a file ID"), "{e}");
        let e = err("readFileText", json!({"file_id": "0123456789abcdef"}));
        assert!(e.contains("not found"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::new(dir.path());
        let meta = files
            .put("bin.dat", "application/octet-stream", &[0xff, 0xfe], "test")
            .unwrap();
        let e = call_with(&files, "readFileText", json!({"file_id": meta.id})).unwrap_err();
        assert_eq!(
            e,
            format!(
                "file {} (bin.dat) is not UTF-8 text (invalid byte at offset 0)",
                meta.id
            )
        );
        // Content replaced after it was stored: every command refuses it.
        std::fs::write(dir.path().join(&meta.id), [0xfe, 0xff]).unwrap();
        for command in ["readFileText", "getFileInfo", "fileHash"] {
            let e = call_with(&files, command, json!({"file_id": meta.id})).unwrap_err();
            assert!(
                e.contains("its content no longer matches its ID"),
                "{command}: {e}"
            );
        }
        std::fs::write(dir.path().join(&meta.id), [0xff, 0xfe]).unwrap();
        let e = call_with(&files, "readFileText", json!({"file_id": meta.id})).unwrap_err();
        assert_eq!(
            e,
            format!(
                "file {} (bin.dat) is not UTF-8 text (invalid byte at offset 0)",
                meta.id
            )
        );
    }
}
