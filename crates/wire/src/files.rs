//! Whole-file access: `GET`/`PUT /vm/{id}/files` (in Vers's routes, not its published spec).

use serde::{Deserialize, Serialize};

/// `PUT /vm/{id}/files` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutFileRequest {
    /// Absolute path inside the VM.
    pub path: String,
    /// The whole content, base64 (standard alphabet, padded).
    pub content_b64: String,
    /// Permission bits (default `0o644`, i.e. 420).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Create missing parent directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_dirs: Option<bool>,
}

/// `GET /vm/{id}/files` query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetFileQuery {
    /// Absolute path inside the VM.
    pub path: String,
}

/// `GET /vm/{id}/files` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetFileResponse {
    /// The whole content, base64.
    pub content_b64: String,
}
