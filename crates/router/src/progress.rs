//! Reporting waits: a front end decides whether and how to show "resuming paused VM…".

/// Told when a wait that may take a while starts; the returned guard ends it when dropped.
///
/// A terminal front end shows the message only if the wait lasts longer than a moment; a
/// machine front end may ignore it. [`Silent`] shows nothing.
pub trait Progress: Send + Sync {
    /// A wait described by `message` (e.g. `resuming paused VM <id>…`) has started.
    fn begin(&self, message: &str) -> WaitGuard;
}

/// Ends a wait when dropped.
#[must_use = "the wait ends when the guard is dropped"]
pub struct WaitGuard {
    on_end: Option<Box<dyn FnOnce() + Send>>,
}

impl WaitGuard {
    /// A guard that runs `on_end` when dropped.
    pub fn new(on_end: impl FnOnce() + Send + 'static) -> WaitGuard {
        WaitGuard {
            on_end: Some(Box::new(on_end)),
        }
    }

    /// A guard that does nothing.
    pub fn none() -> WaitGuard {
        WaitGuard { on_end: None }
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        if let Some(on_end) = self.on_end.take() {
            on_end();
        }
    }
}

/// Shows nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _message: &str) -> WaitGuard {
        WaitGuard::none()
    }
}
