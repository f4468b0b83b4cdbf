//! Progress on stderr for waits longer than a moment, when a person is watching.

use std::io::IsTerminal;
use std::time::Duration;

use tether_router::{Progress, WaitGuard};

/// A wait shorter than this shows nothing.
pub(crate) const PROGRESS_DELAY: Duration = Duration::from_millis(300);

/// Prints a wait's message on stderr once it has lasted [`PROGRESS_DELAY`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct StderrProgress {
    enabled: bool,
}

impl StderrProgress {
    /// Shows progress when stderr is a terminal, or always with `--progress`.
    pub fn new(forced: bool) -> StderrProgress {
        StderrProgress {
            enabled: forced || std::io::stderr().is_terminal(),
        }
    }

    /// Whether progress is shown.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

impl Progress for StderrProgress {
    fn begin(&self, message: &str) -> WaitGuard {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return WaitGuard::none();
        };
        if !self.enabled {
            return WaitGuard::none();
        }
        let message = message.to_owned();
        let shown = runtime.spawn(async move {
            tokio::time::sleep(PROGRESS_DELAY).await;
            eprintln!("{message}");
        });
        WaitGuard::new(move || shown.abort())
    }
}
