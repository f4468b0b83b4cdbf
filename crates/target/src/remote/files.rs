//! A remote target's file operations: on the connection's agent when it is up (one round trip,
//! no process started), else as shell snippets ([`crate::script`]). Both end with the same
//! codes, which [`Script::check`] maps to the same errors, so the path taken never shows.

use std::future::Future;

use tether_transport::{Agent, ExecOutcome, FileRun, TransportError, status};

use super::{Counted, RemoteTarget, parse_stat};
use crate::script::{self, Script, ancestors, parent_of};
use crate::{META_TIMEOUT, Metadata, Sink, Source, TargetError};

impl RemoteTarget {
    /// Runs `op` on the agent; `None` when the agent is not up, or was gone before the request
    /// went out (nothing happened): the caller then runs its snippet.
    async fn on_agent<T, F, Fut>(&self, op: F) -> Result<Option<T>, TargetError>
    where
        F: FnOnce(Agent) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let (endpoint, key) = self.endpoint().await?;
        let Some(agent) = self.pool.agent(&endpoint, &key).await? else {
            return Ok(None);
        };
        match op(agent).await {
            Err(TransportError::AgentLost { started: false, .. }) => Ok(None),
            other => Ok(Some(other?)),
        }
    }

    pub(super) async fn read_remote(&self, path: &str, sink: Sink<'_>) -> Result<u64, TargetError> {
        let mut counted = Counted {
            inner: sink,
            count: 0,
        };
        let script = script::read(path);
        let counting = &mut counted;
        match self
            .on_agent(|agent| async move { agent.read(path, u64::MAX, counting).await })
            .await?
        {
            Some(run) => settle(&script, &run)?,
            None => script.run(self, None, &mut counted).await?,
        }
        Ok(counted.count)
    }

    /// The file's metadata and, when it has at most `max` bytes, its content.
    pub(super) async fn read_within_remote(
        &self,
        path: &str,
        max: u64,
    ) -> Result<Option<(Metadata, Option<Vec<u8>>)>, TargetError> {
        let mut bytes = Vec::new();
        let sink = &mut bytes;
        let Some(run) = self
            .on_agent(|agent| async move { agent.read(path, max, sink).await })
            .await?
        else {
            return Ok(None);
        };
        let meta = || stat_of(&run);
        match run.code {
            status::OK => Ok(Some((meta()?, Some(bytes)))),
            status::TOO_LARGE => Ok(Some((meta()?, None))),
            _ => settle(&script::read(path), &run).map(|()| None),
        }
    }

    /// Writes `len` bytes from `source` to `path`; with `create`, its directory is created
    /// first.
    pub(super) async fn write_remote(
        &self,
        path: &str,
        source: Source<'_>,
        len: u64,
        create: bool,
    ) -> Result<(), TargetError> {
        let mut limited = Counted {
            inner: tokio::io::AsyncReadExt::take(source, len),
            count: 0,
        };
        let script = script::write(path, len);
        let dir = parent_of(path);
        let made = match self
            .made_by_agent(path, &dir, create, &mut limited, len)
            .await?
        {
            Some(run) if run.creating_dir => {
                return settle(&script::mkdir_all(&dir, META_TIMEOUT), &run);
            }
            Some(run) => settle(&script, &run),
            None => {
                if create {
                    self.mkdir_remote(&dir).await?;
                }
                let sink = &mut tokio::io::sink();
                script.run(self, Some(&mut limited), sink).await
            }
        };
        match made {
            Err(TargetError::Truncated { .. }) => Err(TargetError::Truncated {
                path: path.into(),
                expected: len,
                got: limited.count,
            }),
            other => other,
        }
    }

    async fn made_by_agent(
        &self,
        path: &str,
        dir: &str,
        create: bool,
        source: Source<'_>,
        len: u64,
    ) -> Result<Option<FileRun>, TargetError> {
        let parents = create.then(|| ancestors(dir));
        self.on_agent(|agent| async move {
            agent
                .write(path, dir, parents.as_deref(), source, len)
                .await
        })
        .await
    }

    pub(super) async fn stat_remote(&self, path: &str) -> Result<Metadata, TargetError> {
        if let Some(run) = self
            .on_agent(|agent| async move { agent.stat(path).await })
            .await?
        {
            settle(&script::stat(path, META_TIMEOUT), &run)?;
            return stat_of(&run);
        }
        let output = script::stat(path, META_TIMEOUT).output(self).await?;
        parse_stat(&output).ok_or_else(|| unexpected_stat(&output))
    }

    pub(super) async fn mkdir_remote(&self, path: &str) -> Result<(), TargetError> {
        let script = script::mkdir_all(path, META_TIMEOUT);
        let parents = ancestors(path);
        let parents = &parents;
        match self
            .on_agent(|agent| async move { agent.mkdir(path, parents).await })
            .await?
        {
            Some(run) => settle(&script, &run),
            None => script.output(self).await.map(drop),
        }
    }
}

/// The error or success the snippet `script` would have ended with, for the agent's `run`.
fn settle(script: &Script, run: &FileRun) -> Result<(), TargetError> {
    script.check(ExecOutcome::Exited(run.code), run.message.as_bytes())
}

fn stat_of(run: &FileRun) -> Result<Metadata, TargetError> {
    let line = run.stat.as_deref().unwrap_or_default().as_bytes();
    parse_stat(line).ok_or_else(|| unexpected_stat(line))
}

fn unexpected_stat(output: &[u8]) -> TargetError {
    TargetError::Tool {
        what: "reading file metadata",
        status: "unexpected output".into(),
        stderr: String::from_utf8_lossy(output).into_owned(),
        hint: "the host's `stat` does not understand `-c '%f %s'`; install GNU coreutils",
    }
}
