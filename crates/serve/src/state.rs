//! [`State`]: what one `tether serve` process keeps for its pi session — the router (connected
//! on first use), the active VM, each VM's home and working directory, running execs and
//! swarm calls, the swarms (made on first use), the tunnels (`vm/tunnel`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tether_router::{Progress, Router, RouterError, RouterOptions, Tunnels, WaitGuard};
use tether_swarm::{Limits, Swarms};
use tether_target::{ExecOutcome, ExecSpec, Target};
use tokio::sync::{OnceCell, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ServeError;
use crate::protocol::Outgoing;

/// How many cancels of not-yet-started execs (or swarm calls) are remembered.
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
    execs: Mutex<Cancels>,
    swarm_calls: Mutex<Cancels>,
    swarms: OnceCell<Arc<Swarms>>,
    tunnels: Tunnels,
}

/// Running requests that can be cancelled by the client's id for them, and cancels that came
/// before their request started (a client may cancel the moment it has sent the request).
#[derive(Default)]
struct Cancels {
    running: HashMap<String, CancellationToken>,
    early: VecDeque<String>,
}

impl Cancels {
    /// Registers `id` (cancelled already if its cancel came first); `None` if it is taken.
    fn start(&mut self, id: &str) -> Option<CancellationToken> {
        if self.running.contains_key(id) {
            return None;
        }
        let token = CancellationToken::new();
        if let Some(at) = self.early.iter().position(|early| early == id) {
            self.early.remove(at);
            token.cancel();
        }
        self.running.insert(id.to_owned(), token.clone());
        Some(token)
    }

    fn end(&mut self, id: &str) {
        self.running.remove(id);
    }

    /// Cancels `id`; false if it is not running (the cancel is then remembered for a request
    /// of that id that has not started yet).
    fn cancel(&mut self, id: &str) -> bool {
        if let Some(token) = self.running.get(id) {
            token.cancel();
            return true;
        }
        if self.early.len() == EARLY_CANCELS {
            self.early.pop_front();
        }
        self.early.push_back(id.to_owned());
        false
    }

    fn cancel_all(&self) {
        for token in self.running.values() {
            token.cancel();
        }
    }
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
            execs: Mutex::new(Cancels::default()),
            swarm_calls: Mutex::new(Cancels::default()),
            swarms: OnceCell::new(),
            tunnels: Tunnels::default(),
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

    /// The swarms on the router's API (limits from the environment), made on first use.
    pub async fn swarms(&self) -> Result<Arc<Swarms>, ServeError> {
        let swarms = self.swarms.get_or_try_init(|| async {
            let router = self.router().await?;
            Ok::<_, ServeError>(Arc::new(Swarms::new(router, Limits::from_env())))
        });
        Ok(swarms.await?.clone())
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

    /// Forgets what is known about `vm_id` (deleted): its place, its tunnels, and the active VM
    /// if it was.
    pub fn forget(&self, vm_id: &str) -> bool {
        lock(&self.places).remove(vm_id);
        self.tunnels.close_vm(vm_id);
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
        lock(&self.execs)
            .start(exec_id)
            .ok_or_else(|| ServeError::ExecIdInUse {
                exec_id: exec_id.to_owned(),
            })
    }

    /// Unregisters a finished exec.
    pub fn end_exec(&self, exec_id: &str) {
        lock(&self.execs).end(exec_id);
    }

    /// Cancels a running exec; false if there is none with that id (the cancel is then
    /// remembered for an exec of that id that has not started yet).
    pub fn cancel_exec(&self, exec_id: &str) -> bool {
        lock(&self.execs).cancel(exec_id)
    }

    /// Registers a running swarm call (cancelled already if its cancel came first); fails if
    /// the id is taken.
    pub fn start_swarm_call(&self, call_id: &str) -> Result<CancellationToken, ServeError> {
        lock(&self.swarm_calls)
            .start(call_id)
            .ok_or_else(|| ServeError::CallIdInUse {
                call_id: call_id.to_owned(),
            })
    }

    /// Unregisters a finished swarm call.
    pub fn end_swarm_call(&self, call_id: &str) {
        lock(&self.swarm_calls).end(call_id);
    }

    /// Cancels a running swarm call; false if there is none with that id (remembered, as for
    /// execs).
    pub fn cancel_swarm_call(&self, call_id: &str) -> bool {
        lock(&self.swarm_calls).cancel(call_id)
    }

    /// This server's tunnels.
    pub fn tunnels(&self) -> &Tunnels {
        &self.tunnels
    }

    /// Cancels every running exec and swarm call (the client has gone).
    pub fn cancel_all(&self) {
        lock(&self.execs).cancel_all();
        lock(&self.swarm_calls).cancel_all();
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

    #[test]
    fn swarm_calls_have_their_own_ids_and_are_cancelled_with_the_rest() {
        let state = state();
        let exec = state.start_exec("same").unwrap();
        let call = state.start_swarm_call("same").unwrap();
        assert!(matches!(
            state.start_swarm_call("same"),
            Err(ServeError::CallIdInUse { .. })
        ));
        assert!(state.cancel_swarm_call("same"));
        assert!(call.is_cancelled() && !exec.is_cancelled());
        state.end_swarm_call("same");
        assert!(!state.cancel_swarm_call("early"));
        assert!(state.start_swarm_call("early").unwrap().is_cancelled());
        state.cancel_all();
        assert!(exec.is_cancelled());
    }
}
