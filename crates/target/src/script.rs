//! Shell snippets that do file work where only a shell is available, and how their endings map to
//! typed errors.
//!
//! A snippet checks its preconditions itself and exits with a distinct code for each failure
//! ([`NOT_FOUND`], [`IS_A_DIRECTORY`], …), so errors never depend on the language of a tool's
//! messages. Every path is single-quoted; a path starting with `-` is prefixed with `./` so no
//! tool mistakes it for an option.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tether_transport::{ExecOutcome, ExecSpec, Output};
use tokio::io::AsyncWrite;

use crate::{Sink, Source, Target, TargetError};

/// The path does not exist.
pub(crate) const NOT_FOUND: u32 = 101;
/// A file was expected; the path is a directory.
pub(crate) const IS_A_DIRECTORY: u32 = 102;
/// The user may not do this.
pub(crate) const PERMISSION_DENIED: u32 = 103;
/// The file's directory does not exist.
pub(crate) const PARENT_MISSING: u32 = 104;
/// A directory was expected; the path (or a parent) is not one.
pub(crate) const NOT_A_DIRECTORY: u32 = 105;
/// Writing failed (disk full, I/O error); the tool's message says why.
pub(crate) const WRITE_FAILED: u32 = 106;
/// Fewer bytes arrived than announced; nothing was written.
pub(crate) const TRUNCATED: u32 = 107;
/// The working directory of a command cannot be entered; the command did not run.
pub(crate) const BAD_CWD: u32 = 201;
/// The shell's code for "command not found".
const COMMAND_NOT_FOUND: u32 = 127;

/// The most standard error kept for an error message.
const STDERR_KEPT: usize = 4096;

/// A program a snippet needs, and the Debian package that has it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tool {
    pub(crate) name: &'static str,
    pub(crate) package: &'static str,
    /// What to do when it fails.
    pub(crate) hint: &'static str,
}

pub(crate) const COREUTILS: Tool = Tool {
    name: "coreutils",
    package: "coreutils",
    hint: "check free disk space and permissions, then retry",
};
pub(crate) const FIND: Tool = Tool {
    name: "find",
    package: "findutils",
    hint: "check that the directory is readable, then retry",
};
pub(crate) const GREP: Tool = Tool {
    name: "grep",
    package: "grep",
    hint: "check the pattern (a Perl-compatible regex, as in ripgrep: escape ( ) [ ] { } . * + ? | ^ $ \\ to match them literally) or search for a literal string",
};
pub(crate) const TAR: Tool = Tool {
    name: "tar",
    package: "tar",
    hint: "check that the directories are readable and the disk has space, then retry",
};

/// One snippet, with what it is for (for errors).
#[derive(Clone, Debug)]
pub(crate) struct Script {
    /// The shell text.
    pub(crate) text: String,
    /// What it does, for messages ("reading a file").
    pub(crate) what: &'static str,
    /// The path it works on, for messages.
    pub(crate) path: String,
    /// The program it relies on.
    pub(crate) tool: Tool,
    /// Its deadline; `None` for transfers, which take as long as they take.
    pub(crate) timeout: Option<Duration>,
}

impl Script {
    /// Runs the script on `target`, feeding `stdin`, writing stdout to `stdout`.
    pub(crate) async fn run(
        &self,
        target: &(impl Target + ?Sized),
        stdin: Option<Source<'_>>,
        stdout: Sink<'_>,
    ) -> Result<(), TargetError> {
        let mut stderr = Capped::default();
        let spec = ExecSpec {
            command: self.text.clone(),
            timeout: self.timeout,
            ..ExecSpec::default()
        };
        let mut output = Output::Writers {
            stdout,
            stderr: &mut stderr,
        };
        let outcome = target.exec_io(spec, stdin, &mut output, None).await?;
        self.check(outcome, &stderr.bytes)
    }

    /// Runs the script and returns its whole stdout.
    pub(crate) async fn output(
        &self,
        target: &(impl Target + ?Sized),
    ) -> Result<Vec<u8>, TargetError> {
        let mut stdout = Vec::new();
        self.run(target, None, &mut stdout).await?;
        Ok(stdout)
    }

    /// Maps the script's ending to `Ok` or a typed error.
    pub(crate) fn check(&self, outcome: ExecOutcome, stderr: &[u8]) -> Result<(), TargetError> {
        let path = self.path.clone();
        let code = match outcome {
            ExecOutcome::Exited(code) => code,
            ExecOutcome::TimedOut => {
                let after = self.timeout.unwrap_or_default();
                return Err(TargetError::Timeout {
                    what: self.what,
                    after,
                });
            }
            other => return Err(self.tool_error(describe(&other), stderr)),
        };
        match code {
            0 => Ok(()),
            NOT_FOUND => Err(TargetError::NotFound { path }),
            IS_A_DIRECTORY => Err(TargetError::IsADirectory { path }),
            PERMISSION_DENIED => Err(TargetError::PermissionDenied { path }),
            PARENT_MISSING => Err(TargetError::ParentMissing {
                parent: parent_of(&path),
                path,
            }),
            NOT_A_DIRECTORY => Err(TargetError::NotADirectory { path }),
            WRITE_FAILED => Err(self.tool_error("the write failed".into(), stderr)),
            // The caller knows the lengths and fills them in.
            TRUNCATED => Err(TargetError::Truncated {
                path,
                expected: 0,
                got: 0,
            }),
            COMMAND_NOT_FOUND => Err(TargetError::MissingTool {
                tool: self.tool.name,
                package: self.tool.package,
            }),
            code => Err(self.tool_error(format!("exit code {code}"), stderr)),
        }
    }

    fn tool_error(&self, status: String, stderr: &[u8]) -> TargetError {
        let stderr = String::from_utf8_lossy(stderr).trim().to_owned();
        TargetError::Tool {
            what: self.what,
            status,
            stderr,
            hint: self.tool.hint,
        }
    }
}

/// How a helper ended, in words.
fn describe(outcome: &ExecOutcome) -> String {
    match outcome {
        ExecOutcome::Exited(code) => format!("exit code {code}"),
        ExecOutcome::Signaled(signal) => format!("killed by SIG{signal}"),
        ExecOutcome::TimedOut => "timed out".into(),
        ExecOutcome::Cancelled => "cancelled".into(),
    }
}

/// A writer keeping the first [`STDERR_KEPT`] bytes and dropping the rest.
#[derive(Default)]
pub(crate) struct Capped {
    pub(crate) bytes: Vec<u8>,
}

impl AsyncWrite for Capped {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let room = STDERR_KEPT.saturating_sub(this.bytes.len());
        this.bytes.extend_from_slice(&buf[..buf.len().min(room)]);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Checks that `path` can be used at all.
pub(crate) fn checked(path: &str) -> Result<&str, TargetError> {
    let reason = if path.is_empty() {
        "it is empty"
    } else if path.contains('\0') {
        "it contains a NUL byte"
    } else {
        return Ok(path);
    };
    Err(TargetError::InvalidPath {
        path: path.into(),
        reason,
    })
}

/// POSIX single-quoting of a path, made safe as a command operand (`-x` becomes `./-x`).
pub(crate) fn quote(path: &str) -> String {
    let path = if path.starts_with('-') {
        format!("./{path}")
    } else {
        path.to_owned()
    };
    quote_text(&path)
}

/// POSIX single-quoting of any text (no NUL).
pub(crate) fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The directory of `path` as the shell should name it (`.` for a bare name).
pub(crate) fn parent_of(path: &str) -> String {
    match std::path::Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
    {
        Some(parent) if !parent.is_empty() => parent,
        Some(_) => ".".into(),
        None => "/".into(),
    }
}

/// Prefix that enters `cwd` or exits with [`BAD_CWD`], for a command run by `bash -c`.
pub(crate) fn enter(cwd: &str) -> String {
    format!("cd -- {} 2>/dev/null || exit {BAD_CWD}; ", quote(cwd))
}

/// Streams a file to stdout.
pub(crate) fn read(path: &str) -> Script {
    let text = format!(
        "f={q}; [ -e \"$f\" ] || exit {NOT_FOUND}; [ -d \"$f\" ] && exit {IS_A_DIRECTORY}; \
         [ -r \"$f\" ] || exit {PERMISSION_DENIED}; exec cat -- \"$f\"",
        q = quote(path)
    );
    Script {
        text,
        what: "reading a file",
        path: path.into(),
        tool: COREUTILS,
        timeout: None,
    }
}

/// Writes stdin to a temporary file beside `path`, checks it got `len` bytes, renames it over.
pub(crate) fn write(path: &str, len: u64) -> Script {
    let text = format!(
        "f={q}; d={qd}\n\
         if [ -L \"$f\" ] && [ -e \"$f\" ]; then f=$(readlink -f -- \"$f\"; echo .); f=${{f%??}}; d=${{f%/*}}; d=${{d:-/}}; fi\n\
         [ -d \"$f\" ] && exit {IS_A_DIRECTORY}\n\
         [ -e \"$d\" ] || exit {PARENT_MISSING}\n\
         [ -d \"$d\" ] || exit {NOT_A_DIRECTORY}\n\
         [ -e \"$f\" ] && ! [ -w \"$f\" ] && exit {PERMISSION_DENIED}\n\
         t=$(mktemp \"$d/.tether-write.XXXXXX\" 2>/dev/null) || {{ [ -w \"$d\" ] && exit {WRITE_FAILED}; exit {PERMISSION_DENIED}; }}\n\
         trap 'rm -f -- \"$t\"; exit 143' TERM HUP INT\n\
         fail() {{ rm -f -- \"$t\"; exit \"$1\"; }}\n\
         if [ -e \"$f\" ]; then chmod \"$(stat -c %a -- \"$f\")\" \"$t\" || fail {WRITE_FAILED}; \
         chown \"$(stat -c %u:%g -- \"$f\")\" \"$t\" 2>/dev/null; \
         else chmod \"$(printf %o $((0666 & ~$(umask))))\" \"$t\" || fail {WRITE_FAILED}; fi\n\
         cat > \"$t\" || fail {WRITE_FAILED}\n\
         [ \"$(stat -c %s -- \"$t\")\" = {len} ] || fail {TRUNCATED}\n\
         mv -f -- \"$t\" \"$f\" || fail {WRITE_FAILED}",
        q = quote(path),
        qd = quote(&parent_of(path)),
    );
    Script {
        text,
        what: "writing a file",
        path: path.into(),
        tool: COREUTILS,
        timeout: None,
    }
}

/// Prints `<L|-> <raw mode in hex> <size>` for `path`, following symlinks.
pub(crate) fn stat(path: &str, timeout: Duration) -> Script {
    let text = format!(
        "f={q}; if [ -e \"$f\" ]; then l=-; [ -L \"$f\" ] && l=L; printf '%s ' \"$l\"; exec stat -L -c '%f %s' -- \"$f\"; \
         elif [ -L \"$f\" ]; then printf 'L '; exec stat -c '%f %s' -- \"$f\"; else exit {NOT_FOUND}; fi",
        q = quote(path)
    );
    Script {
        text,
        what: "reading file metadata",
        path: path.into(),
        tool: COREUTILS,
        timeout: Some(timeout),
    }
}

/// `mkdir -p`, telling a file in the way from a permission problem.
pub(crate) fn mkdir_all(path: &str, timeout: Duration) -> Script {
    let ancestors: Vec<String> = ancestors(path).iter().map(|a| quote(a)).collect();
    let text = format!(
        "p={q}; [ -d \"$p\" ] && exit 0; [ -e \"$p\" ] && exit {NOT_A_DIRECTORY}; mkdir -p -- \"$p\" 2>/dev/null && exit 0\n\
         for a in {list}; do if [ -e \"$a\" ]; then [ -d \"$a\" ] || exit {NOT_A_DIRECTORY}; [ -w \"$a\" ] || exit {PERMISSION_DENIED}; break; fi; done\n\
         mkdir -p -- \"$p\"",
        q = quote(path),
        list = ancestors.join(" "),
    );
    Script {
        text,
        what: "creating a directory",
        path: path.into(),
        tool: COREUTILS,
        timeout: Some(timeout),
    }
}

/// The parents of `path`, nearest first (`.` for a relative path's top).
pub(crate) fn ancestors(path: &str) -> Vec<String> {
    let mut all: Vec<String> = std::path::Path::new(path)
        .ancestors()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .map(|a| if a.is_empty() { ".".into() } else { a })
        .collect();
    all.dedup();
    all
}

/// Checks that `dir` is an enterable directory and enters it.
fn enter_dir(dir: &str) -> String {
    format!(
        "d={q}; [ -e \"$d\" ] || exit {NOT_FOUND}; [ -d \"$d\" ] || exit {NOT_A_DIRECTORY}; \
         cd -- \"$d\" 2>/dev/null || exit {PERMISSION_DENIED}; ",
        q = quote(dir)
    )
}

/// Lists `dir` as NUL-terminated `<type> <name>` records (find's `%y`).
pub(crate) fn read_dir(dir: &str, timeout: Duration) -> Script {
    let text = format!(
        "{enter}[ -r . ] || exit {PERMISSION_DENIED}; exec find -H . -mindepth 1 -maxdepth 1 -printf '%y %f\\0'",
        enter = enter_dir(dir)
    );
    Script {
        text,
        what: "listing a directory",
        path: dir.into(),
        tool: FIND,
        timeout: Some(timeout),
    }
}

/// Lists everything under `base` (relative to `dir`) down to `max_depth`, as NUL-terminated
/// `<type> <path>` records. A missing `base` lists nothing.
pub(crate) fn find(dir: &str, base: &str, max_depth: Option<usize>, timeout: Duration) -> Script {
    let depth = max_depth
        .map(|d| format!("-maxdepth {d} "))
        .unwrap_or_default();
    let text = format!(
        "{enter}[ -d {b} ] || exit 0; find -H {b} -mindepth 1 {depth}-printf '%y %p\\0' 2>/dev/null; \
         rc=$?; [ $rc -le 1 ] || exit $rc",
        enter = enter_dir(dir),
        b = quote(base),
    );
    Script {
        text,
        what: "searching for files",
        path: dir.into(),
        tool: FIND,
        timeout: Some(timeout),
    }
}

/// `grep -rnI` under `dir` (or in the file `dir`), records `path NUL line:text NEWLINE`.
///
/// A regex is Perl-compatible (`grep -P`: `\d`, `\s`, `\b`, `(?i)`, lazy quantifiers — what a
/// model used to ripgrep writes); a grep built without PCRE falls back to POSIX extended.
pub(crate) fn grep(dir: &str, query: &crate::GrepQuery, timeout: Duration) -> Script {
    let mut flags = String::from(if query.literal { "-F" } else { "\"$m\"" });
    if query.ignore_case {
        flags.push_str(" -i");
    }
    if let Some(include) = &query.include {
        flags.push_str(&format!(" --include={}", quote_text(include)));
    }
    let text = format!(
        "d={q}; [ -e \"$d\" ] || exit {NOT_FOUND}\n\
         if [ -d \"$d\" ]; then cd -- \"$d\" 2>/dev/null || exit {PERMISSION_DENIED}; set -- -r -- .; \
         else cd -- {qp} 2>/dev/null || exit {PERMISSION_DENIED}; set -- -- {qn}; fi\n\
         m=-P; LC_ALL=C grep -qP '' </dev/null 2>/dev/null; [ $? -eq 2 ] && m=-E\n\
         LC_ALL=C grep -nIHZs {flags} -e {pattern} \"$@\"; rc=$?; [ $rc -eq 1 ] && exit 0; exit $rc",
        q = quote(dir),
        qp = quote(&parent_of(dir)),
        qn = quote(&file_name(dir)),
        pattern = quote_text(&query.pattern),
    );
    Script {
        text,
        what: "searching file contents",
        path: dir.into(),
        tool: GREP,
        timeout: Some(timeout),
    }
}

/// The last component of `path`.
fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Writes the tree `dir` to stdout as a tar archive.
pub(crate) fn pack(dir: &str) -> Script {
    let text = format!("{enter}exec tar -cf - .", enter = enter_dir(dir));
    Script {
        text,
        what: "packing a directory tree",
        path: dir.into(),
        tool: TAR,
        timeout: None,
    }
}

/// Unpacks a tar archive from stdin into `dir`, creating it.
pub(crate) fn unpack(dir: &str) -> Script {
    let text = format!(
        "d={q}; [ -e \"$d\" ] && ! [ -d \"$d\" ] && exit {NOT_A_DIRECTORY}; \
         mkdir -p -- \"$d\" 2>/dev/null || exit {PERMISSION_DENIED}; cd -- \"$d\" 2>/dev/null || exit {PERMISSION_DENIED}; \
         exec tar --no-same-owner -xf -",
        q = quote(dir)
    );
    Script {
        text,
        what: "unpacking a directory tree",
        path: dir.into(),
        tool: TAR,
        timeout: None,
    }
}

/// Moves `spec.cwd` into the command as an [`enter`] prefix, so every target treats a missing
/// working directory the same way; returns the cwd for [`confirm_cwd`].
pub(crate) fn fold_cwd(mut spec: ExecSpec) -> Result<(ExecSpec, Option<String>), TargetError> {
    let Some(cwd) = spec.cwd.take() else {
        return Ok((spec, None));
    };
    spec.command = format!("{}{}", enter(checked(&cwd)?), spec.command);
    Ok((spec, Some(cwd)))
}

/// Turns an exit with [`BAD_CWD`] into [`TargetError::BadWorkingDirectory`] when the working
/// directory really is unusable (the command itself may have exited with that code).
pub(crate) async fn confirm_cwd(
    target: &(impl Target + ?Sized),
    cwd: Option<String>,
    outcome: ExecOutcome,
) -> Result<ExecOutcome, TargetError> {
    match (cwd, &outcome) {
        (Some(cwd), ExecOutcome::Exited(BAD_CWD)) => match target.stat(&cwd).await {
            Ok(meta) if meta.kind == crate::FileKind::Dir => Ok(outcome),
            _ => Err(TargetError::BadWorkingDirectory { path: cwd }),
        },
        _ => Ok(outcome),
    }
}
