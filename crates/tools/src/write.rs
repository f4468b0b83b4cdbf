//! `write`: create or replace a file with exactly the given text, creating its directories.

use crate::args::WriteArgs;
use crate::{ToolError, ToolOutput, Workspace};

/// Writes `args.content` to `args.path` (parents created). The result text is pi's
/// (`Successfully wrote N bytes to PATH`, N in UTF-8 bytes).
pub async fn write(ws: &Workspace, args: WriteArgs) -> Result<ToolOutput, ToolError> {
    let path = ws.resolve(&args.path);
    let _lock = ws.lock(&path).await;
    ws.target()
        .write_file_creating_dirs(&path, args.content.as_bytes())
        .await?;
    Ok(ToolOutput::text(format!(
        "Successfully wrote {} bytes to {}",
        args.content.len(),
        args.path
    )))
}
