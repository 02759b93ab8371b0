//! The `nminus-agent` binary: the node side of nminus (`collect`, `enroll`, `run`), linked
//! without the analyzer, server, planner and renderers so that it starts small on every node.

use clap::Parser;

fn main() -> std::process::ExitCode {
    nminus::cli::end_quietly_on_broken_pipe();
    nminus::cli::run_agent_side(nminus::cli::AgentCli::parse())
}
