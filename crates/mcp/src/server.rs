//! The MCP server: `tools/list` and `tools/call` over stdio. Every call runs as a tracked
//! task with a cancellation token (the client's cancel, or the end of the session), so a
//! client that goes away mid-call leaves no command running.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tether_tools::{Content, ToolOutput, Workspace, args};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::progress::{ProgressHub, Reporter};
use crate::routing::{McpOptions, Routing};
use crate::vm_args::NoArgs;
use crate::{McpError, catalog, swarm_tools, vm_tools};
use tether_router::vers_tools;

/// How long calls still running when the client leaves get to wind down (their commands are
/// cancelled, which kills the process groups).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the server tells clients about itself.
const INSTRUCTIONS: &str = "tether runs bash, read, edit, write, ls, find, grep and background \
processes (bg_*) on the active target: this machine, or a Vers VM chosen with vm_use (vm_local \
switches back). create_vm makes a VM; vm_branch, vm_commit, vm_restore, vm_state, vm_delete and \
vm_copy manage VMs; vm_tag and vm_repo name commits (branch and restore by tag), vm_label and \
vm_list with labels find VMs, vm_exec with detach: true starts a command that vm_attach and vm_logs \
read, vm_disk grows a disk, vm_env sets variables for new VMs; vm_tunnel forwards a VM's port to a local URL (preview a dev server). swarm_start branches a VM into N workers that each run a command or a pi \
agent in the background; swarm_wait gathers them, swarm_send gives agents a further message, \
swarm_keep keeps the best and deletes the rest. \
VM ids are full ids; a unique prefix is accepted as input.";

/// The server's state, shared by all calls.
#[derive(Clone)]
struct TetherMcp {
    routing: Arc<Routing>,
    progress: ProgressHub,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// Serves MCP on stdin/stdout until the client closes the connection. Logs go to stderr.
pub async fn serve_stdio(options: McpOptions) -> Result<(), McpError> {
    let progress = ProgressHub::default();
    let local = Workspace::local()?;
    let server = TetherMcp {
        routing: Arc::new(Routing::new(options, progress.clone(), local)),
        progress,
        tracker: TaskTracker::new(),
        shutdown: CancellationToken::new(),
    };
    let (tracker, shutdown) = (server.tracker.clone(), server.shutdown.clone());
    let routing = server.routing.clone();
    let running =
        server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| McpError::Handshake {
                reason: e.to_string(),
            })?;
    let quit = running.waiting().await;
    shutdown.cancel();
    routing.tunnels().shutdown().await;
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("calls still running {SHUTDOWN_GRACE:?} after the client left");
    }
    match quit {
        Ok(reason) => {
            tracing::debug!("MCP session ended: {reason:?}");
            Ok(())
        }
        Err(e) => Err(McpError::Stopped {
            reason: e.to_string(),
        }),
    }
}

impl ServerHandler for TetherMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tether", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(catalog::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !catalog::names().contains(&name.as_str()) {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {name:?}; the tools are: {}",
                    catalog::names().join(", ")
                ),
                None,
            ));
        }
        let first = (name == "create_vm").then_some("creating VM…");
        let token = context.meta.get_progress_token();
        let heartbeat = self
            .progress
            .heartbeat(context.peer.clone(), token, &name, first);
        let reporter = heartbeat.reporter();
        let cancel = self.shutdown.child_token();
        let (this, client_cancel) = (self.clone(), context.ct.clone());
        let task = self.tracker.spawn(async move {
            let work = this.dispatch(&name, request.arguments, cancel.clone(), &reporter);
            tokio::pin!(work);
            tokio::select! {
                result = &mut work => result,
                () = client_cancel.cancelled() => {
                    cancel.cancel();
                    work.await
                }
            }
        });
        let result = task.await.unwrap_or_else(|e| {
            Err(McpError::Stopped {
                reason: format!("the call failed: {e}"),
            })
        });
        heartbeat.finish().await;
        Ok(render(result).into())
    }
}

/// One call's name and raw arguments.
struct Call {
    name: String,
    arguments: Option<Map<String, Value>>,
}

impl Call {
    /// The arguments as the tool's argument type.
    fn args<T: DeserializeOwned>(&self) -> Result<T, McpError> {
        Ok(args::parse(&self.name, self.arguments.clone())?)
    }
}

impl TetherMcp {
    /// Runs the tool `name` with `arguments`; `reporter` sends what it says about its progress.
    async fn dispatch(
        &self,
        name: &str,
        arguments: Option<Map<String, Value>>,
        cancel: CancellationToken,
        reporter: &Reporter,
    ) -> Result<ToolOutput, McpError> {
        if swarm_tools::is_swarm_tool(name) {
            return swarm_tools::call(&self.routing, name, arguments, cancel, reporter).await;
        }
        let arguments = match name {
            "edit" => arguments.map(args::prepare_edit_arguments),
            _ => arguments,
        };
        let call = Call {
            name: name.to_owned(),
            arguments,
        };
        let r = self.routing.as_ref();
        if vers_tools::is_vers_tool(name) {
            return tokio::select! {
                reply = vm_tools::vers_tool(r, name, call.arguments) => reply,
                () = cancel.cancelled() => Err(McpError::usage(format!("{name} was cancelled"))),
            };
        }
        match name {
            "create_vm" => vm_tools::create_vm(r, call.args()?).await,
            "vm_use" => vm_tools::vm_use(r, call.args()?).await,
            "vm_local" => {
                call.args::<NoArgs>()?;
                Ok(vm_tools::vm_local(r))
            }
            "vm_exec" => vm_tools::vm_exec(r, call.args()?, cancel).await,
            "vm_delete" => vm_tools::vm_delete(r, call.args()?).await,
            "vm_state" => vm_tools::vm_state(r, call.args()?).await,
            "vm_copy" => vm_tools::vm_copy(r, call.args()?).await,
            "vm_tunnel" => vm_tools::vm_tunnel(r, call.args()?).await,
            _ => self.agent_tool(&call, cancel).await,
        }
    }

    /// The agent's own tools, on the active target.
    async fn agent_tool(
        &self,
        call: &Call,
        cancel: CancellationToken,
    ) -> Result<ToolOutput, McpError> {
        let ws = self.routing.workspace().await?;
        let out = match call.name.as_str() {
            "bash" => tether_tools::bash(&ws, call.args()?, Some(cancel)).await,
            "read" => tether_tools::read(&ws, call.args()?).await,
            "edit" => tether_tools::edit(&ws, call.args()?).await.map(with_patch),
            "write" => tether_tools::write(&ws, call.args()?).await,
            "ls" => tether_tools::ls(&ws, call.args()?).await,
            "find" => tether_tools::find(&ws, call.args()?).await,
            "grep" => tether_tools::grep(&ws, call.args()?).await,
            "bg_start" => tether_tools::bg_start(&ws, call.args()?).await,
            "bg_list" => {
                call.args::<args::BgListArgs>()?;
                tether_tools::bg_list(&ws).await
            }
            "bg_logs" => tether_tools::bg_logs(&ws, call.args()?).await,
            "bg_stop" => tether_tools::bg_stop(&ws, call.args()?).await,
            other => return Err(McpError::usage(format!("unknown tool {other:?}"))),
        };
        Ok(out?)
    }
}

/// An edit's result with its unified diff below pi's one-line summary.
fn with_patch(mut out: ToolOutput) -> ToolOutput {
    let patch = out
        .details
        .as_ref()
        .and_then(|d| d.get("patch"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let (Some(patch), Some(Content::Text { text })) = (patch, out.content.first_mut()) {
        text.push_str("\n\n");
        text.push_str(patch.trim_end());
    }
    out
}

/// A tool's outcome as an MCP result: content and details, or an error result the model reads.
fn render(result: Result<ToolOutput, McpError>) -> CallToolResult {
    match result {
        Ok(out) => {
            let content = out.content.into_iter().map(block).collect();
            let mut result = CallToolResult::success(content);
            if let Some(details) = out.details {
                let mut meta = Map::new();
                meta.insert("tether/details".into(), details);
                result.meta = Some(meta.into());
            }
            result
        }
        Err(err) => CallToolResult::error(vec![ContentBlock::text(err.for_model())]),
    }
}

fn block(content: Content) -> ContentBlock {
    match content {
        Content::Text { text } => ContentBlock::text(text),
        Content::Image { data, mime_type } => ContentBlock::image(data, mime_type),
    }
}
