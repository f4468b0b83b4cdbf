//! `bash`: run a command in the workspace's directory, pi's way: stdout and stderr interleaved,
//! the tail kept (2000 lines / 50 KB) with pi's trailer, the full output saved where the
//! command ran, and pi's texts for exit codes, timeouts and aborts.

use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use tether_target::{ExecOutcome, ExecSpec};
use tokio_util::sync::CancellationToken;

use crate::args::BashArgs;
use crate::capture::{Capture, Full};
use crate::truncate::{MAX_BYTES, TruncatedBy, Truncation, format_size};
use crate::{ToolError, ToolOutput, Workspace};

/// Runs `args.command` with `bash -c` in the workspace's directory, in its own process group.
/// A timeout or `cancel` kills the whole group. Exit code 0 is a result; anything else is an
/// error whose text carries the output, as pi's bash tool does.
pub async fn bash(
    ws: &Workspace,
    args: BashArgs,
    cancel: Option<CancellationToken>,
) -> Result<ToolOutput, ToolError> {
    let timeout = timeout_of(args.timeout)?;
    let spec = ExecSpec {
        command: args.command,
        cwd: Some(ws.cwd().to_owned()),
        env: ws.env().to_vec(),
        stdin: None,
        timeout,
    };
    let mut capture = Capture::default();
    let outcome = ws
        .target()
        .exec(spec, &mut |_, bytes| capture.push(bytes), cancel)
        .await?;
    let (output, details) = render(ws, capture).await?;
    let or_none = |output: String| {
        if output.is_empty() {
            "(no output)".to_owned()
        } else {
            output
        }
    };
    match outcome {
        ExecOutcome::Exited(0) => Ok(ToolOutput {
            details,
            ..ToolOutput::text(or_none(output))
        }),
        ExecOutcome::Exited(code) => Err(ToolError::CommandExited {
            output: or_none(output),
            code,
        }),
        ExecOutcome::Signaled(signal) => Err(ToolError::CommandExited {
            output: or_none(output),
            code: 128 + signal_number(&signal),
        }),
        ExecOutcome::TimedOut => Err(ToolError::CommandTimedOut {
            output,
            seconds: args.timeout.map(format_seconds).unwrap_or_default(),
        }),
        ExecOutcome::Cancelled => Err(ToolError::CommandAborted { output }),
    }
}

/// A timeout in seconds as a duration; it must be positive and finite.
fn timeout_of(seconds: Option<f64>) -> Result<Option<Duration>, ToolError> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(ToolError::BadArguments {
            tool: "bash".into(),
            reason: format!("timeout must be a positive number of seconds, not {s}"),
        }),
    }
}

/// Seconds as JavaScript prints a number: `5`, `0.5`.
fn format_seconds(seconds: f64) -> String {
    format!("{seconds}")
}

/// The number of a signal named without `SIG` (`KILL` → 9); 0 when unknown.
fn signal_number(name: &str) -> u32 {
    name.parse::<u32>().unwrap_or_else(|_| {
        Signal::from_str(&format!("SIG{name}")).map_or(0, |signal| signal as u32)
    })
}

/// The text the model sees (the tail, with pi's trailer when truncated) and the details.
async fn render(
    ws: &Workspace,
    capture: Capture,
) -> Result<(String, Option<serde_json::Value>), ToolError> {
    let truncation = capture.truncation();
    if !truncation.truncated {
        return Ok((truncation.content, None));
    }
    let last_line = capture.last_line_bytes();
    let path = format!(
        "{}/tether-bash-{:016x}.log",
        ws.temp_dir().trim_end_matches('/'),
        rand::random::<u64>()
    );
    let saved = match save(ws, &path, capture.into_full()?).await {
        Ok(()) => path.clone(),
        Err(e) => format!("(not saved: {e})"),
    };
    let text = format!(
        "{}\n\n{}",
        truncation.content,
        trailer(&truncation, last_line, &saved)
    );
    let details = json!({ "truncation": truncation, "fullOutputPath": path });
    Ok((text, Some(details)))
}

/// pi's trailer: which lines are shown and where the full output is.
fn trailer(t: &Truncation, last_line_bytes: usize, full: &str) -> String {
    let end = t.total_lines;
    let start = end + 1 - t.output_lines;
    if t.last_line_partial {
        format!(
            "[Showing last {} of line {end} (line is {}). Full output: {full}]",
            format_size(t.output_bytes),
            format_size(last_line_bytes)
        )
    } else if t.truncated_by == Some(TruncatedBy::Lines) {
        format!(
            "[Showing lines {start}-{end} of {}. Full output: {full}]",
            t.total_lines
        )
    } else {
        format!(
            "[Showing lines {start}-{end} of {} ({} limit). Full output: {full}]",
            t.total_lines,
            format_size(MAX_BYTES)
        )
    }
}

/// Writes the full output to `path` on the workspace's target.
async fn save(ws: &Workspace, path: &str, full: Full) -> Result<(), ToolError> {
    match full {
        Full::Memory(bytes) => ws.target().write_file(path, &bytes).await?,
        Full::Spilled(file, len) => {
            let mut source =
                tokio::fs::File::open(file.path())
                    .await
                    .map_err(|source| ToolError::Io {
                        context: "reading back a long command output",
                        source,
                    })?;
            ws.target()
                .write_from(path, &mut source, len as u64)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_seconds_print_like_pi() {
        assert_eq!(signal_number("KILL"), 9);
        assert_eq!(signal_number("TERM"), 15);
        assert_eq!(signal_number("15"), 15);
        assert_eq!(format_seconds(5.0), "5");
        assert_eq!(format_seconds(0.5), "0.5");
        assert!(timeout_of(Some(0.0)).is_err());
        assert!(timeout_of(Some(f64::NAN)).is_err());
    }
}
