//! The agent's tools — `bash`, `read`, `edit`, `write`, `ls`, `find`, `grep` — with pi's
//! semantics, on any [`tether_target::Target`], plus background processes.
//!
//! Each tool takes a [`Workspace`] (a target, a working directory, a home) and its arguments
//! ([`args`]), and gives what pi's built-in tool gives: the same truncation (2000 lines / 50 KB)
//! and trailers, the same continuation hints, edit's exact-then-fuzzy matching with its
//! uniqueness and overlap rules, CRLF and BOM kept, a diff, images as image content. A
//! failure is a [`ToolError`] whose message is the text the model should read. Front ends (the
//! MCP server, the CLI) only route and render.
//!
//! Background processes ([`bg_start`], [`bg_list`], [`bg_logs`], [`bg_stop`]) run detached in
//! their own session on the target and keep their output there, so they outlive the call, a
//! dropped connection and a restart of the agent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_tools::ToolError> {
//! use tether_tools::{Workspace, args::BashArgs, bash};
//! let ws = Workspace::local()?;
//! let out = bash(&ws, BashArgs { command: "uname -a".into(), timeout: Some(10.0) }, None).await?;
//! println!("{}", out.joined_text());
//! # Ok(()) }
//! ```

pub mod args;
mod bash;
mod bg;
mod capture;
pub mod descriptions;
mod edit;
mod error;
mod find;
mod grep;
mod ls;
mod output;
mod read;
pub mod truncate;
mod workspace;
mod write;

pub use bash::bash;
pub use bg::{
    BgProcess, BgSpec, BgState, LOGS_MAX_BYTES, LOGS_MAX_WAIT, Logs, STOP_GRACE, Started, Stopped,
    Window, bg_list, bg_logs, bg_start, bg_stop, is_env_name, list_processes, process, read_output,
    start_process, stop_process,
};
pub use edit::{Diff, Edited, edit, edit_text};
pub use error::{EditError, ToolError};
pub use find::{FIND_DEFAULT_LIMIT, find};
pub use grep::{GREP_DEFAULT_LIMIT, grep};
pub use ls::{LS_DEFAULT_LIMIT, ls};
pub use output::{Content, ToolOutput};
pub use read::{MAX_IMAGE_BYTES, MAX_READ_BYTES, image_type, read};
pub use workspace::Workspace;
pub use write::write;
