//! The methods, by resource: `backend/…` and `vm/…` (lifecycle, the active VM), `exec`
//! (streamed commands), `fs/…` (files for pi's read/edit/write/ls/find/grep), `vm/copy`, `vm/tunnel`,
//! `swarm/…` (the swarm tools), `bg/call` (background processes), `vers/call` (the VM tools
//! over the Vers API: tags, repositories, labels, logs, attach, disks, variables).

mod background;
mod copy;
mod exec;
mod fs;
mod paths;
mod swarm;
mod tunnel;
mod vers;
mod vm;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ServeError;
use crate::state::State;

/// Runs `method` with `params`.
pub(crate) async fn call(state: &State, method: &str, params: Value) -> Result<Value, ServeError> {
    match method {
        "backend/info" => reply(vm::backend(state).await),
        "vm/list" => reply(vm::list(state).await),
        "vm/create" => reply(vm::create(state, parse(method, params)?).await),
        "vm/use" => reply(vm::use_vm(state, parse(method, params)?).await),
        "vm/local" => reply(vm::local(state)),
        "vm/active" => reply(vm::active(state).await),
        "vm/branch" => reply(vm::branch(state, parse(method, params)?).await),
        "vm/commit" => reply(vm::commit(state, parse(method, params)?).await),
        "vm/restore" => reply(vm::restore(state, parse(method, params)?).await),
        "vm/delete" => reply(vm::delete(state, parse(method, params)?).await),
        "vm/state" => reply(vm::set_state(state, parse(method, params)?).await),
        "vm/copy" => reply(copy::copy(state, parse(method, params)?).await),
        "vm/tunnel" => reply(tunnel::tunnel(state, parse(method, params)?).await),
        "exec" => reply(exec::exec(state, parse(method, params)?).await),
        "exec/cancel" => reply(exec::cancel(state, parse(method, params)?)),
        "fs/readFile" => reply(fs::read_file(state, parse(method, params)?).await),
        "fs/writeFile" => reply(fs::write_file(state, parse(method, params)?).await),
        "fs/stat" => reply(fs::stat(state, parse(method, params)?).await),
        "fs/mkdir" => reply(fs::mkdir(state, parse(method, params)?).await),
        "fs/readDir" => reply(fs::read_dir(state, parse(method, params)?).await),
        "fs/imageType" => reply(fs::image_type(state, parse(method, params)?).await),
        "fs/glob" => reply(fs::glob(state, parse(method, params)?).await),
        "fs/grep" => reply(fs::grep(state, parse(method, params)?).await),
        "vers/call" => reply(vers::call(state, parse(method, params)?).await),
        "bg/call" => reply(background::call(state, parse(method, params)?).await),
        "swarm/call" => reply(swarm::call(state, parse(method, params)?).await),
        "swarm/cancel" => reply(swarm::cancel(state, parse(method, params)?)),
        "swarm/status" => reply(swarm::status(state, parse(method, params)?).await),
        _ => Err(ServeError::UnknownMethod {
            method: method.to_owned(),
        }),
    }
}

/// The params of `method` as `T` (absent params are `{}`).
fn parse<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, ServeError> {
    let params = if params.is_null() {
        Value::Object(Default::default())
    } else {
        params
    };
    serde_json::from_value(params).map_err(|e| ServeError::InvalidParams {
        method: method.to_owned(),
        reason: e.to_string(),
    })
}

/// A method's result as JSON.
fn reply<T: Serialize>(result: Result<T, ServeError>) -> Result<Value, ServeError> {
    let value = result?;
    serde_json::to_value(value).map_err(|source| ServeError::Encode { source })
}
