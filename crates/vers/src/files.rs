//! Whole-file access: `GET`/`PUT /vm/{id}/files` (base64 in JSON, so whole files only; use
//! SFTP through the transport for streaming or very large files).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::Method;
use tether_wire::{GetFileQuery, GetFileResponse, PutFileRequest};

use crate::client::{Call, TRANSFER_TIMEOUT};
use crate::reply::Subject;
use crate::{VersClient, VersError};

/// How a file is written by [`VersClient::put_file`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Permission bits (the API's default is `0o644`).
    pub mode: Option<u32>,
    /// Create missing parent directories.
    pub create_dirs: bool,
}

impl VersClient {
    /// `GET /vm/{id}/files?path=`: the whole content of `path` (absolute, inside the VM).
    pub async fn get_file(&self, vm_id: &str, path: &str) -> Result<Vec<u8>, VersError> {
        let query = GetFileQuery {
            path: path.to_owned(),
        };
        let call = files_call(Method::GET, vm_id, path).query(&query);
        let reply: GetFileResponse = self.json(call.clone()).await?;
        B64.decode(reply.content_b64)
            .map_err(|e| call.bad_reply(format!("content_b64 is not base64: {e}")))
    }

    /// `PUT /vm/{id}/files`: replaces `path` (absolute, inside the VM) with `content`.
    pub async fn put_file(
        &self,
        vm_id: &str,
        path: &str,
        content: &[u8],
        options: PutOptions,
    ) -> Result<(), VersError> {
        let body = PutFileRequest {
            path: path.to_owned(),
            content_b64: B64.encode(content),
            mode: options.mode,
            create_dirs: options.create_dirs.then_some(true),
        };
        let call = files_call(Method::PUT, vm_id, path).body(&body)?;
        self.value(call).await.map(drop)
    }
}

fn files_call(method: Method, vm_id: &str, path: &str) -> Call {
    let subject = Subject::File {
        vm_id: vm_id.to_owned(),
        file: path.to_owned(),
    };
    Call::new(method, &["vm", vm_id, "files"], subject).timeout(Some(TRANSFER_TIMEOUT))
}
