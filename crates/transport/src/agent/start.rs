//! Starting the agent: one exec request carrying the script, then its hello.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use russh::ChannelMsg;
use russh::client::Msg;

use super::AGENT_START_TIMEOUT;
use super::link::Link;
use super::wire::{Decoder, Hello, MARKER};
use crate::Session;
use crate::exec::quote;
use crate::preamble::find;

/// The agent's source.
const SCRIPT: &str = include_str!("agent.pl");
/// Bytes of standard error kept to explain a failed start.
const STDERR_KEPT: usize = 2048;
/// The shell's code for a program it cannot find.
const NOT_FOUND: u32 = 127;

/// Why the agent did not start.
#[derive(Debug)]
pub(crate) enum StartError {
    /// It cannot run on this host (no perl, or perl refused the script): don't try again on
    /// this connection.
    Unsupported(String),
    /// It may start later (a timeout, a channel that could not be opened).
    Failed(String),
}

/// Starts the agent on a new channel of `session` and waits for its hello.
pub(crate) async fn start(session: &Session) -> Result<Link, StartError> {
    let mut channel = session
        .open_channel()
        .await
        .map_err(|e| StartError::Failed(e.to_string()))?;
    let nonce = nonce();
    channel
        .exec(true, command(&nonce))
        .await
        .map_err(|e| StartError::Failed(e.to_string()))?;
    let greeted = tokio::time::timeout(AGENT_START_TIMEOUT, handshake(&mut channel, &nonce));
    let (hello, decoder) = greeted
        .await
        .map_err(|_| StartError::Failed(format!("no hello within {AGENT_START_TIMEOUT:?}")))??;
    let (read, write) = channel.split();
    Ok(Link::new(hello, read, write, decoder))
}

/// The exec request: the script, its comments and indentation left out, run by perl.
fn command(nonce: &str) -> String {
    static COMPACT: OnceLock<String> = OnceLock::new();
    let script = COMPACT.get_or_init(|| {
        SCRIPT
            .lines()
            .map(str::trim_start)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    });
    format!("exec perl -e {} {nonce}", quote(script))
}

/// A marker nobody's login script prints by chance.
fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}

/// Reads past whatever the login shell printed to the marker line, then the hello frame.
async fn handshake(
    channel: &mut russh::Channel<Msg>,
    nonce: &str,
) -> Result<(Hello, Decoder), StartError> {
    let marker = format!("{MARKER}{nonce}\n");
    let (mut before, mut stderr) = (Vec::new(), String::new());
    let mut decoder: Option<Decoder> = None;
    let mut status = None;
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => match decoder.as_mut() {
                Some(decoder) => decoder.extend(&data),
                None => {
                    before.extend_from_slice(&data);
                    if let Some(at) = find(&before, marker.as_bytes()) {
                        let mut fresh = Decoder::default();
                        fresh.extend(&before[at + marker.len()..]);
                        decoder = Some(fresh);
                    } else if before.len() > 2 * STDERR_KEPT {
                        before.drain(..before.len() - STDERR_KEPT);
                    }
                }
            },
            ChannelMsg::ExtendedData { data, .. } if stderr.len() < STDERR_KEPT => {
                stderr.push_str(&String::from_utf8_lossy(&data));
            }
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            _ => {}
        }
        if let Some(decoder) = decoder.as_mut()
            && let Some(frame) = decoder.next()
        {
            return match Hello::parse(&frame.body).filter(|_| frame.kind == b'h') {
                Some(hello) => Ok((hello, std::mem::take(decoder))),
                None => Err(StartError::Unsupported(
                    "the agent's hello is garbled".into(),
                )),
            };
        }
    }
    let said = stderr.trim();
    let why = match status {
        Some(NOT_FOUND) => format!("perl is not installed ({said})"),
        Some(code) => format!("it exited with code {code}: {said}"),
        None => format!("its channel closed: {said}"),
    };
    Err(StartError::Unsupported(why))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_compacted_script_still_compiles() {
        let command = command("n0nce");
        let script = command
            .strip_prefix("exec perl -e ")
            .and_then(|rest| rest.strip_suffix(" n0nce"))
            .unwrap();
        let script = shlex::split(script).unwrap().remove(0);
        assert!(script.len() < SCRIPT.len() * 3 / 4, "{}", script.len());
        let checked = std::process::Command::new("perl")
            .args(["-c", "-e", &script])
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stderr)
        );
        assert_ne!(nonce(), nonce());
    }
}
