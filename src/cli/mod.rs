//! The command line: clap derive definitions and one file per subcommand.
//!
//! Exit codes (also in `--help` and README):
//! - 0: success (for `version cmp`: the comparison was made)
//! - 1: policy violations at or above the gate (reserved for `scan`)
//! - 2: could not complete (bad arguments, unreadable input), or completed with problems

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod agent;
mod collect;
mod discover;
mod docs;
mod node;
mod plan;
mod policy;
mod query;
mod report;
mod scan;
mod serve;
mod sync;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: policy violations.
pub const EXIT_VIOLATIONS: u8 = 1;
/// Exit code: error, or completed with problems.
pub const EXIT_ERROR: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  policy violations at or above the gate threshold
  2  could not complete (bad arguments, unreadable input), or completed with problems
     (some file or node could not be read; the output is still written first)

Examples:
  nminus collect -o inventory.json                 inventory of this machine
  nminus collect --root /srv/image-root --site par1 --label role=compute
  nminus report --input scan.json --format html,sarif,junit -o reports/
  nminus sync --data /var/lib/nminus/data          fetch the advisory feeds
  nminus sync --data DIR --from feeds.tar.gz       ... or take them from a bundle (air-gapped)
  nminus version cmp --scheme deb 2:26.2.2-1~deb12u5 2:26.2.2-1
  printf '1.0~rc1\\t1.0\\n' | nminus version cmp --scheme deb --batch
  nminus completions bash > /etc/bash_completion.d/nminus";

/// nminus keeps a cloud's software current: every package, service and image within the
/// newest or previous release series (n / n-1), patched against known advisories.
#[derive(Debug, Parser)]
#[command(name = "nminus", version, about, long_about = None, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inventory a node (or a directory standing for one) and write it as JSON.
    ///
    /// Reads dpkg, RPM (SQLite, BerkeleyDB, NDB) and apk databases, Python dist-info and
    /// egg-info in every site-packages / dist-packages and virtualenv (OpenStack-Ansible,
    /// kolla), lockfiles, os-release, and recognises the OpenStack services installed. It only
    /// reads files; nothing under the root is executed.
    Collect(Lazy<collect::CollectArgs>),
    /// Scan a node, a root directory or a lockfile against the advisory feeds and report.
    ///
    /// The same collectors as `collect`, then every package is matched in its own version scheme
    /// against the feeds of the data directory: OS packages against their distro's advisories by
    /// source package, Python modules owned by dpkg/rpm are left to the distro, OpenStack
    /// deliverables against OSSA and PyPA, crates against RustSec.
    Scan(Lazy<scan::ScanArgs>),
    /// Fetch the feeds into the data directory, from upstream or from a mirror or bundle.
    #[command(long_about = sync::LONG_ABOUT)]
    Sync(Lazy<sync::SyncArgs>),
    /// Re-render a saved JSON report (table, json, html, sarif, junit, cyclonedx, markdown).
    ///
    /// The gate is evaluated again on the saved findings (`--fail-on` replaces the saved gate),
    /// so CI can gate on a report made elsewhere; `--history` adds earlier reports to the HTML
    /// compliance-over-time chart.
    Report(Lazy<report::ReportArgs>),
    /// Validate policies.
    #[command(subcommand)]
    Policy(Lazy<policy::PolicyCommand>),
    /// Plan an upgrade, a rollback or a site replication for deployers (nminus never runs it).
    ///
    /// Ordered by the upgrade-order DAG (each step names the edge that puts it there), along
    /// SLURP-valid series paths, with preconditions, post-steps and each step's reversibility
    /// (code-only, needs-db-restore, irreversible); rendered as JSON, Markdown, a generic
    /// Ansible playbook, kolla-ansible or OpenStack-Ansible inputs.
    #[command(subcommand, after_long_help = plan::PLAN_HELP)]
    Plan(Lazy<plan::PlanCommand>),
    /// Run the central analyzer: agents push inventories, it stores and judges them.
    ///
    /// Inventories are stored (SQLite or PostgreSQL), judged on receipt and re-evaluated when the
    /// feeds change, without touching a node; nodes, findings, reports and Prometheus metrics are
    /// served over HTTP.
    Serve(Lazy<serve::ServeArgs>),
    /// Enroll this node with a server, then collect and push its inventory (once or periodically).
    Agent(Lazy<agent::AgentArgs>),
    /// Ask a server or a store about the fleet: nodes, findings, where a package runs, diffs.
    Query(Lazy<query::QueryArgs>),
    /// Discover the cloud through its APIs: Keystone's catalog, each endpoint's versions and the
    /// series its maximum microversion implies; optionally probe them for Prometheus.
    Discover(Lazy<discover::DiscoverArgs>),
    /// Operator actions on the node registry (revoke a node's token).
    #[command(subcommand)]
    Node(Lazy<node::NodeCommand>),
    /// Compare and parse version strings in an ecosystem's exact ordering.
    #[command(subcommand)]
    Version(Lazy<version::VersionCommand>),
    /// Print shell completions for bash, zsh, fish, elvish or powershell.
    Completions(Lazy<docs::CompletionsArgs>),
    /// Write the man pages (nminus.1 and one per subcommand) into a directory.
    Man(Lazy<docs::ManArgs>),
}

/// The node side only — `collect`, `enroll`, `run` — as the lean `nminus-agent` binary that
/// agents deploy: the same code as `nminus collect` and `nminus agent`, linked without the
/// analyzer, the server, the planner and the report renderers, so that it starts small.
#[derive(Debug, Parser)]
#[command(
    name = "nminus-agent",
    version,
    about = "nminus node agent: inventory this node and push it to the central analyzer",
    long_about = None,
    after_help = AGENT_AFTER_HELP,
    propagate_version = true
)]
pub struct AgentCli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: AgentSide,
}

const AGENT_AFTER_HELP: &str = "\
The same commands as `nminus collect`, `nminus agent enroll` and `nminus agent`.

Exit codes:
  0  success (run --once: delivered, or a heartbeat)
  2  could not complete (bad arguments, unreadable input, not delivered: spooled for the next run)

Examples:
  nminus-agent collect -o /var/lib/nminus/inventory.json
  nminus-agent enroll --server https://nminus.example:8080 --token-file /etc/nminus/enroll-secret
  nminus-agent run --once --site par1 --cell cell1 --label role=compute";

/// Subcommands of `nminus-agent`.
#[derive(Debug, Subcommand)]
pub enum AgentSide {
    /// Inventory this node (or a directory standing for one) and write it as JSON
    /// (`nminus collect`).
    Collect(collect::CollectArgs),
    /// Get this node's token from the server with the enrollment secret
    /// (`nminus agent enroll`).
    Enroll(agent::EnrollArgs),
    /// Collect and push the inventory, once or periodically (`nminus agent`).
    Run(agent::RunArgs),
}

/// Run the parsed `nminus-agent` command line and return the process exit code.
pub fn run_agent_side(cli: AgentCli) -> ExitCode {
    exit_code(match cli.command {
        AgentSide::Collect(a) => collect::run(&a),
        AgentSide::Enroll(e) => agent::enroll(&e),
        AgentSide::Run(a) => agent::run_agent(&a),
    })
}

/// Run the parsed command line and return the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let r = match cli.command {
        Command::Collect(a) => collect::run(&a),
        Command::Scan(a) => scan::run(&a),
        Command::Sync(a) => sync::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Version(c) => version::run(c.0),
        Command::Policy(c) => policy::run(c.0),
        Command::Plan(c) => plan::run(c.0),
        Command::Serve(a) => serve::run(&a),
        Command::Agent(a) => agent::run(&a),
        Command::Query(a) => query::run(&a),
        Command::Node(c) => node::run(&c),
        Command::Discover(a) => discover::run(&a),
        Command::Completions(a) => docs::completions(&a),
        Command::Man(a) => docs::man(&a),
    };
    exit_code(r)
}

/// Text bound for a terminal with every control character but newline and tab shown as `?`:
/// what a node reported (a host name, a version) must not move the cursor, retitle the
/// window or hide lines. JSON is never passed through here (serde escapes C0 controls itself).
pub(crate) fn terminal_text(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().map(|c| if bad(c) { '?' } else { c }).collect())
}

/// One line for a terminal: every control character shown as `?`, newline and tab too, so that
/// a node's string can neither move the cursor nor forge a line of its own (problems, warnings).
pub(crate) fn terminal_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect(),
    )
}

fn exit_code(r: anyhow::Result<u8>) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_OK);
            }
            // The chain, each cause once: many errors already carry their source's text.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {}", terminal_text(&msg));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Make a closed stdout (`nminus completions zsh | head`) end the process quietly, exit code
/// 0, wherever the write happens: a write through `?` arrives at [`exit_code`] as an
/// `io::ErrorKind::BrokenPipe` error; a `println!` panics with the standard library's
/// "failed printing to stdout" and is caught here (Rust ignores SIGPIPE, so every write to a
/// closed pipe fails with `EPIPE` instead of killing the process). Every other panic is
/// reported as before. Called first in `main` of both binaries.
pub fn end_quietly_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_print_to_closed_pipe(msg) {
            std::process::exit(i32::from(EXIT_OK));
        }
        previous(info);
    }));
}

/// The standard library's panic message for `print!`/`println!` into a closed pipe.
fn is_print_to_closed_pipe(msg: &str) -> bool {
    let epipe = std::io::Error::from_raw_os_error(libc::EPIPE).to_string();
    msg.starts_with("failed printing to std") && msg.ends_with(&epipe)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The clap command, for completions and man pages.
pub fn command() -> clap::Command {
    // Completions, man pages and checks want the whole tree as written: no deferral.
    EAGER.store(true, std::sync::atomic::Ordering::Relaxed);
    <Cli as clap::CommandFactory>::command()
}

/// Set by [`command`]: [`Lazy`] augments in place instead of deferring.
static EAGER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn eager() -> bool {
    EAGER.load(std::sync::atomic::Ordering::Relaxed)
}

/// A subcommand's arguments (or nested subcommands), built by clap only when that subcommand
/// is the one being parsed (`clap::Command::defer`). clap's derive builds the whole command
/// tree on every start, each subcommand's arguments included: ~0.8 ms of a 6 ms lockfile scan
/// went to building `plan`, `serve`, `query` … arguments that run was never going to read.
/// `--help` builds the subcommand it shows; completions and man pages use [`command`], which
/// builds the whole tree in place, exactly as without deferral.
#[derive(Debug, Clone)]
pub struct Lazy<T>(pub T);

impl<T> std::ops::Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Self)
    }
    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Self)
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

/// Apply `f` (a derive's augmentation) keeping the help text the subcommand's variant gave:
/// built in place, the arguments' own doc comment would come first and the variant's text
/// after it; deferred, it would come last and win.
fn keeping_about(cmd: clap::Command, f: fn(clap::Command) -> clap::Command) -> clap::Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = f(cmd);
    match (about, long_about) {
        (None, _) => cmd,
        (Some(a), Some(l)) => cmd.about(a).long_about(l),
        (Some(a), None) => cmd.about(a).long_about(None::<&str>),
    }
}

/// `now` in place when the whole tree is wanted ([`command`]), else `deferred` for clap to run
/// when the subcommand is parsed.
fn augment(
    cmd: clap::Command,
    now: fn(clap::Command) -> clap::Command,
    deferred: fn(clap::Command) -> clap::Command,
) -> clap::Command {
    if eager() {
        now(cmd)
    } else {
        cmd.defer(deferred)
    }
}

fn deferred_args<T: clap::Args>(cmd: clap::Command) -> clap::Command {
    keeping_about(cmd, T::augment_args)
}

fn deferred_args_for_update<T: clap::Args>(cmd: clap::Command) -> clap::Command {
    keeping_about(cmd, T::augment_args_for_update)
}

fn deferred_subcommands<T: clap::Subcommand>(cmd: clap::Command) -> clap::Command {
    keeping_about(cmd, T::augment_subcommands)
}

fn deferred_subcommands_for_update<T: clap::Subcommand>(cmd: clap::Command) -> clap::Command {
    keeping_about(cmd, T::augment_subcommands_for_update)
}

impl<T: clap::Args> clap::Args for Lazy<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        augment(cmd, T::augment_args, deferred_args::<T>)
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        augment(
            cmd,
            T::augment_args_for_update,
            deferred_args_for_update::<T>,
        )
    }
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

impl<T: clap::Subcommand> clap::Subcommand for Lazy<T> {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        augment(cmd, T::augment_subcommands, deferred_subcommands::<T>)
    }
    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        augment(
            cmd,
            T::augment_subcommands_for_update,
            deferred_subcommands_for_update::<T>,
        )
    }
    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_print_into_a_closed_pipe_is_quiet() {
        let epipe = std::io::Error::from_raw_os_error(libc::EPIPE);
        assert!(super::is_print_to_closed_pipe(&format!(
            "failed printing to stdout: {epipe}"
        )));
        assert!(super::is_print_to_closed_pipe(&format!(
            "failed printing to stderr: {epipe}"
        )));
        let other = std::io::Error::from_raw_os_error(libc::EIO);
        assert!(!super::is_print_to_closed_pipe(&format!(
            "failed printing to stdout: {other}"
        )));
        assert!(!super::is_print_to_closed_pipe("index out of bounds"));
    }

    #[test]
    fn cli_definition_is_consistent() {
        super::command().debug_assert();
        <super::AgentCli as clap::CommandFactory>::command().debug_assert();
    }
}
