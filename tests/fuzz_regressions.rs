//! Fuzzing's findings as tests, and the fuzz harnesses run over the seed corpora.
//!
//! `fuzz/src/harness.rs` is what every fuzz target runs (see `scripts/fuzz.sh`); it is included
//! here so a crash input replays through exactly the code that found it. Each crash input is
//! kept in `tests/fuzz_crashes/` and has a test below, `#[ignore]`d until the bug is fixed.

#[path = "../fuzz/src/harness.rs"]
mod harness;

use std::path::Path;

/// Every seed file through every harness: the harnesses work, and the seeds do not crash.
#[test]
fn seed_corpora_pass_every_harness() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("playbooks"), root.join("tests/corpus")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                // Seconds in a debug build by design (1 million YAML events); corpus.rs has it.
                && !p.to_string_lossy().contains("alias-bomb")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 100, "{} seed files", files.len());
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&data);
        for t in harness::TARGETS {
            // Debug builds parse YAML slowly: each file goes to its own kind's loader, and
            // `validate` (a whole workspace; tests/corpus.rs validates every corpus file
            // already) sees the examples only.
            let skip = match t.strip_prefix("load_") {
                Some(kind) => !text.contains(&format!("kind: {kind}")),
                None => *t == "validate" && !f.starts_with(root.join("playbooks")),
            };
            if !skip {
                let r = std::panic::catch_unwind(|| harness::run(t, &data));
                assert!(r.is_ok(), "{t} panicked on {}", f.display());
            }
        }
        // Each line as a template and as a JSONPath.
        for line in String::from_utf8_lossy(&data).lines() {
            let v = line.split_once(": ").map_or(line, |(_, v)| v);
            harness::run("template", v.as_bytes());
            harness::run("jsonpath", v.as_bytes());
        }
    }
}
