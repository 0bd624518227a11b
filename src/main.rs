//! The `codeless` binary: argument parsing only; the work is in the library.

use clap::{Parser, Subcommand};
use codeless::files::FileStore;
use codeless::report::Format;
use codeless::{cli, console};
use std::path::PathBuf;

// glibc's malloc grows and trims its per-thread arenas with mprotect and faults in fresh pages
// as a run's outputs accumulate; mimalloc reuses its per-thread pages. Measured in
// bench/README.md ("fourth session"); which mimalloc, and why, is in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "codeless",
    version,
    about = "Validate and run SOAR playbooks written in YAML"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Change a resource limit, NAME=VALUE (repeatable; `codeless limits` lists them).
    #[arg(long = "limit", value_name = "NAME=VALUE", global = true)]
    limits: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check playbooks, integrations, connections and tests; report every problem.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format (github is chosen automatically when GITHUB_ACTIONS=true).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// A connections file to check tasks' connections against.
        #[arg(long)]
        connections: Option<PathBuf>,
        /// More directories of playbooks callable as commands.
        #[arg(long = "commands", value_name = "DIR")]
        commands: Vec<PathBuf>,
    },
    /// Run a playbook and print its run document (JSON) on stdout.
    Run {
        playbook: PathBuf,
        /// The incident (JSON or YAML) read as <<incident.*>>.
        #[arg(long, conflicts_with = "event")]
        incident: Option<PathBuf>,
        /// The event (JSON or YAML) read as <<event.*>>.
        #[arg(long)]
        event: Option<PathBuf>,
        /// A playbook input, NAME=VALUE (VALUE is JSON if it parses, else text).
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Playbook inputs from a JSON or YAML file.
        #[arg(long = "inputs", value_name = "FILE")]
        inputs_file: Option<PathBuf>,
        /// Replace named tasks' or commands' outputs (JSON or YAML).
        #[arg(long)]
        mock: Option<PathBuf>,
        /// Allow running a draft playbook.
        #[arg(long)]
        draft: bool,
        /// Most commands in flight at once.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: u16,
        /// No progress lines on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// The connections file (integration commands' connections).
        #[arg(long)]
        connections: Option<PathBuf>,
        /// More directories of playbooks callable as commands.
        #[arg(long = "commands", value_name = "DIR")]
        commands: Vec<PathBuf>,
        /// Write one JSON line per event (task started/retried/finished...) to FILE.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// The file store's directory (default: $XDG_DATA_HOME/codeless/files).
        #[arg(long, value_name = "DIR")]
        files: Option<PathBuf>,
    },
    /// Run one command and print its output model (the seed's "Test Command").
    Command {
        name: String,
        /// The connection to use (integration commands).
        #[arg(long)]
        connection: Option<String>,
        /// An input, NAME=VALUE (VALUE is JSON if it parses, else text).
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// The connections file.
        #[arg(long)]
        connections: Option<PathBuf>,
        /// Directories of integrations and playbooks to find the command in.
        #[arg(long = "commands", value_name = "DIR")]
        commands: Vec<PathBuf>,
        /// The file store's directory (default: $XDG_DATA_HOME/codeless/files).
        #[arg(long, value_name = "DIR")]
        files: Option<PathBuf>,
    },
    /// Work with connections.
    Connection {
        #[command(subcommand)]
        action: ConnectionAction,
    },
    /// Run test files (`kind: test`): mocked runs checked against expectations.
    Test {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: cli::TestFormat,
        /// The file store's directory (default: $XDG_DATA_HOME/codeless/files).
        #[arg(long, value_name = "DIR")]
        files: Option<PathBuf>,
    },
    /// Draw a playbook's task graph (branch labels, loop edges, joins).
    Graph {
        playbook: PathBuf,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: codeless::graph::GraphFormat,
        /// A run document (the output of `codeless run`) to colour tasks by status.
        #[arg(long)]
        run: Option<PathBuf>,
    },
    /// Print the JSON Schema of a file kind (playbook, integration, connections, test).
    Schema {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(codeless::schema::KINDS))]
        kind: Option<String>,
    },
    /// List the commands, or document one.
    Commands {
        #[command(subcommand)]
        action: Option<CommandsAction>,
    },
    /// List the resource limits (file size, YAML depth, loops, batches...) and their values.
    Limits,
}

#[derive(Subcommand)]
enum ConnectionAction {
    /// Run the connection's TestConnection command.
    Test {
        name: String,
        /// The connections file.
        #[arg(long)]
        connections: Option<PathBuf>,
        /// Directories of integrations.
        #[arg(long = "commands", value_name = "DIR")]
        commands: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CommandsAction {
    /// Document one command: inputs, types, defaults, features.
    Show { name: String },
}

fn main() {
    let args = match Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // Help and version go to stdout, usage errors to stderr: either may be a closed
            // pipe or a full disk, as any output (console's rules).
            if let Err(io) = e.print() {
                if io.kind() != std::io::ErrorKind::BrokenPipe {
                    let to = if e.use_stderr() { "stderr" } else { "stdout" };
                    console::write_failed(format!("cannot write to {to}: {io}"));
                }
            }
            std::process::exit(console::finish(e.exit_code()));
        }
    };
    let limits = match codeless::limits::Limits::parse(&args.limits) {
        Ok(l) => l,
        Err(e) => {
            console::eprint(&format!("error: {e}\n"));
            std::process::exit(console::finish(cli::EXIT_INVALID));
        }
    };
    let code = match args.command {
        Cmd::Validate {
            paths,
            format,
            connections,
            commands,
        } => {
            let github = std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true");
            let format = format.unwrap_or(if github {
                Format::Github
            } else {
                Format::Human
            });
            cli::validate(&paths, format, connections.as_deref(), &commands, &limits)
        }
        Cmd::Run {
            playbook,
            incident,
            event,
            inputs,
            inputs_file,
            mock,
            draft,
            concurrency,
            quiet,
            connections,
            commands,
            trace,
            files,
        } => cli::run(cli::RunArgs {
            playbook,
            incident,
            event,
            inputs,
            inputs_file,
            mock,
            draft,
            concurrency: concurrency as usize,
            quiet,
            connections,
            commands,
            trace,
            files: FileStore::resolve(files, None),
            limits,
        }),
        Cmd::Command {
            name,
            connection,
            inputs,
            connections,
            commands,
            files,
        } => cli::command(cli::CommandArgs {
            name,
            connection,
            inputs,
            connections,
            commands,
            files: FileStore::resolve(files, None),
            limits,
        }),
        Cmd::Connection {
            action:
                ConnectionAction::Test {
                    name,
                    connections,
                    commands,
                },
        } => cli::connection_test(&name, connections.as_deref(), &commands, &limits),
        Cmd::Test {
            paths,
            format,
            files,
        } => cli::test(&paths, format, &limits, &FileStore::resolve(files, None)),
        Cmd::Graph {
            playbook,
            format,
            run,
        } => cli::graph(&playbook, format, run.as_deref(), &limits),
        Cmd::Schema { kind } => cli::schema(kind.as_deref()),
        Cmd::Commands { action: None } => cli::list_commands(),
        Cmd::Commands {
            action: Some(CommandsAction::Show { name }),
        } => cli::show_command(&name),
        Cmd::Limits => cli::limits(&limits),
    };
    std::process::exit(console::finish(code));
}
