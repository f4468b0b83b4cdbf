//! The [`Target`] trait: where tools run, and what they can do there.

use async_trait::async_trait;
use tether_transport::{ExecOutcome, ExecSpec, Output, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::TargetError;

/// A readable byte stream (a file being uploaded, a tar archive, a command's stdin).
pub type Source<'a> = &'a mut (dyn AsyncRead + Send + Unpin);
/// A writable byte stream (a file being downloaded, a tar archive).
pub type Sink<'a> = &'a mut (dyn AsyncWrite + Send + Unpin);
/// A callback receiving a command's output chunks as they arrive.
pub type OnOutput<'a> = &'a mut (dyn FnMut(Stream, &[u8]) + Send);

/// What kind of thing a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed when listing).
    Symlink,
    /// A device, socket or pipe.
    Other,
}

impl FileKind {
    /// The kind of a `st_mode` value.
    pub fn from_mode(mode: u32) -> FileKind {
        match mode & libc::S_IFMT {
            libc::S_IFREG => FileKind::File,
            libc::S_IFDIR => FileKind::Dir,
            libc::S_IFLNK => FileKind::Symlink,
            _ => FileKind::Other,
        }
    }
}

/// What [`Target::stat`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The kind, after following symlinks ([`FileKind::Symlink`] only for a dangling link).
    pub kind: FileKind,
    /// Size in bytes (of the link's target, when it is a symlink that resolves).
    pub size: u64,
    /// Permission bits, e.g. `0o644` (including setuid/setgid/sticky).
    pub mode: u32,
    /// Whether the path itself is a symbolic link.
    pub symlink: bool,
}

/// One entry of [`Target::read_dir`] or [`Target::glob`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirEntry {
    /// The name (`read_dir`), or the path relative to the searched directory (`glob`).
    pub path: String,
    /// The kind, not following symlinks.
    pub kind: FileKind,
}

/// What to search for with [`Target::grep`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrepQuery {
    /// The pattern: a Perl-compatible regex (POSIX extended where the machine's grep has no
    /// PCRE), or a literal string when `literal` is set.
    pub pattern: String,
    /// Match `pattern` as a fixed string.
    pub literal: bool,
    /// Ignore case (ASCII letters).
    pub ignore_case: bool,
    /// Only search files whose name matches this glob (e.g. `*.rs`).
    pub include: Option<String>,
}

impl GrepQuery {
    /// A literal, case-sensitive search for `text`.
    pub fn literal(text: impl Into<String>) -> GrepQuery {
        GrepQuery {
            pattern: text.into(),
            literal: true,
            ..GrepQuery::default()
        }
    }

    /// A case-sensitive regex search.
    pub fn regex(pattern: impl Into<String>) -> GrepQuery {
        GrepQuery {
            pattern: pattern.into(),
            ..GrepQuery::default()
        }
    }
}

/// One matching line found by [`Target::grep`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrepMatch {
    /// The file, relative to the searched directory.
    pub path: String,
    /// The line number, from 1.
    pub line: u64,
    /// The line, without its newline (invalid UTF-8 replaced).
    pub text: String,
}

/// Where tools run: the local machine, a Vers VM, or an SSH host.
///
/// Every implementation gives the same results for the same operation: the same exit codes
/// and output, the same bytes, the same listings in the same order, the same errors. Paths
/// are the target's own; relative ones resolve against this process's working directory
/// locally and the login directory remotely, so prefer absolute paths.
///
/// Object safe: hold it as `Arc<dyn Target>`.
#[async_trait]
pub trait Target: Send + Sync {
    /// What this target is, for logs and messages (e.g. `local`, `vm 4c1e…`, `ssh root@host:22`).
    fn describe(&self) -> String;

    /// Runs `spec` (`bash -c`, or `sh -c` where there is no bash) in its own process group,
    /// with only the environment `spec.env` adds to a minimal one. Stdin comes from `stdin`
    /// when given (else `spec.stdin`); output goes to `output` as it is produced. A timeout or
    /// cancel kills the whole group (TERM, grace, KILL) and returns
    /// [`ExecOutcome::TimedOut`] / [`ExecOutcome::Cancelled`] after the output so far.
    /// A missing `spec.cwd` gives [`TargetError::BadWorkingDirectory`] and runs nothing.
    async fn exec_io(
        &self,
        spec: ExecSpec,
        stdin: Option<Source<'_>>,
        output: &mut Output<'_>,
        cancel: Option<CancellationToken>,
    ) -> Result<ExecOutcome, TargetError>;

    /// Streams the file at `path` into `sink`; returns the bytes copied.
    async fn read_to(&self, path: &str, sink: Sink<'_>) -> Result<u64, TargetError>;

    /// Replaces (or creates) the file at `path` with exactly `len` bytes from `source`,
    /// atomically: readers see the old file or the new one, never a part. An existing file's
    /// mode (and, where allowed, owner) is kept; a new one gets `0666 & !umask`. A symlink is
    /// written through to its target. If `source` ends before `len` bytes, nothing changes and
    /// [`TargetError::Truncated`] is returned.
    async fn write_from(&self, path: &str, source: Source<'_>, len: u64)
    -> Result<(), TargetError>;

    /// Metadata of `path`, following symlinks.
    async fn stat(&self, path: &str) -> Result<Metadata, TargetError>;

    /// Creates `path` and any missing parents; an existing directory is fine.
    async fn mkdir_all(&self, path: &str) -> Result<(), TargetError>;

    /// The entries of the directory `path` (without `.` and `..`), sorted by name.
    async fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, TargetError>;

    /// Entries under `dir` whose path relative to `dir` matches `pattern` (`*` and `?` stay
    /// within one path component, `**` spans any number, `[a-z]` and `{a,b}` work), sorted.
    /// Hidden files are included; symlinks are listed, not followed.
    async fn glob(&self, dir: &str, pattern: &str) -> Result<Vec<DirEntry>, TargetError>;

    /// Lines matching `query` in the text files under `dir` (binary files skipped; symlinks
    /// below `dir` not followed), sorted by path and line.
    async fn grep(&self, dir: &str, query: &GrepQuery) -> Result<Vec<GrepMatch>, TargetError>;

    /// Streams the directory tree `dir` into `sink` as a tar archive.
    async fn pack_tree(&self, dir: &str, sink: Sink<'_>) -> Result<(), TargetError>;

    /// Unpacks a tar archive from `source` into `dir` (created if missing). Modes are kept;
    /// files belong to the user unpacking them.
    async fn unpack_tree(&self, dir: &str, source: Source<'_>) -> Result<(), TargetError>;

    /// Runs `spec`, handing output chunks to `on_output` as they arrive.
    async fn exec(
        &self,
        spec: ExecSpec,
        on_output: OnOutput<'_>,
        cancel: Option<CancellationToken>,
    ) -> Result<ExecOutcome, TargetError> {
        self.exec_io(spec, None, &mut Output::Callback(on_output), cancel)
            .await
    }

    /// The whole file at `path`.
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, TargetError> {
        let mut bytes = Vec::new();
        self.read_to(path, &mut bytes).await?;
        Ok(bytes)
    }

    /// Replaces (or creates) the file at `path` with exactly `bytes`; see [`Target::write_from`].
    async fn write_file(&self, path: &str, bytes: &[u8]) -> Result<(), TargetError> {
        let mut source = bytes;
        self.write_from(path, &mut source, bytes.len() as u64).await
    }

    /// The metadata of the file at `path` and, when it has at most `max` bytes, its content
    /// (`None` for a larger one, which is not read): [`Target::stat`] and
    /// [`Target::read_file`] in one operation where the target can (a VM: one round trip).
    async fn read_file_within(
        &self,
        path: &str,
        max: u64,
    ) -> Result<(Metadata, Option<Vec<u8>>), TargetError> {
        read_within(self, path, max).await
    }

    /// Like [`Target::write_file`], creating the file's directory and its parents first (as
    /// [`Target::mkdir_all`]), in one operation where the target can.
    async fn write_file_creating_dirs(&self, path: &str, bytes: &[u8]) -> Result<(), TargetError> {
        if let Some((parent, _)) = path.rsplit_once('/')
            && !parent.is_empty()
        {
            self.mkdir_all(parent).await?;
        }
        self.write_file(path, bytes).await
    }
}

/// [`Target::read_file_within`] as a stat, then a read if the file is small enough.
pub(crate) async fn read_within(
    target: &(impl Target + ?Sized),
    path: &str,
    max: u64,
) -> Result<(Metadata, Option<Vec<u8>>), TargetError> {
    let meta = target.stat(path).await?;
    if meta.size > max {
        return Ok((meta, None));
    }
    Ok((meta, Some(target.read_file(path).await?)))
}
