//! A look at a file without parsing it: the `name:` of a playbook, read off its top-level
//! lines. `codeless run` uses it to skip the playbooks beside the one it runs that no task
//! calls; parsing every file in a directory of playbooks was most of a run's cost.
//! Anything the scan is not sure of is `None`, and the file is then parsed as usual.

/// The `name:` of `text` if it is plainly a playbook: a top-level `kind: playbook` line and one
/// top-level `name:` line with a plain or simply quoted value, in a single document.
pub fn playbook_name(text: &str) -> Option<String> {
    let mut kind = None;
    let mut name = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // A second document, or top-level syntax the line scan does not follow.
        if (line.starts_with("---") && i > 0)
            || line.starts_with("...")
            || line.starts_with(['{', '[', '&', '*', '?', '!', '%', '"', '\''])
            || line.starts_with("<<")
        {
            return None;
        }
        if let Some(v) = line.strip_prefix("kind:") {
            if kind.replace(scalar(v)?).is_some() {
                return None;
            }
        } else if let Some(v) = line.strip_prefix("name:") {
            if name.replace(scalar(v)?).is_some() {
                return None;
            }
        }
    }
    (kind.as_deref() == Some("playbook"))
        .then_some(name)
        .flatten()
}

/// A one-line scalar: plain (up to a ` #` comment), or quoted without escapes.
fn scalar(v: &str) -> Option<String> {
    let v = v.trim();
    let quoted = |q: char| {
        let rest = &v[1..];
        let end = rest.find(q)?;
        let (inner, after) = (&rest[..end], rest[end + 1..].trim());
        (!inner.contains('\\') && (after.is_empty() || after.starts_with('#')))
            .then(|| inner.to_owned())
    };
    match v.chars().next() {
        Some('"') => quoted('"'),
        Some('\'') => quoted('\''),
        None => None,
        Some(c) if "|>&*!{[@`%#".contains(c) => None,
        Some(_) => {
            let plain = v.split(" #").next().unwrap_or(v).trim_end();
            (!plain.is_empty() && !plain.contains(": ")).then(|| plain.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::playbook_name;

    #[test]
    fn plain_playbooks_are_recognised_and_anything_unsure_is_not() {
        let pb = |head: &str| {
            format!("{head}\ntasks:\n  a: {{ command: toUpper, input: {{ input: x }} }}\n")
        };
        assert_eq!(
            playbook_name(&pb("kind: playbook\nname: Enrich IP")),
            Some("Enrich IP".into())
        );
        assert_eq!(
            playbook_name(&pb("name: \"Enrich: IP\"  \nkind: 'playbook' # a comment")),
            Some("Enrich: IP".into())
        );
        assert_eq!(
            playbook_name(&pb("---\nkind: playbook\nname: A # note")),
            Some("A".into())
        );
        for unsure in [
            "kind: integration\nname: A",
            "kind: playbook",
            "kind: playbook\nname: >\n  folded",
            "kind: playbook\nname: \"esc\\\"aped\"",
            "kind: playbook\nname: A\nname: B",
            "kind: playbook\nname: A\n---\nkind: playbook\nname: B",
            "{ kind: playbook, name: A }",
            "kind: playbook\nname: &anchor A",
            "kind: playbook\nname: 'it''s'",
            "kind: playbook\n<<: *base\nname: A",
        ] {
            assert_eq!(playbook_name(&pb(unsure)), None, "{unsure}");
        }
    }
}
