//! `nminus node`: operator actions on the node registry, directly on the store.

use anyhow::Context;
use clap::{Args, Subcommand};

/// `nminus node` subcommands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Revoke a node's token: its pushes are refused from now on (its history is kept).
    Revoke(RevokeArgs),
}

/// Arguments of `nminus node revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Node id.
    pub id: String,
    /// The store (`sqlite://PATH` or `postgres://…`).
    #[arg(long, env = "NMINUS_DB")]
    pub db: String,
}

pub(super) fn run(c: &NodeCommand) -> anyhow::Result<u8> {
    match c {
        NodeCommand::Revoke(a) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let found = rt.block_on(async {
                let store = crate::store::open_existing(&a.db).await?;
                store.revoke(&a.id).await
            })?;
            if found {
                eprintln!("node `{}` revoked", a.id);
                Ok(super::EXIT_OK)
            } else {
                eprintln!("error: no node `{}` in the store", a.id);
                Ok(super::EXIT_ERROR)
            }
        }
    }
}
