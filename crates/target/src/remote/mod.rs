//! A remote host as a target: a Vers VM (SSH inside TLS) or a plain SSH host, reached through
//! the transport's [`Pool`]. Commands run on the connection's agent (or pooled channels until
//! it is up); file operations run on the agent too, else as small shell snippets
//! ([`crate::script`]) on the same connection ([`files`]).

mod files;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use russh::keys::PrivateKey;
use tether_transport::{Endpoint, ExecOutcome, ExecSpec, Output, Pool};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::script::{self, checked};
use crate::search::{self, GlobPlan};
use crate::target::read_within;
use crate::{
    DirEntry, FileKind, GrepMatch, GrepQuery, META_TIMEOUT, Metadata, SEARCH_TIMEOUT, Sink, Source,
    Target, TargetError,
};

/// The error an access provider gives; its message should say what to do.
pub type AccessError = Box<dyn std::error::Error + Send + Sync>;

/// Hands a [`RemoteTarget`] the endpoint and key to use, when it needs them.
///
/// Called before every operation, so a provider can fetch a VM's key lazily (once, then keep
/// it), resume a paused VM or wait for a booting one. Keep it cheap once warm.
#[async_trait]
pub trait RemoteAccess: Send + Sync {
    /// The target as users know it, for messages (e.g. `vm 4c1e…`).
    fn describe(&self) -> String;

    /// The endpoint and key to connect with now.
    async fn access(&self) -> Result<(Endpoint, Arc<PrivateKey>), AccessError>;
}

/// A fixed endpoint and key: a plain SSH host, or a VM whose key is already known.
pub struct StaticAccess {
    endpoint: Endpoint,
    key: Arc<PrivateKey>,
}

impl StaticAccess {
    /// Always `endpoint` with `key`.
    pub fn new(endpoint: Endpoint, key: Arc<PrivateKey>) -> StaticAccess {
        StaticAccess { endpoint, key }
    }
}

#[async_trait]
impl RemoteAccess for StaticAccess {
    fn describe(&self) -> String {
        let Endpoint {
            host,
            dial,
            tls,
            user,
        } = &self.endpoint;
        if *tls {
            format!("vm {host}")
        } else {
            format!("ssh {user}@{dial}")
        }
    }

    async fn access(&self) -> Result<(Endpoint, Arc<PrivateKey>), AccessError> {
        Ok((self.endpoint.clone(), self.key.clone()))
    }
}

/// A Vers VM or SSH host. Needs `bash` or `sh`, coreutils, `find`, `grep` and `tar` there
/// (GNU `find` for `-printf`).
pub struct RemoteTarget {
    pool: Arc<Pool>,
    access: Arc<dyn RemoteAccess>,
}

impl RemoteTarget {
    /// A target reached through `pool` with what `access` provides.
    pub fn new(pool: Arc<Pool>, access: Arc<dyn RemoteAccess>) -> RemoteTarget {
        RemoteTarget { pool, access }
    }

    async fn endpoint(&self) -> Result<(Endpoint, Arc<PrivateKey>), TargetError> {
        self.access
            .access()
            .await
            .map_err(|source| TargetError::Access {
                target: self.access.describe(),
                source,
            })
    }
}

#[async_trait]
impl Target for RemoteTarget {
    fn describe(&self) -> String {
        self.access.describe()
    }

    async fn exec_io(
        &self,
        spec: ExecSpec,
        stdin: Option<Source<'_>>,
        output: &mut Output<'_>,
        cancel: Option<CancellationToken>,
    ) -> Result<ExecOutcome, TargetError> {
        let (spec, cwd) = script::fold_cwd(spec)?;
        let (endpoint, key) = self.endpoint().await?;
        let run = self
            .pool
            .exec_io(&endpoint, &key, spec, stdin, output, cancel)
            .await?;
        script::confirm_cwd(self, cwd, run.outcome).await
    }

    async fn read_to(&self, path: &str, sink: Sink<'_>) -> Result<u64, TargetError> {
        self.read_remote(checked(path)?, sink).await
    }

    async fn write_from(
        &self,
        path: &str,
        source: Source<'_>,
        len: u64,
    ) -> Result<(), TargetError> {
        self.write_remote(checked(path)?, source, len, false).await
    }

    async fn stat(&self, path: &str) -> Result<Metadata, TargetError> {
        self.stat_remote(checked(path)?).await
    }

    async fn mkdir_all(&self, path: &str) -> Result<(), TargetError> {
        self.mkdir_remote(checked(path)?).await
    }

    async fn read_file_within(
        &self,
        path: &str,
        max: u64,
    ) -> Result<(Metadata, Option<Vec<u8>>), TargetError> {
        match self.read_within_remote(checked(path)?, max).await? {
            Some(read) => Ok(read),
            None => read_within(self, path, max).await,
        }
    }

    async fn write_file_creating_dirs(&self, path: &str, bytes: &[u8]) -> Result<(), TargetError> {
        let mut source = bytes;
        self.write_remote(checked(path)?, &mut source, bytes.len() as u64, true)
            .await
    }

    async fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, TargetError> {
        let output = script::read_dir(checked(path)?, META_TIMEOUT)
            .output(self)
            .await?;
        let mut entries = search::parse_find(&output);
        entries.sort();
        Ok(entries)
    }

    async fn glob(&self, dir: &str, pattern: &str) -> Result<Vec<DirEntry>, TargetError> {
        let plan = GlobPlan::new(pattern)?;
        let script = script::find(checked(dir)?, &plan.base, plan.max_depth, SEARCH_TIMEOUT);
        Ok(plan.select(search::parse_find(&script.output(self).await?)))
    }

    async fn grep(&self, dir: &str, query: &GrepQuery) -> Result<Vec<GrepMatch>, TargetError> {
        search::grep(self, checked(dir)?, query).await
    }

    async fn pack_tree(&self, dir: &str, sink: Sink<'_>) -> Result<(), TargetError> {
        script::pack(checked(dir)?).run(self, None, sink).await
    }

    async fn unpack_tree(&self, dir: &str, source: Source<'_>) -> Result<(), TargetError> {
        script::unpack(checked(dir)?)
            .run(self, Some(source), &mut tokio::io::sink())
            .await
    }
}

/// Parses `<L|-> <raw mode hex> <size>`.
fn parse_stat(output: &[u8]) -> Option<Metadata> {
    let text = std::str::from_utf8(output).ok()?;
    let mut fields = text.split_whitespace();
    let symlink = fields.next()? == "L";
    let raw = u32::from_str_radix(fields.next()?, 16).ok()?;
    let size = fields.next()?.parse().ok()?;
    Some(Metadata {
        kind: FileKind::from_mode(raw),
        size,
        mode: raw & 0o7777,
        symlink,
    })
}

/// A stream that counts the bytes passing through it.
struct Counted<T> {
    inner: T,
    count: u64,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.count += (buf.filled().len() - before) as u64;
        polled
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.count += n as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stat_output_parses_kind_mode_size_and_link_flag() {
        let file = parse_stat(b"- 81a4 1234\n").unwrap();
        assert_eq!(
            file,
            Metadata {
                kind: FileKind::File,
                size: 1234,
                mode: 0o644,
                symlink: false
            }
        );
        let dir = parse_stat(b"L 43ed 4096\n").unwrap();
        assert_eq!(
            dir,
            Metadata {
                kind: FileKind::Dir,
                size: 4096,
                mode: 0o1755,
                symlink: true
            }
        );
        assert_eq!(parse_stat(b"garbage"), None);
    }
}
