//! `text_template` / `html_template` inputs, rendered with Handlebars against the same scopes.
//! `<<...>>` references inside such an input are resolved first and bound as *data*
//! (`{{{__cl.[N]}}}`), never spliced into the template source, so resolved text that happens to
//! contain `{{...}}` is not evaluated.

use super::{Context, Part, Template};
use crate::commands::args::value_to_text;
use handlebars::{handlebars_helper, no_escape, Handlebars, RenderContext, Renderable};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

handlebars_helper!(json_helper: |v: Json| v.to_string());
handlebars_helper!(lbrace_helper: | | "{");
handlebars_helper!(rbrace_helper: | | "}");
handlebars_helper!(split_helper: |s: str, sep: str| {
    Value::Array(s.split(sep).map(|p| Value::String(p.to_owned())).collect())
});
handlebars_helper!(first_helper: |v: Json| v.as_array().and_then(|a| a.first()).cloned().unwrap_or(Value::Null));
handlebars_helper!(last_helper: |v: Json| v.as_array().and_then(|a| a.last()).cloned().unwrap_or(Value::Null));
handlebars_helper!(contains_key_helper: |v: Json, k: str| v.as_object().is_some_and(|o| o.contains_key(k)));

thread_local! {
    /// The budget of the render in progress on this thread (renders are synchronous), for the
    /// `jsonpath` helper, which Handlebars calls with no context of ours.
    static QUERY_BUDGET: std::cell::Cell<crate::jsonpath::Budget> =
        std::cell::Cell::new(crate::jsonpath::Budget::default());
}

/// `{{jsonpath VALUE PATH}}`: the values PATH selects (null for a path that does not parse); a
/// query over the run's limits fails the render.
struct JsonPathHelper;

impl handlebars::HelperDef for JsonPathHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &handlebars::Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc handlebars::Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<handlebars::ScopedJson<'rc>, handlebars::RenderError> {
        let value = h.param(0).map(|p| p.value()).unwrap_or(&Value::Null);
        let path = h.param(1).and_then(|p| p.value().as_str()).unwrap_or("");
        let Ok(q) = crate::jsonpath::parse(path) else {
            return Ok(Value::Null.into());
        };
        match q.values(value, QUERY_BUDGET.with(|b| b.get())) {
            Ok(found) => Ok(Value::Array(found).into()),
            Err(e) => Err(handlebars::RenderErrorReason::Other(format!("jsonpath: {e}")).into()),
        }
    }
}

/// Handlebars' own helpers (`Handlebars::new` registers them).
const BUILTIN_HELPERS: &[&str] = &[
    "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte",
    "and", "or", "not", "len",
];

/// Makes one helper for a registry.
type MakeHelper = fn() -> Box<dyn handlebars::HelperDef + Send + Sync>;

/// Our helpers, by name: `registry` registers exactly these.
const OUR_HELPERS: &[(&str, MakeHelper)] = &[
    ("json", || Box::new(json_helper)),
    ("lbrace", || Box::new(lbrace_helper)),
    ("rbrace", || Box::new(rbrace_helper)),
    ("split", || Box::new(split_helper)),
    ("first", || Box::new(first_helper)),
    ("last", || Box::new(last_helper)),
    ("contains_key", || Box::new(contains_key_helper)),
    ("jsonpath", || Box::new(JsonPathHelper)),
];

/// Whether a template may call `name` as a helper (Handlebars' own or ours).
pub fn is_helper(name: &str) -> bool {
    BUILTIN_HELPERS.contains(&name) || OUR_HELPERS.iter().any(|(n, _)| *n == name)
}

fn registry(html: bool) -> &'static Handlebars<'static> {
    static TEXT: OnceLock<Handlebars<'static>> = OnceLock::new();
    static HTML: OnceLock<Handlebars<'static>> = OnceLock::new();
    let cell = if html { &HTML } else { &TEXT };
    cell.get_or_init(|| {
        let mut h = Handlebars::new();
        if !html {
            h.register_escape_fn(no_escape);
        }
        for (name, helper) in OUR_HELPERS {
            h.register_helper(name, helper());
        }
        h
    })
}

/// The compiled form of a Handlebars source, compiled once. A task's source is the same on
/// every render (values are bound as data, not spliced in), so a loop or a batch compiles it
/// once; compiling was most of a render's cost.
fn compiled(source: &str) -> Result<Arc<handlebars::Template>, handlebars::TemplateError> {
    /// Sources kept at most; past that the cache starts over (a bound, not an LRU: playbooks
    /// have far fewer templates).
    const KEEP: usize = 1024;
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<handlebars::Template>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache.lock().ok().and_then(|c| c.get(source).cloned()) {
        return Ok(t);
    }
    let t = Arc::new(handlebars::Template::compile(source)?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= KEEP {
            c.clear();
        }
        c.insert(source.to_owned(), t.clone());
    }
    Ok(t)
}

/// Renders a text template. `scopes` is the data object (`incident`, `tasks`, ...); the
/// template's `<<...>>` parts are resolved through `ctx`.
pub fn render_template(
    template: &Template,
    html: bool,
    ctx: &dyn Context,
    scopes: Map<String, Value>,
) -> Result<String, String> {
    render_template_as_written(template, None, html, ctx, |_| scopes)
}

/// What a Handlebars source can read from its data: the root names its paths start with, and
/// the task IDs it names under `tasks`. Built so that the data need not hold every task output
/// (copying them all for every render made a playbook of N templates cost N²).
#[derive(Debug, PartialEq)]
pub struct ReadSet {
    /// First segments of every path (`incident` of `incident.title`), at any depth: a superset
    /// of the root scopes read.
    pub roots: Vec<String>,
    /// The IDs after `tasks.`; `None` when `tasks` itself is read (`#each tasks`).
    pub tasks: Option<Vec<String>>,
}

/// The words of a mustache's arguments: split at spaces, parentheses and `=`, but not inside
/// a `[...]` path segment (`tasks.[my task]`).
fn path_tokens(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    let mut in_bracket = false;
    for (i, c) in args.char_indices() {
        match c {
            '[' => in_bracket = true,
            ']' => in_bracket = false,
            _ => {}
        }
        let sep = !in_bracket && (c.is_whitespace() || matches!(c, '(' | ')' | '=' | '~' | '}'));
        match (sep, start) {
            (true, Some(s)) => {
                out.push(&args[s..i]);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&args[s..]);
    }
    out
}

/// The [`ReadSet`] of a Handlebars source; `None` when it may read anything. That is any use of
/// the context itself (`this`, `.`, at any depth: inside `#if` or an `else` branch it is still
/// the root), `@root`, `../`, `lookup` (a computed name), partials and decorators, raw blocks,
/// escaped mustaches, a first segment in brackets (`[tasks]`), or a string literal the scan
/// cannot follow. Only plain named paths narrow the set; anything unusual keeps the old
/// behaviour of handing the template every scope.
pub fn read_set(source: &str) -> Option<ReadSet> {
    if source.contains("{{{{") || source.contains("\\{{") {
        return None;
    }
    let mut set = ReadSet {
        roots: Vec::new(),
        tasks: Some(Vec::new()),
    };
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        // Comments may hold anything, `}}` included.
        if let Some(comment) = after.strip_prefix("!--") {
            let Some(end) = comment.find("--}}") else {
                break;
            };
            rest = &comment[end + 4..];
            continue;
        }
        let Some(close) = after.find("}}") else {
            break;
        };
        let body = after[..close]
            .trim_start_matches(['{', '~', '&'])
            .trim_start();
        rest = &after[close + 2..];
        if body.starts_with('!') {
            continue;
        }
        let unfollowable = body.contains("@root")
            || body.contains("../")
            || body.contains("lookup")
            || body.starts_with(['>', '*'])
            || body.starts_with("#>")
            || body.starts_with("#*")
            // A string literal holding `}}` ends the mustache later than the scan thinks.
            || body.matches('"').count() % 2 == 1
            || body.matches('\'').count() % 2 == 1;
        if unfollowable {
            return None;
        }
        let args = body.trim_start_matches(['#', '^', '/']);
        let tokens = path_tokens(args)
            .into_iter()
            .filter(|t| !t.starts_with('"') && !t.starts_with('\''));
        for t in tokens {
            let context_itself = t == "this"
                || t == "."
                || t.starts_with("this.")
                || t.starts_with("this/")
                || t.starts_with("this[")
                || t.starts_with("./")
                || t.starts_with('[');
            if context_itself {
                return None;
            }
            let first = t.split(['.', '/', '[']).next().unwrap_or(t);
            if !set.roots.iter().any(|r| r == first) {
                set.roots.push(first.to_owned());
            }
            if first != "tasks" {
                continue;
            }
            let id =
                t.get(6..)
                    .filter(|_| t.len() > 6)
                    .map(|after| match after.strip_prefix('[') {
                        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
                        None => after.split(['.', '/', '[']).next().unwrap_or(after),
                    });
            match (id, set.tasks.as_mut()) {
                (Some(id), Some(ids)) if !id.is_empty() => ids.push(id.to_owned()),
                // `tasks` itself, or `tasks.` with nothing after it.
                _ => set.tasks = None,
            }
        }
    }
    Some(set)
}

/// [`render_template`] with the text as written (`raw`, which `template` was parsed from).
/// The template's text parts have our escapes applied, `\{{` → `{{`, which would make
/// Handlebars evaluate what the author escaped; taken from `raw`, `\{{` stays Handlebars' own
/// escape (a literal `{{`) and only `\<<` becomes `<<`.
///
/// `scopes` builds the data object from the Handlebars source (see [`read_set`]), so that only
/// what the template can read is copied into it.
pub fn render_template_as_written(
    template: &Template,
    raw: Option<&str>,
    html: bool,
    ctx: &dyn Context,
    scopes: impl FnOnce(&str) -> Map<String, Value>,
) -> Result<String, String> {
    let mut source = String::new();
    let mut bound = Vec::new();
    let mut after_placeholder = false;
    let mut raw_at = 0; // where the next text part starts in `raw`
    for (i, p) in template.parts.iter().enumerate() {
        match p {
            Part::Text(parsed) => {
                let written;
                let mut t = match raw {
                    Some(raw) => {
                        // A text part runs up to the next reference, or to the end.
                        let end = match template.parts.get(i + 1) {
                            Some(Part::Expr(e)) => e.offset,
                            _ => raw.len(),
                        };
                        written = raw
                            .get(raw_at..end)
                            .unwrap_or_default()
                            .replace("\\<<", "<<");
                        written.as_str()
                    }
                    None => parsed.as_str(),
                };
                if after_placeholder {
                    // A literal `}` right after a placeholder would merge with its `}}`.
                    while let Some(rest) = t.strip_prefix('}') {
                        source.push_str("{{rbrace}}");
                        t = rest;
                    }
                }
                source.push_str(t);
                after_placeholder = false;
            }
            Part::Expr(e) => {
                raw_at = e.offset + e.len;
                let v = super::resolve_expr(e, ctx).map_err(|e| e.to_string())?;
                // A literal `{` right before a placeholder would merge with its `{{` (making
                // `{{{`, which skips HTML escaping, or `{{{{`, a raw block): write it with a helper.
                let mut braces = 0;
                while source.ends_with('{') {
                    source.pop();
                    braces += 1;
                }
                source.push_str(&"{{lbrace}}".repeat(braces));
                let open = if html { "{{" } else { "{{{" };
                let close = if html { "}}" } else { "}}}" };
                source.push_str(&format!("{open}__cl.[{}]{close}", bound.len()));
                bound.push(Value::String(value_to_text(&v)));
                after_placeholder = true;
            }
        }
    }
    let mut data = scopes(&source);
    data.insert("__cl".into(), Value::Array(bound));
    // The data moves into Handlebars' context (`render_template` would serialize a copy).
    let data = handlebars::Context::from(Value::Object(data));
    let template = compiled(&source).map_err(|e| {
        format!(
            "template error: {}",
            handlebars::RenderError::from(e).reason()
        )
    })?;
    let budget = ctx.query_budget();
    let mut out = CappedOutput {
        text: String::new(),
        cap: budget.bytes,
        over: false,
    };
    let mut rc = RenderContext::new(None);
    let before = QUERY_BUDGET.with(|b| b.replace(budget));
    let rendered = template.render(registry(html), &data, &mut rc, &mut out);
    QUERY_BUDGET.with(|b| b.set(before));
    match rendered {
        Ok(()) => Ok(out.text),
        Err(_) if out.over => Err(format!(
            "the rendered text takes more than {}, the output-size limit ({})",
            crate::limits::bytes_text(budget.bytes),
            crate::limits::raise_hint("output-size")
        )),
        Err(e) => Err(format!("template error: {}", e.reason())),
    }
}

/// Handlebars' output, refusing to grow past `cap` bytes: `{{#each}}` over a long list can write
/// a large value once per element (a 40,000-element list and a 1 MB incident: 40 GB).
struct CappedOutput {
    text: String,
    cap: u64,
    over: bool,
}

impl handlebars::Output for CappedOutput {
    fn write(&mut self, seg: &str) -> Result<(), std::io::Error> {
        if (self.text.len() as u64).saturating_add(seg.len() as u64) > self.cap {
            self.over = true;
            return Err(std::io::Error::other("output-size"));
        }
        self.text.push_str(seg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{parse_template, Scope};
    use serde_json::json;

    struct Ctx(Value);
    impl Context for Ctx {
        fn scope(&self, s: &Scope) -> Result<&Value, String> {
            match s {
                Scope::Incident => Ok(&self.0),
                _ => Err("n/a".into()),
            }
        }
    }

    fn render(src: &str, html: bool) -> Result<String, String> {
        let incident = json!({"title": "<b>{{connector.apikey}}</b>", "ips": ["1.1.1.1", "2.2.2.2"], "meta": {"a": 1}});
        let mut scopes = Map::new();
        scopes.insert("incident".into(), incident.clone());
        scopes.insert("connector".into(), json!({"apikey": "sk-secret"}));
        render_template(&parse_template(src).unwrap(), html, &Ctx(incident), scopes)
    }

    #[test]
    fn rendering_stops_at_the_output_size_limit() {
        struct Small;
        impl Context for Small {
            fn scope(&self, _: &Scope) -> Result<&Value, String> {
                Err("n/a".into())
            }
            fn query_budget(&self) -> crate::jsonpath::Budget {
                crate::jsonpath::Budget {
                    values: 10,
                    bytes: 1024,
                }
            }
        }
        let big = "x".repeat(100);
        let mut scopes = Map::new();
        scopes.insert(
            "incident".into(),
            json!({ "list": vec![big; 1000], "t": "ok" }),
        );
        let t = parse_template("{{#each incident.list}}{{this}}{{/each}}").unwrap();
        assert_eq!(
            render_template(&t, false, &Small, scopes.clone()).unwrap_err(),
            "the rendered text takes more than 1 KiB, the output-size limit (raise it with `--limit output-size=N` if the input is trusted)"
        );
        let t = parse_template("{{incident.t}}").unwrap();
        assert_eq!(render_template(&t, false, &Small, scopes).unwrap(), "ok");
    }

    /// The compiled template is shared between renders; the data is not.
    #[test]
    fn a_cached_template_renders_each_call_with_its_own_data() {
        let t = parse_template("Hello {{incident.name}} <<incident.name>>").unwrap();
        for name in ["ann", "bob", "{{incident.name}}"] {
            let incident = json!({ "name": name });
            let mut scopes = Map::new();
            scopes.insert("incident".into(), incident.clone());
            assert_eq!(
                render_template(&t, false, &Ctx(incident), scopes).unwrap(),
                format!("Hello {name} {name}")
            );
        }
        // A syntax error is reported every time, not cached as a success.
        let bad = parse_template("{{#if x}}open").unwrap();
        for _ in 0..2 {
            let e = render_template(&bad, false, &Ctx(json!({})), Map::new()).unwrap_err();
            assert!(e.starts_with("template error:"), "{e}");
        }
    }

    #[test]
    fn read_sets_name_what_a_template_can_reach() {
        let ids = |src: &str| read_set(src).and_then(|r| r.tasks);
        let roots = |src: &str| read_set(src).map(|r| r.roots).unwrap_or_default();
        assert_eq!(
            ids("{{tasks.scan.returnData}} and {{json tasks.[odd id].rawData}}"),
            Some(vec!["scan".to_owned(), "odd id".to_owned()])
        );
        assert_eq!(
            ids("{{#each tasks.a.rawData}}{{name}}{{/each}}{{#with tasks/b}}{{returnData}}{{/with}}"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        // Helper names count as roots too (a harmless superset); unnamed scopes are left out.
        let r = roots("Hi {{incident.title}} {{#if input.x}}y{{/if}}");
        assert!(r.iter().any(|x| x == "incident") && r.iter().any(|x| x == "input"));
        assert!(!r.iter().any(|x| x == "event" || x == "tasks"));
        // Prose and comments are not paths.
        assert_eq!(
            ids("this tasks list {{!-- {{tasks}} }} --}} {{! tasks }}"),
            Some(vec![])
        );
        // Anything that can reach every task, or the root itself, reads everything. `this`
        // counts at any depth: inside `#if` or an `else` branch it is still the root.
        for src in [
            "{{#each tasks}}{{@key}}{{/each}}",
            "{{json tasks}}",
            "{{lookup tasks incident.which}}",
            "{{@root.tasks.a.status}}",
            "{{#each incident.ips}}{{../tasks.a.status}}{{/each}}",
            "{{json this}}",
            "{{#each this}}{{@key}}{{/each}}",
            "{{.}}",
            "{{#if incident.title}}{{json this}}{{/if}}",
            "{{#each incident.empty}}x{{else}}{{json this}}{{/each}}",
            "{{#if 1}}a{{^}}b{{/if}}{{json this}}",
            "{{#each incident.ips}}{{this}}{{/each}}",
            "{{#*inline \"p\"}}{{tasks.a.status}}{{/inline}}{{> p}}",
            "{{#> p}}{{tasks.a.status}}{{/p}}",
            "\\{{#if x}} {{tasks.a.status}}",
            "{{{{raw}}}}{{#a}}{{{{/raw}}}}{{tasks.a.status}}",
            "{{log \"}} {{#with x}}\"}}{{tasks.b.status}}",
            "{{[tasks].a.returnData}}",
            "{{[incident].title}}",
            "{{json [tasks].a}}",
        ] {
            assert!(read_set(src).is_none_or(|r| r.tasks.is_none()), "{src}");
        }
        for src in [
            "{{json this}}",
            "{{#if incident.title}}{{json this}}{{/if}}",
            "{{[incident].title}}",
        ] {
            assert!(read_set(src).is_none(), "{src}");
        }
    }

    #[test]
    fn handlebars_with_helpers() {
        assert_eq!(
            render("{{#each incident.ips}}[{{this}}]{{/each}}", false).unwrap(),
            "[1.1.1.1][2.2.2.2]"
        );
        assert_eq!(
            render(
                "{{json incident.meta}} {{first incident.ips}} {{last incident.ips}}",
                false
            )
            .unwrap(),
            "{\"a\":1} 1.1.1.1 2.2.2.2"
        );
        assert_eq!(
            render("{{#each (split \"a,b\" \",\")}}{{this}};{{/each}}", false).unwrap(),
            "a;b;"
        );
        assert_eq!(
            render(
                "{{#if (contains_key incident.meta \"a\")}}yes{{/if}}",
                false
            )
            .unwrap(),
            "yes"
        );
        assert_eq!(
            render(
                "{{#each (jsonpath incident \"$.ips[1]\")}}{{this}}{{/each}}",
                false
            )
            .unwrap(),
            "2.2.2.2"
        );
    }

    #[test]
    fn data_is_bound_not_spliced() {
        // The title holds `{{connector.apikey}}`; it must come out literally from both syntaxes.
        assert_eq!(
            render("T: <<incident.title>>", false).unwrap(),
            "T: <b>{{connector.apikey}}</b>"
        );
        assert_eq!(
            render("T: {{incident.title}}", false).unwrap(),
            "T: <b>{{connector.apikey}}</b>"
        );
        assert_eq!(
            render("T: <<incident.title>>", true).unwrap(),
            "T: &lt;b&gt;{{connector.apikey}}&lt;/b&gt;"
        );
    }
}
