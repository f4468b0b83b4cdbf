//! [`State`]: what one `tether serve` process keeps for its pi session — the router (connected
//! on first use), the active VM, each VM's home and working directory, running execs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tether_router::{Progress, Router, RouterError, RouterOptions, WaitGuard};
use tether_target::{ExecOutcome, ExecSpec, Target};
use tokio::sync::{OnceCell, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ServeError;
use crate::protocol::Outgoing;

/// How many cancels of not-yet-started execs are remembered.
const EARLY_CANCELS: usize = 64;

/// How long `vm/use` waits for a VM to answer its check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes the router's options; called (again, after a failure) when the router is first needed.
pub type Connect =
    Arc<dyn Fn(Arc<dyn Progress>) -> Result<RouterOptions, RouterError> + Send + Sync>;

/// A VM's home directory and the working directory tools use on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub home: String,
    pub cwd: String,
}

/// Sends notifications to the client.
#[derive(Clone)]
pub(crate) struct Notifier {
    out: mpsc::Sender<Outgoing>,
}

impl Notifier {
    pub fn new(out: mpsc::Sender<Outgoing>) -> Notifier {
        Notifier { out }
    }

    /// Sends a notification, waiting while the writer is behind.
    pub async fn send(&self, method: &'static str, params: Value) {
        // The client has gone when this fails; the request ends on its own.
        let _ = self.out.send(Outgoing::notification(method, params)).await;
    }

    /// The channel itself (for writers that apply backpressure).
    pub fn sender(&self) -> mpsc::Sender<Outgoing> {
        self.out.clone()
    }
}

/// Reports the router's waits ("resuming paused VM …") as `progress` notifications.
struct NotifyProgress(Notifier);

impl Progress for NotifyProgress {
    fn begin(&self, message: &str) -> WaitGuard {
        let notifier = self.0.clone();
        let message = message.to_owned();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                notifier
                    .send("progress", json!({ "message": message }))
                    .await;
            });
        }
        WaitGuard::none()
    }
}

/// Everything one server keeps.
pub(crate) struct State {
    connect: Connect,
    router: OnceCell<Arc<Router>>,
    pub notifier: Notifier,
    active: Mutex<Option<String>>,
    places: Mutex<HashMap<String, Place>>,
    execs: Mutex<Execs>,
}

/// Running execs, and cancels that came before their exec started (a client may cancel the
/// moment it has sent the request).
#[derive(Default)]
struct Execs {
    running: HashMap<String, CancellationToken>,
    early: VecDeque<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl State {
    pub fn new(connect: Connect, notifier: Notifier) -> State {
        State {
            connect,
            router: OnceCell::new(),
            notifier,
            active: Mutex::new(None),
            places: Mutex::new(HashMap::new()),
            execs: Mutex::new(Execs::default()),
        }
    }

    /// The router, connected on first use (which may start the local simulator).
    pub async fn router(&self) -> Result<Arc<Router>, ServeError> {
        let router = self.router.get_or_try_init(|| async {
            let progress: Arc<dyn Progress> = Arc::new(NotifyProgress(self.notifier.clone()));
            let options = (self.connect)(progress)?;
            Ok::<_, ServeError>(Arc::new(Router::connect(options).await?))
        });
        Ok(router.await?.clone())
    }

    /// The active VM, if any.
    pub fn active(&self) -> Option<String> {
        lock(&self.active).clone()
    }

    /// Makes `vm_id` the active VM (or none); returns the one active before.
    pub fn set_active(&self, vm_id: Option<String>) -> Option<String> {
        std::mem::replace(&mut *lock(&self.active), vm_id)
    }

    /// The VM `query` names (a full id or a unique prefix), or the active VM for `None`.
    pub async fn vm(&self, query: Option<&str>) -> Result<String, ServeError> {
        match query {
            Some(query) => {
                let router = self.router().await?;
                let found = router.resolve_vm(query).await;
                found.map_err(|err| ServeError::about_vm(query, err))
            }
            None => self.active().ok_or(ServeError::NoActiveVm),
        }
    }

    /// `vm_id` as a target (resumed first if it was paused).
    pub async fn target(&self, vm_id: &str) -> Result<Arc<dyn Target>, ServeError> {
        let router = self.router().await?;
        let target = router.target(vm_id).await;
        target.map_err(|err| ServeError::about_vm(vm_id, err))
    }

    /// `vm_id`'s home and working directory, asking the VM for its home the first time.
    pub async fn place(&self, vm_id: &str) -> Result<Place, ServeError> {
        if let Some(place) = lock(&self.places).get(vm_id) {
            return Ok(place.clone());
        }
        let home = self.ask_home(vm_id).await?;
        let place = Place {
            cwd: home.clone(),
            home,
        };
        let mut places = lock(&self.places);
        Ok(places.entry(vm_id.to_owned()).or_insert(place).clone())
    }

    /// Asks `vm_id` for its home (proof that it answers); keeps a working directory set before.
    pub async fn check(&self, vm_id: &str) -> Result<Place, ServeError> {
        let home = self.ask_home(vm_id).await?;
        let mut places = lock(&self.places);
        let place = places.entry(vm_id.to_owned()).or_insert_with(|| Place {
            home: home.clone(),
            cwd: home.clone(),
        });
        place.home = home;
        Ok(place.clone())
    }

    /// Sets `vm_id`'s working directory.
    pub fn set_cwd(&self, vm_id: &str, place: Place) {
        lock(&self.places).insert(vm_id.to_owned(), place);
    }

    /// Forgets what is known about `vm_id` (deleted): its place, and the active VM if it was.
    pub fn forget(&self, vm_id: &str) -> bool {
        lock(&self.places).remove(vm_id);
        let mut active = lock(&self.active);
        let was_active = active.as_deref() == Some(vm_id);
        if was_active {
            *active = None;
        }
        was_active
    }

    /// Runs `printf %s "$HOME"` on the VM: its home, and proof that it answers.
    async fn ask_home(&self, vm_id: &str) -> Result<String, ServeError> {
        let target = self.target(vm_id).await?;
        let spec = ExecSpec {
            timeout: Some(CHECK_TIMEOUT),
            ..ExecSpec::shell("printf %s \"${HOME:-/}\"")
        };
        let mut out = Vec::new();
        let outcome = target
            .exec(spec, &mut |_, bytes| out.extend_from_slice(bytes), None)
            .await?;
        let home = String::from_utf8_lossy(&out).trim().to_owned();
        match outcome {
            ExecOutcome::Exited(0) if home.starts_with('/') => Ok(home),
            outcome => Err(ServeError::VmUnresponsive {
                vm_id: vm_id.to_owned(),
                detail: format!("the check ended with {outcome:?} and printed {home:?}"),
            }),
        }
    }

    /// Registers a running exec (cancelled already if its cancel came first); fails if the id
    /// is taken.
    pub fn start_exec(&self, exec_id: &str) -> Result<CancellationToken, ServeError> {
        let mut execs = lock(&self.execs);
        if execs.running.contains_key(exec_id) {
            return Err(ServeError::ExecIdInUse {
                exec_id: exec_id.to_owned(),
            });
        }
        let token = CancellationToken::new();
        if let Some(at) = execs.early.iter().position(|id| id == exec_id) {
            execs.early.remove(at);
            token.cancel();
        }
        execs.running.insert(exec_id.to_owned(), token.clone());
        Ok(token)
    }

    /// Unregisters a finished exec.
    pub fn end_exec(&self, exec_id: &str) {
        lock(&self.execs).running.remove(exec_id);
    }

    /// Cancels a running exec; false if there is none with that id (the cancel is then
    /// remembered for an exec of that id that has not started yet).
    pub fn cancel_exec(&self, exec_id: &str) -> bool {
        let mut execs = lock(&self.execs);
        if let Some(token) = execs.running.get(exec_id) {
            token.cancel();
            return true;
        }
        if execs.early.len() == EARLY_CANCELS {
            execs.early.pop_front();
        }
        execs.early.push_back(exec_id.to_owned());
        false
    }

    /// Cancels every running exec (the client has gone).
    pub fn cancel_all(&self) {
        for token in lock(&self.execs).running.values() {
            token.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[allow(clippy::result_large_err)] // the shape of `Connect`
    fn state() -> State {
        let (out, _) = mpsc::channel(1);
        let connect: Connect = Arc::new(|_| Err(RouterError::NoStateDir));
        State::new(connect, Notifier::new(out))
    }

    #[test]
    fn a_cancel_that_comes_before_its_exec_still_cancels_it() {
        let state = state();
        assert!(!state.cancel_exec("early"));
        assert!(state.start_exec("early").unwrap().is_cancelled());
        state.end_exec("early");
        assert!(
            !state.start_exec("early").unwrap().is_cancelled(),
            "remembered once"
        );
        let running = state.start_exec("late").unwrap();
        assert!(matches!(
            state.start_exec("late"),
            Err(ServeError::ExecIdInUse { .. })
        ));
        assert!(state.cancel_exec("late"));
        assert!(running.is_cancelled());
    }
}
