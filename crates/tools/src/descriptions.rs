//! What each tool tells the model about itself (front ends put these in their tool lists).

/// `bash`.
pub const BASH: &str = "Run a bash command in the current working directory and return its \
stdout and stderr together. Long output keeps its last 2000 lines or 50KB (whichever comes \
first) and the full output is saved to a temp file named in the result. Pass timeout (seconds) \
for commands that may hang. For servers, watchers and other long-running commands use bg_start.";

/// `read`.
pub const READ: &str = "Read a file. Text comes back as is, cut at 2000 lines or 50KB \
(whichever comes first) with the offset to continue from; use offset/limit for large files. \
Images (png, jpeg, gif, webp) come back as images.";

/// `edit`.
pub const EDIT: &str = "Edit a file by replacing text. Each edits[].oldText must match one \
unique, non-overlapping region of the original file (exactly; differences in trailing \
whitespace, quote and dash styles are tolerated). Merge nearby changes into one edit. Line \
endings and a BOM are kept; the result shows a diff.";

/// `write`.
pub const WRITE: &str = "Write a file: created if missing (with its parent directories), \
replaced if it exists.";

/// `ls`.
pub const LS: &str = "List a directory: entries sorted alphabetically, '/' after directories, \
dotfiles included; at most 500 entries (limit) or 50KB.";

/// `find`.
pub const FIND: &str = "Find files by glob pattern (e.g. '*.rs', 'src/**/*.ts'). Returns paths \
relative to the searched directory; skips .git and node_modules; at most 1000 results (limit) \
or 50KB.";

/// `grep`.
pub const GREP: &str = "Search file contents for a pattern (a Perl-compatible regex as in \
ripgrep: \\d, \\s, \\b, (?i) work; or a fixed string with literal). Returns 'path:line: text' \
lines (context lines as 'path-line- text'); at most 100 matches (limit) or 50KB; long lines \
are cut to 500 characters.";

/// `bg_start`.
pub const BG_START: &str = "Start a long-running command (dev server, watcher, build) in the \
background, detached, and return its id at once. Its output is kept on the machine it runs on; \
it survives this call and a restart of the agent. An optional timeout (seconds) stops it when \
it runs out. Give it a name to make a retry safe: starting the same command in the same \
directory under the name of a running process returns that process instead of a second one.";

/// `bg_list`.
pub const BG_LIST: &str = "List the background processes of the active machine: id, state \
(running, exited(code), killed(signal), timed-out, lost), start time, directory and command.";

/// `bg_logs`.
pub const BG_LOGS: &str = "Read a background process's output in order: from a byte offset \
(the result says which offset continues) or its last lines (tail). At most 50KB per call.";

/// `bg_stop`.
pub const BG_STOP: &str = "Stop a background process: its whole process group gets SIGTERM, \
then SIGKILL after 5 seconds. Says which signal ended it.";
