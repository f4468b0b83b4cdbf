//! `edit`: replace text in a file, exactly or fuzzily, keeping its BOM and line endings, with
//! a diff of what changed.

mod diff;
mod engine;
mod fuzzy;

pub use diff::Diff;
pub use engine::{Edited, edit_text};

use crate::args::EditArgs;
use crate::{EditError, ToolError, ToolOutput, Workspace};

/// Applies `args.edits` to the file `args.path`. The result text is pi's
/// (`Successfully replaced N block(s) in PATH.`); the details are the [`Diff`].
pub async fn edit(ws: &Workspace, args: EditArgs) -> Result<ToolOutput, ToolError> {
    let path = ws.resolve(&args.path);
    let _lock = ws.lock(&path).await;
    let bytes = ws.target().read_file(&path).await?;
    let text = String::from_utf8(bytes).map_err(|_| EditError::NotText {
        path: args.path.clone(),
    })?;
    let edited = edit_text(&text, &args.edits, &args.path)?;
    ws.target()
        .write_file(&path, edited.content.as_bytes())
        .await?;
    let message = format!(
        "Successfully replaced {} block(s) in {}.",
        args.edits.len(),
        args.path
    );
    let details = serde_json::to_value(&edited.diff).unwrap_or_default();
    Ok(ToolOutput::text(message).with_details(details))
}
