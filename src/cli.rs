//! The command-line subcommands as library functions returning an exit code.
//! `main.rs` only parses arguments and calls these.

use crate::commands::Registry;
use crate::console;
use crate::diagnostic::Diagnostic;
use crate::limits::Limits;
use crate::load::load_str;
use crate::model::{Document, Playbook};
use crate::report::{render, Format};
use crate::run::{
    prepare_inputs, run_document, run_playbook, ConnectionTable, Mocks, Progress, RunData,
    RunOptions,
};
use crate::workspace::Workspace;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
/// A run cancelled with Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Every `*.yaml`/`*.yml` under the given paths (files given directly are always taken).
pub fn walk(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                for e in entries {
                    if e.is_dir() {
                        stack.push(e);
                    } else if matches!(e.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                    {
                        out.push(e);
                    }
                }
            }
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

pub fn validate(
    paths: &[PathBuf],
    format: Format,
    connections: Option<&Path>,
    commands: &[PathBuf],
    limits: &Limits,
) -> i32 {
    let mut all: Vec<PathBuf> = paths.to_vec();
    all.extend(connections.map(Path::to_path_buf));
    all.extend(commands.iter().cloned());
    let files = match walk(&all) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    if files.is_empty() {
        return fail("no YAML files (*.yaml, *.yml) found in the given paths");
    }
    let ws = Workspace::load_with(&files, limits);
    // Before the checks: messages that clip a value must mask it first.
    ws.literal_secrets().register();
    let diags = ws.diagnostics();
    let color = std::io::stdout().is_terminal();
    let errors = Workspace::has_errors(&diags);
    console::print(&render_safely(
        &ws,
        diags,
        ws.checked_files(),
        format,
        color,
    ));
    if errors {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Reads a JSON or YAML data file (incident, event, inputs, mocks) through the `file-size`
/// limit, whatever the file is (a pipe, a FIFO, a device). A UTF-8 byte order mark is skipped,
/// in JSON as in YAML.
pub fn read_data(path: &Path, limits: &Limits) -> Result<Value, String> {
    let bytes = limits.read_file(path).map_err(|e| match e {
        crate::limits::ReadError::Io(e) => format!("cannot read {}: {e}", path.display()),
        too_large => format!(
            "{}: {too_large} ({})",
            path.display(),
            crate::limits::raise_hint("file-size")
        ),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read {}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        return serde_json::from_str(text)
            .map_err(|e| format!("{}: invalid JSON: {e}", path.display()));
    }
    crate::load::node::parse_yaml_limited(text, limits)
        .map(|n| n.to_json())
        .map_err(|e| {
            // The same words as a playbook's YAML errors, with the line where the parser knows it.
            let at = e
                .span
                .map(|s| {
                    let file = crate::diagnostic::SourceFile::new("", text);
                    format!(":{}", file.line_col(s.start).0)
                })
                .unwrap_or_default();
            format!(
                "{}{at}: {} ({})",
                path.display(),
                crate::load::friendly_yaml_message(&e.message, limits),
                crate::load::yaml_help(&e.message)
            )
        })
}

pub struct RunArgs {
    pub playbook: PathBuf,
    pub incident: Option<PathBuf>,
    pub event: Option<PathBuf>,
    pub inputs: Vec<String>,
    pub inputs_file: Option<PathBuf>,
    pub mock: Option<PathBuf>,
    pub draft: bool,
    pub concurrency: usize,
    pub quiet: bool,
    pub connections: Option<PathBuf>,
    pub commands: Vec<PathBuf>,
    pub trace: Option<PathBuf>,
    /// Where files go (`--files DIR`; `FileStore::resolve`).
    pub files: crate::files::FileStore,
    pub limits: Limits,
}

/// Diagnostics as `render` writes them, without the secrets of the workspace's connections
/// files: snippets hide the values that may be secrets, and literal ones are masked anywhere.
fn render_safely(
    ws: &Workspace,
    diags: Vec<Diagnostic>,
    files: usize,
    format: Format,
    color: bool,
) -> String {
    let rendered = render(&ws.without_secrets(diags), files, format, color);
    ws.literal_secrets().mask(&rendered)
}

/// Says `msg` on stderr (its control characters escaped) and returns exit status 2.
fn fail(msg: impl std::fmt::Display) -> i32 {
    console::eprint(&format!("error: {msg}\n"));
    EXIT_INVALID
}

pub fn run(args: RunArgs) -> i32 {
    let limits = &args.limits;
    let ws = Workspace::load_with(
        &run_files(&args.playbook, args.connections.as_deref(), &args.commands),
        limits,
    );
    let mut diags = ws.diagnostics_for(&args.playbook.display().to_string());
    if let Some(c) = &args.connections {
        diags.extend(ws.diagnostics_for(&c.display().to_string()));
    }
    if Workspace::has_errors(&diags) {
        let color = std::io::stderr().is_terminal();
        console::eprint_raw(&render_safely(
            &ws,
            diags,
            ws.checked_files(),
            Format::Human,
            color,
        ));
        return EXIT_INVALID;
    }
    let shown = args.playbook.display().to_string();
    let Some(loaded) = ws.loaded.iter().find(|l| l.file.path == shown) else {
        return fail(format!("{shown}: cannot read the playbook"));
    };
    let pb: Arc<Playbook> = match &loaded.document {
        Some(Document::Playbook(p)) => p.clone(),
        Some(_) => {
            return fail(format!(
                "{} is a `{}` file, not a playbook",
                args.playbook.display(),
                loaded.kind.clone().unwrap_or_default()
            ))
        }
        None => {
            return fail(format!(
                "{} has no `kind: playbook`",
                args.playbook.display()
            ))
        }
    };
    if pb.status.value == crate::commands::Lifecycle::Draft && !args.draft {
        return fail(format!(
            "playbook `{}` is a draft; run it with --draft",
            pb.name.value
        ));
    }
    let read = |p: &Option<PathBuf>| -> Result<Value, String> {
        p.as_deref()
            .map(|p| read_data(p, limits))
            .transpose()
            .map(|v| v.unwrap_or(Value::Null))
    };
    let (incident, event) = match (read(&args.incident), read(&args.event)) {
        (Ok(i), Ok(e)) => (i, e),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let mut given = Map::new();
    if let Some(f) = &args.inputs_file {
        match read_data(f, limits) {
            Ok(Value::Object(m)) => given.extend(m),
            Ok(_) => {
                return fail(format!(
                    "{}: inputs must be a mapping of name: value",
                    f.display()
                ))
            }
            Err(e) => return fail(e),
        }
    }
    match parse_inputs(&args.inputs) {
        Ok(i) => given.extend(i),
        Err(e) => return fail(e),
    }
    let inputs = match prepare_inputs(&pb, given) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let mocks = match &args.mock {
        Some(f) => match read_data(f, limits)
            .and_then(|v| Mocks::from_json(&v).map_err(|e| format!("{}: {e}", f.display())))
        {
            Ok(m) => m,
            Err(e) => return fail(e),
        },
        None => Mocks::default(),
    };
    let (plan, _) = crate::plan::plan(&pb);
    let connections = ConnectionTable::build(&ws);
    let secrets = connections.secrets.clone();
    let opts = RunOptions {
        concurrency: args.concurrency,
        mocks,
        progress: Progress::for_stderr(!args.quiet, secrets.clone()),
        connections,
        limits: args.limits,
        files: args.files.clone(),
        ..RunOptions::default()
    };
    let mut opts = opts;
    if let Some(path) = &args.trace {
        match crate::run::trace::Trace::to_file(path, secrets.clone()) {
            Ok(t) => opts.trace = Arc::new(t),
            Err(e) => return fail(e),
        }
    }
    let data = RunData {
        incident,
        event,
        inputs,
        ..RunData::default()
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let registry = Arc::new(ws.registry.clone());
    let cancel = opts.cancel.clone();
    let trace = opts.trace.clone();
    let result = rt.block_on(async {
        if let Err(e) = cancel_on_signals(cancel) {
            console::eprint(&format!("warning: {e}\n"));
        }
        run_playbook(pb.clone(), Arc::new(plan), registry, data, opts).await
    });
    for e in &result.output_errors {
        console::eprint(&format!("warning: {}\n", secrets.mask(e)));
    }
    let mut doc = run_document(&pb, &result);
    secrets.mask_value(&mut doc);
    print_json(&doc);
    if let Some(e) = trace.error() {
        console::write_failed(e);
    }
    if result.cancelled {
        EXIT_INTERRUPTED
    } else if result.status == crate::output::Status::Failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Ctrl-C during a run starts no new task, lets running ones end or time out, and the run is
/// reported; a second one leaves at once. SIGTERM and SIGHUP are treated as Ctrl-C (DESIGN.md
/// §6): a service manager's stop or a closed terminal still gets the run document. The
/// handlers are in place when this returns (before the run starts); call it in the runtime.
fn cancel_on_signals(cancel: Arc<crate::run::Cancel>) -> Result<(), String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
        let mut int = listen(SignalKind::interrupt())?;
        let mut term = listen(SignalKind::terminate())?;
        let mut hup = listen(SignalKind::hangup())?;
        tokio::spawn(async move {
            let mut next = async || {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            };
            next().await;
            cancel.cancel();
            next().await;
            std::process::exit(console::finish(EXIT_INTERRUPTED));
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(console::finish(EXIT_INTERRUPTED));
            }
        }
    });
    Ok(())
}

/// A JSON document on stdout, pretty-printed, with a final newline.
fn print_json(doc: &Value) {
    console::print(&format!(
        "{}\n",
        serde_json::to_string_pretty(doc).unwrap_or_default()
    ));
}

pub fn list_commands() -> i32 {
    let r = Registry::builtin();
    let mut out = String::new();
    let mut rows: Vec<_> = r.iter().collect();
    rows.sort_by(|a, b| (&a.spec.category, &a.spec.name).cmp(&(&b.spec.category, &b.spec.name)));
    let w = rows.iter().map(|c| c.spec.name.len()).max().unwrap_or(10);
    let mut cat = String::new();
    for c in rows {
        if c.spec.category != cat {
            cat = c.spec.category.clone();
            let _ = writeln!(out, "\n{cat}");
        }
        let params: Vec<String> = c
            .spec
            .inputs
            .iter()
            .map(|p| {
                format!(
                    "{}{}: {}",
                    p.name,
                    if p.required { "" } else { "?" },
                    p.ty.name()
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:w$}  {}  ({}) → {}",
            c.spec.name,
            c.spec.display,
            params.join(", "),
            c.spec.returns
        );
    }
    let _ = writeln!(
        out,
        "\n{} commands. `codeless commands show NAME` documents one.",
        r.len()
    );
    console::print(&out);
    EXIT_OK
}

pub fn show_command(name: &str) -> i32 {
    let r = Registry::builtin();
    let mut out = String::new();
    let Some(c) = r.get(name) else {
        let hint = r
            .suggest(name)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return fail(format!("unknown command `{name}`{hint}"));
    };
    let s = &c.spec;
    let _ = writeln!(out, "{} — {}", s.name, s.display);
    let _ = writeln!(out, "category: {}", s.category);
    let _ = writeln!(
        out,
        "features: {}",
        s.features
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "status:   {}",
        if s.status == crate::commands::Lifecycle::Draft {
            "draft"
        } else {
            "live"
        }
    );
    if !s.description.is_empty() {
        let _ = writeln!(out, "\n{}", s.description);
    }
    let _ = writeln!(out, "\ninputs:");
    if s.inputs.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for p in &s.inputs {
        let mut line = format!(
            "  {} ({}) — {}, {}",
            p.name,
            p.display,
            p.ty.name(),
            if p.required { "required" } else { "optional" }
        );
        if let Some(d) = &p.default {
            line.push_str(&format!(", default {d}"));
        }
        if !p.options.is_empty() {
            line.push_str(&format!(", one of: {}", p.options.join(" | ")));
        }
        let _ = writeln!(out, "{line}");
        if !p.description.is_empty() {
            let _ = writeln!(out, "      {}", p.description);
        }
        if let Some(sample) = &p.sample {
            let _ = writeln!(out, "      sample: {sample}");
        }
    }
    let _ = writeln!(out, "\nreturnData: {}", s.returns);
    if !s.key_fields.is_empty() {
        let _ = writeln!(out, "key fields:");
        for k in &s.key_fields {
            let _ = writeln!(out, "  {} = {}", k.name, k.path);
        }
    }
    console::print(&out);
    EXIT_OK
}

/// The files a run sees: the playbook, and the playbooks and integrations beside it (nested
/// playbooks are found under the playbook's directory).
pub fn run_files(
    playbook: &Path,
    connections: Option<&Path>,
    commands: &[PathBuf],
) -> Vec<PathBuf> {
    let mut files = vec![playbook.to_path_buf()];
    files.extend(connections.map(Path::to_path_buf));
    // A bare file name's directory is the current one.
    let dir = playbook.parent().map(|d| {
        if d.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            d.to_path_buf()
        }
    });
    for d in dir.iter().chain(commands) {
        if let Ok(found) = walk(std::slice::from_ref(d)) {
            for f in found {
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
    }
    files
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

pub struct CommandArgs {
    pub name: String,
    pub connection: Option<String>,
    pub inputs: Vec<String>,
    pub connections: Option<PathBuf>,
    pub commands: Vec<PathBuf>,
    /// Where files go (`--files DIR`; `FileStore::resolve`).
    pub files: crate::files::FileStore,
    pub limits: Limits,
}

/// `--input NAME=VALUE` pairs as JSON values (VALUE is JSON when it parses, else text).
fn parse_inputs(pairs: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for kv in pairs {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(format!("--input `{kv}` must be NAME=VALUE"));
        };
        let v = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        out.insert(k.trim().to_owned(), v);
    }
    Ok(out)
}

fn command_workspace(
    connections: Option<&Path>,
    commands: &[PathBuf],
    limits: &Limits,
) -> Result<Workspace, i32> {
    let mut files: Vec<PathBuf> = connections.map(Path::to_path_buf).into_iter().collect();
    match walk(commands) {
        Ok(found) => files.extend(found),
        Err(e) => return Err(fail(e)),
    }
    let ws = Workspace::load_with(&files, limits);
    let diags = ws.diagnostics();
    if Workspace::has_errors(&diags) {
        console::eprint_raw(&render_safely(
            &ws,
            diags,
            ws.checked_files(),
            Format::Human,
            std::io::stderr().is_terminal(),
        ));
        return Err(EXIT_INVALID);
    }
    Ok(ws)
}

/// Runs one command and prints its output model (D3's "Test Command").
pub fn command(args: CommandArgs) -> i32 {
    let ws = match command_workspace(args.connections.as_deref(), &args.commands, &args.limits) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let inputs = match parse_inputs(&args.inputs) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let Some(cmd) = ws.registry.get(&args.name).cloned() else {
        let hint = ws
            .registry
            .suggest(&args.name)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return fail(format!("unknown command `{}`{hint}", args.name));
    };
    let table = ConnectionTable::build(&ws);
    let secrets = table.secrets.clone();
    let conn = match &cmd.implementation {
        crate::commands::Implementation::Integration { integration, .. } => {
            let prefix = crate::workspace::integration_prefix(&integration.name.value);
            match table.for_task(&prefix, integration, args.connection.as_deref()) {
                Ok(c) => Some(c),
                Err(e) => return fail(secrets.mask(&e)),
            }
        }
        _ if args.connection.is_some() => {
            return fail(format!(
                "`{}` is not an integration command; it takes no connection",
                args.name
            ))
        }
        _ => None,
    };
    // Inputs typed on the command line are authored, not data: `{{connector.X}}` / `<<connector.X>>`
    // in them are resolved against the connection, as the seed's Test Command does.
    let connector = conn
        .as_ref()
        .map(|c| c.params.clone())
        .unwrap_or(Value::Null);
    let inputs = match resolve_cli_templates(inputs, &connector) {
        Ok(i) => i,
        Err(e) => return fail(secrets.mask(&e)),
    };
    // The inputs may hold the connection's secrets (`{{connector.X}}`): so may their errors.
    let calls = match crate::run::invoke::build_calls(&cmd, inputs, args.limits.batch_size) {
        Ok(c) => c,
        Err(e) => return fail(secrets.mask(&e)),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    let services = crate::run::Services::new(
        Arc::new(ws.registry.clone()),
        args.files,
        Mocks::default(),
        16,
        table,
        (Value::Null, Value::Null),
    )
    .with_limits(args.limits);
    let (out, retries) = rt.block_on(crate::run::invoke::call(
        &cmd,
        "command",
        &Arc::new(calls),
        conn.as_ref(),
        &services,
    ));
    let out = crate::run::invoke::within_output_size(out, &cmd.spec.display, &services.limits);
    let mut doc = serde_json::to_value(&out).unwrap_or(Value::Null);
    doc["retries"] = Value::from(retries);
    secrets.mask_value(&mut doc);
    print_json(&doc);
    if out.failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Runs a connection's `TestConnection` command.
pub fn connection_test(
    name: &str,
    connections: Option<&Path>,
    commands: &[PathBuf],
    limits: &Limits,
) -> i32 {
    let ws = match command_workspace(connections, commands, limits) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let Some((_, conn)) = ws.connections.get(name) else {
        let known: Vec<&str> = ws.connections.keys().map(String::as_str).collect();
        let hint = match crate::util::closest(name, known.iter().copied()) {
            Some(c) => format!(" (did you mean `{c}`?)"),
            None if known.is_empty() => " (pass the connections file with --connections)".into(),
            None => format!(" (known: {})", known.join(", ")),
        };
        return fail(format!("there is no connection `{name}`{hint}"));
    };
    let prefix = crate::workspace::integration_prefix(&conn.integration.value);
    let test = format!("{prefix}.TestConnection");
    if ws.registry.get(&test).is_none() {
        return fail(format!(
            "integration `{}` has no TestConnection command",
            conn.integration.value
        ));
    }
    let code = command(CommandArgs {
        name: test,
        connection: Some(name.to_owned()),
        inputs: Vec::new(),
        connections: connections.map(Path::to_path_buf),
        commands: commands.to_vec(),
        files: crate::files::FileStore::user_default(),
        limits: *limits,
    });
    match code {
        EXIT_OK => console::eprint(&format!(
            "connection `{name}` ({}): passed\n",
            conn.integration.value
        )),
        EXIT_FAILED => console::eprint(&format!(
            "connection `{name}` ({}): FAILED\n",
            conn.integration.value
        )),
        _ => {}
    }
    code
}

/// For tests and `load_str` users: load a playbook from text, returning diagnostics on failure.
pub fn playbook_from_str(
    path: &str,
    text: &str,
) -> Result<(Arc<Playbook>, Workspace), Vec<Diagnostic>> {
    let ws = Workspace::new(vec![load_str(path, text)]);
    let diags = ws.diagnostics();
    if Workspace::has_errors(&diags) {
        return Err(diags);
    }
    match ws.loaded.first().and_then(|l| l.document.clone()) {
        Some(Document::Playbook(p)) => Ok((p, ws)),
        _ => Err(diags),
    }
}

pub fn schema(kind: Option<&str>) -> i32 {
    match kind {
        Some(k) => match crate::schema::schema_json(k) {
            Some(s) => {
                console::print(&s);
                EXIT_OK
            }
            None => fail(format!("unknown kind `{k}`")),
        },
        None => {
            console::print(&format!(
                "kinds: {}\n`codeless schema KIND` prints one; the same files are in schemas/.\n",
                crate::schema::KINDS.join(", ")
            ));
            EXIT_OK
        }
    }
}

/// Resolves `<<connector.*>>` (and `{{connector.*}}`) in command-line inputs.
fn resolve_cli_templates(
    inputs: Map<String, Value>,
    connector: &Value,
) -> Result<Map<String, Value>, String> {
    struct Only<'a>(&'a Value);
    impl crate::template::Context for Only<'_> {
        fn scope(&self, s: &crate::template::Scope) -> Result<&Value, String> {
            match s {
                crate::template::Scope::Connector if !self.0.is_null() => Ok(self.0),
                _ => Err("command-line inputs can read only `connector` (of an integration command's connection)".into()),
            }
        }
    }
    fn walk(v: Value, ctx: &Only, name: &str) -> Result<Value, String> {
        match v {
            Value::String(s) => match crate::template::parse_template(&s) {
                Ok(t) if t.has_exprs() => {
                    t.resolve(ctx).map_err(|e| format!("--input {name}: {e}"))
                }
                Ok(t) => Ok(Value::String(t.literal().unwrap_or(s))),
                Err(errs) => Err(format!(
                    "--input {name}: {}",
                    errs.first().map(|e| e.message.clone()).unwrap_or_default()
                )),
            },
            Value::Array(a) => a
                .into_iter()
                .map(|x| walk(x, ctx, name))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(o) => o
                .into_iter()
                .map(|(k, x)| walk(x, ctx, name).map(|x| (k, x)))
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            other => Ok(other),
        }
    }
    let ctx = Only(connector);
    inputs
        .into_iter()
        .map(|(k, v)| walk(v, &ctx, &k).map(|v| (k, v)))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TestFormat {
    Human,
    Junit,
}

/// Runs `kind: test` files; exit 0 when every case passes, 1 when some fail, 2 when none ran.
pub fn test(
    paths: &[PathBuf],
    format: TestFormat,
    limits: &Limits,
    files: &crate::files::FileStore,
) -> i32 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    let results = match rt.block_on(crate::testing::run_paths(paths, limits, files)) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if results.is_empty() {
        return fail("no test cases found (test files have `kind: test`)");
    }
    match format {
        TestFormat::Human => console::print(&crate::testing::human(&results)),
        TestFormat::Junit => console::print(&crate::testing::junit(&results)),
    }
    if results.iter().all(|r| r.passed()) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Draws a playbook's task graph; with a run document, coloured by task status.
pub fn graph(
    playbook: &Path,
    format: crate::graph::GraphFormat,
    run: Option<&Path>,
    limits: &Limits,
) -> i32 {
    let ws = Workspace::load_with(&run_files(playbook, None, &[]), limits);
    let Some(pb) = ws.playbook(playbook) else {
        let diags = ws.diagnostics_for(&playbook.display().to_string());
        if !diags.is_empty() {
            console::eprint_raw(&render_safely(
                &ws,
                diags,
                1,
                Format::Human,
                std::io::stderr().is_terminal(),
            ));
        }
        return fail(format!("{} is not a playbook", playbook.display()));
    };
    let run_doc = match run.map(|p| read_data(p, limits)).transpose() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let (plan, _) = crate::plan::plan(&pb);
    let out = match format {
        crate::graph::GraphFormat::Mermaid => crate::graph::mermaid(&pb, &plan, run_doc.as_ref()),
        crate::graph::GraphFormat::Dot => crate::graph::dot(&pb, &plan, run_doc.as_ref()),
    };
    console::print(&out);
    EXIT_OK
}

/// Prints the limits in force and their defaults (`codeless limits`).
pub fn limits(limits: &Limits) -> i32 {
    console::print(&limits.table());
    EXIT_OK
}
