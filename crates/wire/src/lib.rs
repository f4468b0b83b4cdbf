//! The JSON types of the Vers REST API (`/api/v1`), shared by the simulator (`tether sim`)
//! and the Vers client. No I/O lives here.
//!
//! Field names follow Vers's own OpenAPI description
//! (`vers-api/orchestrator.openapi.yaml`) and the behaviour noted beside it: VM states read
//! lowercase (`"running"`), state changes are written capitalised (`"Paused"`), errors are
//! `{"error": "...", "success": false}`, exec streams are NDJSON [`ExecStreamEvent`]s.
//!
//! ```
//! use tether_wire::{ExecStreamEvent, VmState};
//!
//! let event: ExecStreamEvent =
//!     serde_json::from_str(r#"{"type":"exit","exec_id":"e","cursor":3,"exit_code":0}"#).unwrap();
//! assert_eq!(event, ExecStreamEvent::Exit { exec_id: "e".into(), cursor: 3, exit_code: 0 });
//! assert_eq!(serde_json::to_string(&VmState::Paused).unwrap(), r#""paused""#);
//! ```

mod commit;
mod error;
mod exec;
mod files;
mod vm;

pub use commit::{
    CommitInfo, CommitList, CommitQuery, CommitRequest, CommitResponse, ListCommitsQuery,
};
pub use error::ErrorBody;
pub use exec::{ExecRequest, ExecResponse, ExecStream, ExecStreamEvent};
pub use files::{GetFileQuery, GetFileResponse, PutFileRequest};
pub use vm::{
    BranchQuery, BranchResponse, DeleteVmResponse, FromCommitRequest, NewRootQuery, NewRootRequest,
    NewVmResponse, RequestedState, SshKeyResponse, StateRequest, Vm, VmConfig, VmMetadata, VmState,
};
