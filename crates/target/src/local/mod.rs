//! The local machine as a target.

mod files;
mod process;

use std::path::Path;

use async_trait::async_trait;
use tether_transport::{ExecOutcome, ExecSpec, Output};
use tokio_util::sync::CancellationToken;

use crate::script::{self, checked};
use crate::search::GlobPlan;
use crate::{
    DirEntry, GrepMatch, GrepQuery, Metadata, SEARCH_TIMEOUT, Sink, Source, Target, TargetError,
};

pub use process::{DEFAULT_PATH, KILL_GRACE};

/// The machine tether runs on. Commands run as `bash -c` in their own process group, with only
/// `PATH` ([`DEFAULT_PATH`]), `HOME` and the variables a spec names; nothing else of this
/// process's environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalTarget;

impl LocalTarget {
    /// The local machine.
    pub fn new() -> LocalTarget {
        LocalTarget
    }
}

#[async_trait]
impl Target for LocalTarget {
    fn describe(&self) -> String {
        "local".into()
    }

    async fn exec_io(
        &self,
        spec: ExecSpec,
        stdin: Option<Source<'_>>,
        output: &mut Output<'_>,
        cancel: Option<CancellationToken>,
    ) -> Result<ExecOutcome, TargetError> {
        let (spec, cwd) = script::fold_cwd(spec)?;
        let outcome = process::run(spec, stdin, output, cancel).await?;
        script::confirm_cwd(self, cwd, outcome).await
    }

    async fn read_to(&self, path: &str, sink: Sink<'_>) -> Result<u64, TargetError> {
        files::read_to(checked(path)?, sink).await
    }

    async fn write_from(
        &self,
        path: &str,
        source: Source<'_>,
        len: u64,
    ) -> Result<(), TargetError> {
        files::write_from(checked(path)?, source, len).await
    }

    async fn stat(&self, path: &str) -> Result<Metadata, TargetError> {
        files::stat(checked(path)?).await
    }

    async fn mkdir_all(&self, path: &str) -> Result<(), TargetError> {
        files::mkdir_all(checked(path)?).await
    }

    async fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, TargetError> {
        files::read_dir(checked(path)?).await
    }

    async fn glob(&self, dir: &str, pattern: &str) -> Result<Vec<DirEntry>, TargetError> {
        let plan = GlobPlan::new(pattern)?;
        files::enter_dir(checked(dir)?).await?;
        let base = Path::new(dir).join(&plan.base);
        let (prefix, depth) = (plan.base.clone(), plan.max_depth);
        let walking = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            if base.is_dir() {
                let _ = files::walk(&base, &prefix, depth, &mut found);
            }
            found
        });
        match tokio::time::timeout(SEARCH_TIMEOUT, walking).await {
            Ok(Ok(found)) => Ok(plan.select(found)),
            Ok(Err(e)) => Err(TargetError::io(
                format!("searching {dir}"),
                std::io::Error::other(e),
            )),
            Err(_) => Err(TargetError::Timeout {
                what: "searching for files",
                after: SEARCH_TIMEOUT,
            }),
        }
    }

    async fn grep(&self, dir: &str, query: &GrepQuery) -> Result<Vec<GrepMatch>, TargetError> {
        crate::search::grep(self, checked(dir)?, query).await
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
