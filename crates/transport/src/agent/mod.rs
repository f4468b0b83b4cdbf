//! The agent: a small Perl program tether starts once per connection, on one long-lived
//! channel, that runs many commands and file operations at once for it.
//!
//! Without it, every command costs a channel, an exec request and two shells in the VM (the
//! login shell running tether's wrapper, then `bash -c`). Through it, a command is one frame
//! each way and one process started (`bash -c`, forked by the agent in its own session); a
//! file is read, written or stat'ed in one round trip with no process at all.
//!
//! It needs nothing installed: the script travels in the exec request itself and runs on
//! `perl`, which every Debian and Ubuntu image has (`perl-base` is Essential). Where it cannot
//! start (no perl, a login shell that fails) or is turned off ([`crate::TransportConfig`]'s
//! `agent`, `TETHER_NO_AGENT=1`), commands run on channels of their own as before. Starting it
//! never delays a command: until its hello arrives, commands take that path. If it dies, the
//! requests it was serving fail with [`TransportError::AgentLost`] and the next call starts it
//! again (after a pause that doubles with every loss).
//!
//! The wire format is in [`wire`]; the script is `agent.pl` beside this file.

mod exec;
mod files;
mod link;
mod start;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub(crate) use exec::run;
pub use files::{Agent, FileRun, status};
pub(crate) use link::Link;

use crate::{Session, TransportError};

/// How long the agent may take to say hello.
pub const AGENT_START_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause before starting a lost agent again.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Why a request on the agent did not give a result.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The agent was gone before the request was sent: nothing ran.
    NotStarted,
    /// The agent went away while the request ran (what it said last).
    Lost(String),
    /// The caller's input or output failed.
    Local(&'static str, std::io::Error),
    /// The command could not be started there (fork failed).
    CouldNotStart(String),
    /// A stopped command did not end in time.
    KillTimeout(Duration),
}

/// How far a connection's agent is.
#[derive(Clone)]
enum State {
    /// Not running; may start now, or from `retry_at`.
    Idle {
        retry_at: Option<Instant>,
        losses: u32,
    },
    Starting,
    Ready {
        link: Arc<Link>,
        losses: u32,
    },
    /// It cannot run there; the channel path serves this connection.
    Unsupported,
    /// Turned off.
    Off,
}

/// A session's agent, started on first need.
pub(crate) struct Slot {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl Slot {
    /// A slot whose agent starts on first need, or never when `enabled` is false.
    pub(crate) fn new(enabled: bool) -> Slot {
        let state = if enabled {
            State::Idle {
                retry_at: None,
                losses: 0,
            }
        } else {
            State::Off
        };
        Slot {
            state: Mutex::new(state),
            changed: watch::Sender::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn set(&self, state: State) {
        *self.state() = state;
        self.changed.send_modify(|n| *n += 1);
    }
}

impl Session {
    /// The agent's link if it is up. If it is not, starts it in the background (when it may
    /// start now) and returns `None`: the caller takes the channel path meanwhile.
    pub(crate) fn agent_link(self: &Arc<Self>) -> Option<Arc<Link>> {
        let mut state = self.agent.state();
        let (losses, delay) = match &*state {
            State::Ready { link, .. } if link.is_alive() => return Some(link.clone()),
            State::Ready { link, losses } => {
                tracing::info!(host = %self.host(), why = %link.why(), "the agent stopped; starting it again");
                (losses + 1, pause(losses + 1))
            }
            State::Idle { retry_at, losses } => {
                if retry_at.is_some_and(|at| Instant::now() < at) {
                    return None;
                }
                (*losses, Duration::ZERO)
            }
            State::Starting | State::Unsupported | State::Off => return None,
        };
        *state = State::Starting;
        drop(state);
        self.agent.changed.send_modify(|n| *n += 1);
        let session = self.clone();
        tokio::spawn(async move {
            // A lost agent is started again only after a pause.
            tokio::time::sleep(delay).await;
            let started = start::start(&session).await;
            session.settle_agent(started, losses);
        });
        None
    }

    fn settle_agent(&self, started: Result<Link, start::StartError>, losses: u32) {
        let state = match started {
            Ok(link) => {
                tracing::debug!(host = %self.host(), pid = link.hello().pid, shell = %link.hello().shell, "agent ready");
                State::Ready {
                    link: Arc::new(link),
                    losses,
                }
            }
            Err(start::StartError::Unsupported(why)) => {
                tracing::info!(host = %self.host(), %why, "the agent cannot run here; commands use a channel each");
                State::Unsupported
            }
            Err(start::StartError::Failed(why)) => {
                tracing::debug!(host = %self.host(), %why, "the agent did not start; trying later");
                State::Idle {
                    retry_at: Some(Instant::now() + pause(losses + 1)),
                    losses: losses + 1,
                }
            }
        };
        self.agent.set(state);
    }

    /// Waits up to `within` for the agent to be up (starting it if needed); `false` when it is
    /// turned off, cannot run there, or did not come up in time. Commands work either way;
    /// this is for warming a connection up before its first command is timed.
    pub async fn agent_ready(self: &Arc<Self>, within: Duration) -> bool {
        let mut changed = self.agent.changed.subscribe();
        let deadline = Instant::now() + within;
        loop {
            if self.agent_link().is_some() {
                return true;
            }
            if matches!(
                &*self.agent.state(),
                State::Unsupported | State::Off | State::Idle { .. }
            ) {
                return false;
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
        }
    }

    /// The error for a request that failed on the agent.
    pub(crate) fn agent_error(&self, failure: Failure) -> TransportError {
        let host = self.host().to_owned();
        match failure {
            Failure::NotStarted => TransportError::AgentLost {
                host,
                started: false,
                why: "it was gone".into(),
            },
            Failure::Lost(_) if self.is_closed() => TransportError::Disconnected {
                host,
                started: true,
            },
            Failure::Lost(why) => TransportError::AgentLost {
                host,
                started: true,
                why,
            },
            Failure::Local(what, source) => TransportError::LocalIo { what, source },
            Failure::CouldNotStart(reason) => TransportError::NotStarted { host, reason },
            Failure::KillTimeout(after) => TransportError::Timeout {
                what: "killing a command",
                host,
                after,
            },
        }
    }
}

/// The pause before starting the agent again after `losses` losses: 0 s, 1 s, 2 s, … 60 s.
fn pause(losses: u32) -> Duration {
    match losses {
        0 | 1 => Duration::ZERO,
        n => Duration::from_secs(1 << (n - 2).min(6)).min(MAX_RETRY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_pause_longer_after_every_loss() {
        let pauses: Vec<u64> = (0..10).map(|n| pause(n).as_secs()).collect();
        assert_eq!(pauses, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
