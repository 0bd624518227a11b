//! The catalogue of diagnostic codes: stable ids with a name and a one-line summary, used by
//! SARIF output, `codeless rules` and the README. Codes never change meaning once published.

#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
}

const fn r(code: &'static str, name: &'static str, summary: &'static str) -> RuleInfo {
    RuleInfo {
        code,
        name,
        summary,
    }
}

#[rustfmt::skip]
pub const RULES: &[RuleInfo] = &[
    r("Y001", "yaml-syntax", "The file is not valid YAML (or not UTF-8, too large, too deep, or expands too much)."),
    r("Y002", "duplicate-key", "A key appears twice in one mapping (including duplicate task ids)."),
    r("Y003", "unknown-key", "A key that this kind of file does not have, usually a misspelling."),
    r("Y004", "wrong-type", "A value of the wrong type (text where a list is expected, ...)."),
    r("Y005", "missing-key", "A required key is missing."),
    r("Y006", "invalid-value", "A value that is not one of the allowed ones (`wait`, `type`, `kind`, ...)."),
    r("Y007", "invalid-task-id", "A task id that is not `[A-Za-z_][A-Za-z0-9_]*`."),
    r("G001", "unknown-successor", "`next` or a branch names a task that does not exist."),
    r("G002", "cycle", "A cycle that is not a conditional branch with `max_loops`."),
    r("G003", "unreachable-task", "No path from a start task reaches this task; it will not run."),
    r("G004", "conditional-without-branches", "A conditional task has no `branches`."),
    r("G005", "empty-playbook", "The playbook has no tasks."),
    r("G006", "no-start-task", "Every task has a predecessor, so nothing can start."),
    r("G007", "branches-on-non-conditional", "`branches` on a task that is not `type: conditional`."),
    r("C001", "unknown-command", "The command does not exist."),
    r("C002", "missing-input", "A required input of the command is not given."),
    r("C003", "unknown-input", "An input the command does not have."),
    r("C004", "input-type", "A literal input of the wrong type for the parameter."),
    r("C005", "input-option", "A literal input that is not one of the parameter's options."),
    r("C006", "feature-not-enabled", "The command's features do not allow this use (conditional task, transform step)."),
    r("C007", "draft-in-live", "A live playbook uses a draft command or playbook."),
    r("C008", "input-out-of-range", "A literal input outside the parameter's bounds (min/max, min_items/max_items)."),
    r("C009", "recursive-playbook", "A playbook calls itself, directly or through other playbooks."),
    r("T001", "template-syntax", "A `<<...>>` reference is malformed or never closed, or a Handlebars template input does not parse."),
    r("T002", "unknown-scope", "A reference starts with an unknown scope."),
    r("T003", "bad-task-reference", "A `tasks.` reference lacks a task id or names an unknown output field."),
    r("T004", "unknown-task", "A reference reads a task that does not exist."),
    r("T005", "not-an-ancestor", "A task reads a task that may not have run before it."),
    r("T006", "item-outside-batch", "`<<item>>`/`<<index>>` where no batch can happen."),
    r("T007", "unknown-input", "A reference reads a playbook input that is not declared."),
    r("T008", "unknown-key-field", "A reference reads a key field the command does not declare."),
    r("T009", "unknown-connector-parameter", "`<<connector.X>>` where the task has no connection or its integration has no parameter X."),
    r("J001", "jsonpath-syntax", "A JSONPath (RFC 9535) that does not parse."),
    r("I001", "request-unknown-input", "An integration request reads an input its command does not declare."),
    r("I002", "request-unknown-connection-parameter", "An integration request reads a connection parameter the integration does not declare."),
    r("I003", "request-bad-scope", "An integration request reads something other than `input`, `connector`, `item` or `index`."),
    r("I004", "command-name", "A command's internal name is not the PascalCase of its display name (warning)."),
    r("I005", "command-without-implementation", "A command has neither `request` nor `tasks`."),
    r("I006", "parameter-name", "A parameter's internal name is not the snake_case of its display name (warning)."),
    r("N001", "unknown-integration", "A connection names an integration that is not known."),
    r("N002", "missing-connection-parameter", "A connection lacks a required parameter that has no default."),
    r("N003", "unknown-connection-parameter", "A connection gives a parameter its integration does not have."),
    r("N004", "secret-in-file", "A sensitive parameter is written in the connections file (warning)."),
    r("N005", "unknown-connection", "A task names a connection that is not defined."),
    r("N006", "connection-of-another-integration", "A task names a connection of another integration."),
    r("N007", "connection-on-non-integration", "A task names a connection, but its command is not an integration command."),
];

pub fn info(code: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code written anywhere in `src/` is in the catalogue, and codes are unique.
    #[test]
    fn catalogue_is_complete() {
        let re = regex::Regex::new(r#""([YGCTJINK]\d{3})""#).unwrap();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for c in re.captures_iter(&text) {
                        assert!(
                            info(&c[1]).is_some(),
                            "{} uses {} which is not in codes.rs",
                            p.display(),
                            &c[1]
                        );
                    }
                }
            }
        }
        let mut codes: Vec<_> = RULES.iter().map(|r| r.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), RULES.len());
    }
}
