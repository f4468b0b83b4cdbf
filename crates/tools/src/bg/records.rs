//! Background processes as the target reports them, and how the model reads them.

use serde::Serialize;
use serde_json::json;

use super::script::Window;
use crate::ToolOutput;

/// How a background process is doing.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum BgState {
    /// Its process group is alive.
    Running,
    /// It exited with this code.
    Exited {
        /// The exit code.
        code: i32,
    },
    /// `bg_stop` killed its group with this signal (`TERM` or `KILL`).
    Killed {
        /// The signal, without `SIG`.
        signal: String,
    },
    /// Its timeout ran out, so its group was ended (SIGTERM, then SIGKILL).
    #[serde(rename = "timedout")]
    TimedOut {
        /// The timeout, in seconds.
        seconds: f64,
    },
    /// It is gone without a recorded ending (the machine restarted, or it was killed outside
    /// tether together with its runner).
    Lost,
}

impl BgState {
    /// Parses `running`, `exited N`, `killed SIG`; anything else is [`BgState::Lost`].
    pub fn parse(text: &str) -> BgState {
        match text.trim().split_once(' ') {
            Some(("exited", code)) => code
                .parse()
                .map_or(BgState::Lost, |code| BgState::Exited { code }),
            Some(("killed", signal)) => BgState::Killed {
                signal: signal.to_owned(),
            },
            Some(("timedout", seconds)) => seconds
                .parse()
                .map_or(BgState::Lost, |seconds| BgState::TimedOut { seconds }),
            _ if text.trim() == "running" => BgState::Running,
            _ => BgState::Lost,
        }
    }

    /// `running`, `exited(2)`, `killed(TERM)`, `lost`.
    pub fn short(&self) -> String {
        match self {
            BgState::Running => "running".into(),
            BgState::Exited { code } => format!("exited({code})"),
            BgState::Killed { signal } => format!("killed({signal})"),
            BgState::TimedOut { seconds } => format!("timed-out({seconds}s)"),
            BgState::Lost => "lost".into(),
        }
    }

    /// A phrase for sentences: `exited with code 2`, `killed by SIGTERM`.
    pub fn describe(&self) -> String {
        match self {
            BgState::Running => "still running".into(),
            BgState::Exited { code } => format!("exited with code {code}"),
            BgState::Killed { signal } => format!("killed by SIG{signal}"),
            BgState::TimedOut { seconds } => {
                format!("stopped after its {seconds}s timeout ran out")
            }
            BgState::Lost => "gone without a recorded exit (the machine may have restarted)".into(),
        }
    }
}

/// One background process.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BgProcess {
    /// Its id (`bg-…`).
    pub id: String,
    /// How it is doing.
    #[serde(flatten)]
    pub state: BgState,
    /// When it started (UTC, RFC 3339).
    pub started: String,
    /// Bytes of output so far.
    pub output_bytes: u64,
    /// The name it was given, if any.
    pub name: Option<String>,
    /// Where it runs.
    pub cwd: String,
    /// The command.
    pub command: String,
}

impl BgProcess {
    /// `bg-… running since … (name) in /dir: command`, the command's first line.
    pub fn line(&self) -> String {
        let name = self
            .name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let command = self.command.lines().next().unwrap_or_default();
        let more = if self.command.contains('\n') {
            " …"
        } else {
            ""
        };
        format!(
            "{} {} since {}{name} in {}, {} bytes of output: {command}{more}",
            self.id,
            self.state.short(),
            self.started,
            self.cwd,
            self.output_bytes
        )
    }
}

/// Fields per process in the list snippet's output.
const FIELDS: usize = 7;

/// Parses the list snippet's NUL-terminated records.
pub(crate) fn parse_list(output: &[u8]) -> Option<Vec<BgProcess>> {
    let text = String::from_utf8_lossy(output);
    let mut fields: Vec<&str> = text.split('\0').collect();
    if fields.pop() != Some("") || !fields.len().is_multiple_of(FIELDS) {
        return None;
    }
    fields
        .chunks(FIELDS)
        .map(|f| {
            Some(BgProcess {
                id: f[0].to_owned(),
                state: BgState::parse(f[1]),
                started: f[2].trim().to_owned(),
                output_bytes: f[3].trim().parse().ok()?,
                name: (!f[4].is_empty()).then(|| f[4].to_owned()),
                cwd: f[5].to_owned(),
                command: f[6].to_owned(),
            })
        })
        .collect()
}

/// A part of a background process's output, and how the process is doing.
#[derive(Clone, Debug, PartialEq)]
pub struct Logs {
    /// How the process is doing.
    pub state: BgState,
    /// The whole output's size in bytes.
    pub size: u64,
    /// Where `bytes` start in the output.
    pub start: u64,
    /// The part asked for (cut before a split UTF-8 character when more follows).
    pub bytes: Vec<u8>,
}

/// Parses the logs snippet's output: state, NUL, size, NUL, bytes.
pub(crate) fn parse_logs(output: &[u8], window: Window) -> Option<Logs> {
    let mut parts = output.splitn(3, |b| *b == 0);
    let state = BgState::parse(&String::from_utf8_lossy(parts.next()?));
    let size: u64 = String::from_utf8_lossy(parts.next()?).trim().parse().ok()?;
    let mut bytes = parts.next().unwrap_or_default().to_vec();
    let start = match window {
        Window::From(offset) => offset.min(size),
        Window::Tail(_) => size.saturating_sub(bytes.len() as u64),
    };
    if start + (bytes.len() as u64) < size {
        bytes.truncate(complete_utf8_len(&bytes));
    }
    Some(Logs {
        state,
        size,
        start,
        bytes,
    })
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 character.
fn complete_utf8_len(bytes: &[u8]) -> usize {
    let tail_start = bytes.len().saturating_sub(3);
    for i in (tail_start..bytes.len()).rev() {
        let b = bytes[i];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let width = match b {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        return if i + width <= bytes.len() {
            bytes.len()
        } else {
            i
        };
    }
    bytes.len()
}

impl Logs {
    /// The output, then where it came from and how to go on.
    pub fn into_output(self, id: &str) -> ToolOutput {
        let text = self.page(id, &self.state.short(), "bg_logs");
        let details = json!({
            "id": id, "state": self.state, "offset": self.start, "nextOffset": self.end(), "size": self.size,
        });
        ToolOutput::text(text).with_details(details)
    }

    /// Where the bytes end in the output (the offset that continues).
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// The output, then a trailer: `[<who> is <state>. Output bytes a-b of n; <how to go on
    /// with tool>.]`.
    pub fn page(&self, who: &str, state: &str, tool: &str) -> String {
        let end = self.end();
        let next = if end < self.size {
            format!("call {tool} with offset={end} to continue")
        } else if self.state == BgState::Running {
            format!("call {tool} with offset={end} later for new output")
        } else {
            "that is all of it".to_owned()
        };
        let body = match (self.bytes.is_empty(), self.size) {
            (true, 0) => "(no output yet)".into(),
            (true, _) => "(no new output)".into(),
            (false, _) => String::from_utf8_lossy(&self.bytes),
        };
        format!(
            "{body}\n\n[{who} is {state}. Output bytes {}-{end} of {}; {next}.]",
            self.start, self.size
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn states_parse() {
        assert_eq!(BgState::parse("running\n"), BgState::Running);
        assert_eq!(BgState::parse("exited 3"), BgState::Exited { code: 3 });
        assert_eq!(
            BgState::parse("killed TERM"),
            BgState::Killed {
                signal: "TERM".into()
            }
        );
        assert_eq!(BgState::parse("lost"), BgState::Lost);
        assert_eq!(
            BgState::parse("timedout 2.500\n"),
            BgState::TimedOut { seconds: 2.5 }
        );
        assert_eq!(BgState::parse("timedout soon"), BgState::Lost);
    }

    #[test]
    fn list_records_parse_with_odd_commands() {
        let out =
            b"bg-1\x00running\x002026-01-01T00:00:00Z\x0012\x00web\x00/srv\x00echo a\necho b\x00";
        let list = parse_list(out).unwrap();
        assert_eq!(list[0].command, "echo a\necho b");
        assert_eq!(list[0].name.as_deref(), Some("web"));
        assert_eq!(list[0].output_bytes, 12);
        assert!(parse_list(b"bg-1\0running\0").is_none());
        assert_eq!(parse_list(b"").unwrap(), vec![]);
    }

    #[test]
    fn a_cut_inside_a_character_is_moved_before_it() {
        let text = "aé".as_bytes();
        assert_eq!(complete_utf8_len(&text[..2]), 1);
        assert_eq!(complete_utf8_len(text), 3);
        let logs = parse_logs(b"running\x003\x00a\xC3", Window::From(0)).unwrap();
        assert_eq!(logs.bytes, b"a");
    }
}
