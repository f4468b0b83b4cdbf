//! The JSON types of the Vers REST API (`/api/v1`), shared by the simulator (`tether sim`)
//! and the Vers client. No I/O lives here.
//!
//! Field names follow Vers's own OpenAPI description
//! (`vers-api/orchestrator.openapi.yaml`), the models of Vers's current SDK where they are
//! newer, and the behaviour noted beside them: VM states read lowercase (`"running"`), state
//! changes are written capitalised (`"Paused"`), errors are `{"error": "...", "success":
//! false}`, exec streams are NDJSON [`ExecStreamEvent`]s.
//!
//! ```
//! use tether_wire::{ExecStreamEvent, VmState};
//!
//! let event: ExecStreamEvent =
//!     serde_json::from_str(r#"{"type":"exit","exec_id":"e","cursor":3,"exit_code":0}"#).unwrap();
//! assert_eq!(event, ExecStreamEvent::Exit { exec_id: "e".into(), cursor: 3, exit_code: 0 });
//! assert_eq!(serde_json::to_string(&VmState::Paused).unwrap(), r#""paused""#);
//! ```

mod account;
mod commit;
mod domain;
mod error;
mod exec;
mod files;
mod image;
mod repo;
mod tags;
mod vm;

pub use account::{
    EnvVars, SetEnvVarsRequest, SystemVersion, ValidateKeyResponse, Whoami, WhoamiKey, WhoamiOrg,
    WhoamiUser,
};
pub use commit::{
    CommitEntity, CommitInfo, CommitList, CommitQuery, CommitRequest, CommitResponse,
    ListCommitsQuery, UpdateCommitRequest,
};
pub use domain::{CreateDomainRequest, DeleteDomainResponse, Domain, ListDomainsQuery};
pub use error::ErrorBody;
pub use exec::{
    AttachRequest, ExecLogEntry, ExecLogQuery, ExecLogResponse, ExecRequest, ExecResponse,
    ExecStream, ExecStreamEvent,
};
pub use files::{GetFileQuery, GetFileResponse, PutFileRequest};
pub use image::{BaseImage, ImageList, ImageStatus};
pub use repo::{
    CreateRepositoryRequest, CreateRepositoryResponse, ForkRequest, ForkResponse,
    PublicRepositoryInfo, PublicRepositoryList, RepositoryInfo, RepositoryList, VisibilityRequest,
};
pub use tags::{
    CreateRepoTagRequest, CreateRepoTagResponse, CreateTagRequest, CreateTagResponse, RepoTagInfo,
    RepoTagList, TagInfo, TagList, UpdateTagRequest,
};
pub use vm::{
    BranchQuery, BranchResponse, DeleteVmResponse, FromCommitRequest, LabelsRequest, NewRootQuery,
    NewRootRequest, NewVmResponse, RequestedState, ResizeDiskRequest, SshKeyResponse, StateRequest,
    Vm, VmConfig, VmMetadata, VmState, WaitQuery,
};
