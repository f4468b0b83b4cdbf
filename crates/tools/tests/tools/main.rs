//! The tools on every backend (this machine, a simulator VM): the same call gives the same
//! result everywhere, and that result is pi's.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../common/mod.rs"]
mod common;

mod background;
mod bash;
mod files;
mod search;

use tether_tools::{ToolError, ToolOutput};

/// The text of a result, or `error: <message>` for an error.
pub fn text(result: Result<ToolOutput, ToolError>) -> String {
    match result {
        Ok(out) => out.joined_text(),
        Err(err) => format!("error: {err}"),
    }
}
