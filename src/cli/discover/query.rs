//! `nminus query controlplane`: a stored discovery round (or the list of rounds), from a server
//! or a database, as JSON or the table of `nminus discover`.

use std::io::Write;

use anyhow::Context;

use crate::discover::Discovery;
use crate::store::controlplane::ControlPlaneRound;

/// Print what `fetch(history)` gives: the rounds with `history`, else one discovery.
pub(crate) fn query_control_plane(
    json: bool,
    history: bool,
    out: &mut Vec<u8>,
    fetch: impl FnOnce(bool) -> anyhow::Result<serde_json::Value>,
) -> anyhow::Result<()> {
    let v = fetch(history)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &v)?;
        out.push(b'\n');
        return Ok(());
    }
    if history {
        let rounds: Vec<ControlPlaneRound> =
            serde_json::from_value(v).context("unexpected list of control-plane rounds")?;
        writeln!(out, "ID  CLOUD  DISCOVERED  ENDPOINTS  FINDINGS  PROBLEMS")?;
        for r in rounds {
            writeln!(
                out,
                "{}  {}  {}  {}  {}  {}",
                r.id,
                super::super::terminal_text(&r.cloud),
                r.discovered_at,
                r.endpoints,
                r.findings,
                r.problems
            )?;
        }
        return Ok(());
    }
    let d: Discovery = serde_json::from_value(v).context("unexpected control-plane round")?;
    out.write_all(super::table(&d).as_bytes())?;
    Ok(())
}
