//! The shell snippets behind background processes. Each runs in one exec on the target; values
//! are single-quoted into the text. A process lives in `ROOT/<id>/`: `cmd`, `name`, `cwd`,
//! `started` (UTC), `pid` (its session and process group), `out` (stdout and stderr),
//! `status` (`exited N` or `killed SIG`, once it ended); optionally `env` (mode 0600,
//! `export NAME='value'` lines the runner sources) and `timeout` (seconds; a watchdog ends
//! the group when they run out and leaves `timedout SECS` behind).

use std::time::Duration;

/// No process with that id.
pub(crate) const NOT_FOUND: u32 = 101;
/// A running process has that name (its id is printed).
pub(crate) const NAME_TAKEN: u32 = 104;
/// A running process has that name, command and directory (its id and pid are printed).
pub(crate) const SAME_RUNNING: u32 = 106;
/// The working directory does not exist.
pub(crate) const BAD_CWD: u32 = 105;
/// `setsid` or `mkfifo` is missing.
pub(crate) const NO_SETSID: u32 = 108;

/// How often `bg_stop` and a waiting `bg_logs` look again.
const STOP_TICK: Duration = Duration::from_millis(100);

/// Shell functions every snippet uses: `alive PGID [EXCEPT]` (a live, non-zombie process other
/// than EXCEPT is in the group; builtins only, so the check adds no process) and `state_of DIR`
/// (`running`, `exited N`, `killed SIG`, `timedout SECS` or `lost`).
const PRELUDE: &str = r#"
alive() {
  pg=$1; except=${2:-}
  [ -n "$pg" ] || return 1
  if [ ! -r /proc/self/stat ]; then kill -0 -- "-$pg" 2>/dev/null; return; fi
  rp=') '
  for s in /proc/[0-9]*/stat; do
    [ "$s" = "/proc/$except/stat" ] && continue
    read -r line < "$s" 2>/dev/null || continue
    set -- ${line##*"$rp"}
    if [ "$3" = "$pg" ] && [ "$1" != Z ]; then return 0; fi
  done
  return 1
}
state_of() {
  if [ -f "$1/status" ]; then cat "$1/status"; return; fi
  if alive "$(cat "$1/pid" 2>/dev/null)"; then echo running; return; fi
  if [ -f "$1/status" ]; then cat "$1/status"; return; fi
  if [ -f "$1/timedout" ]; then cat "$1/timedout"; else echo lost; fi
}
"#;

/// What a runner does: record its pid, arm the watchdog if there is a timeout, tell the
/// starter, run the command, record how it ended. The watchdog, when the time is up, records
/// `timedout`, sends the group SIGTERM, and SIGKILL if anything but itself is left after the
/// grace period; it leaves as soon as the rest of the group is gone.
const RUNNER: &str = r#"d=$1
printf '%s\n' "$$" > "$d/pid"
if [ -f "$d/env" ]; then . "$d/env"; fi
cmd=$(cat "$d/cmd")
wd=
if [ -s "$d/timeout" ]; then
  t=$(cat "$d/timeout"); g=$(cat "$d/grace")
  (
    trap 'kill "$s" 2>/dev/null; wait "$s"; exit 0' TERM
    sleep "$t" & s=$!
    wait "$s" || exit 0
    trap '' TERM
    printf 'timedout %s\n' "$t" > "$d/timedout"
    kill -TERM -- "-$$" 2>/dev/null
    i=0
    while [ "$i" -lt "$g" ] && alive "$$" "$BASHPID"; do sleep 0.1; i=$((i + 1)); done
    if alive "$$" "$BASHPID"; then kill -KILL -- "-$$" 2>/dev/null; fi
  ) < /dev/null > /dev/null 2>&1 &
  wd=$!
fi
printf '%s\n' "$$" > "$d/ready"
bash -c "$cmd" < /dev/null >> "$d/out" 2>&1
code=$?
if [ -n "$wd" ]; then kill -TERM "$wd" 2>/dev/null; wait "$wd"; fi
if [ -f "$d/timedout" ]; then
  cp -f "$d/timedout" "$d/status.tmp" && mv -f "$d/status.tmp" "$d/status"
else
  printf 'exited %s\n' "$code" > "$d/status.tmp" && mv -f "$d/status.tmp" "$d/status"
fi"#;

fn quote(value: &str) -> String {
    shlex::try_quote(value).map_or_else(|_| "''".to_owned(), |q| q.into_owned())
}

/// How a process is started.
pub(crate) struct Launch<'a> {
    pub root: &'a str,
    pub id: &'a str,
    pub command: &'a str,
    pub cwd: &'a str,
    pub name: &'a str,
    /// Whether the snippet's stdin carries the `env` file.
    pub env: bool,
    /// Seconds the process may run, and how long between TERM and KILL when they run out.
    pub timeout: Option<(f64, Duration)>,
}

/// Starts a process as `launch` says, detached in its own session; prints its pid.
pub(crate) fn start(launch: &Launch<'_>) -> String {
    let env = if launch.env {
        "(umask 077 && cat > \"$d/env\") || exit 1"
    } else {
        ":"
    };
    let timeout = match launch.timeout {
        Some((seconds, grace)) => format!(
            "printf '%s' {seconds:.3} > \"$d/timeout\" && printf '%s' {ticks} > \"$d/grace\" || exit 1",
            ticks = grace.as_millis() / STOP_TICK.as_millis()
        ),
        None => ":".to_owned(),
    };
    format!(
        r#"{PRELUDE}
root={root}; d="$root"/{id}; cwd={cwd}; name={name}; cmd={command}; runner={runner}
command -v setsid >/dev/null && command -v mkfifo >/dev/null || exit {NO_SETSID}
[ -d "$cwd" ] || exit {BAD_CWD}
mkdir -p "$root" || exit 1
if [ -n "$name" ]; then
  # One named start at a time on this machine (until this one is registered), so two starts
  # at once never both find the name free. The runner does not inherit the lock.
  if command -v flock >/dev/null; then exec 9>"$root/.names.lock" && flock -w 30 9 || :; fi
  for other in "$root"/*; do
    [ -f "$other/name" ] && [ "$(cat "$other/name")" = "$name" ] || continue
    [ "$(state_of "$other")" = running ] || continue
    if [ "$(cat "$other/cmd")" = "$cmd" ] && [ "$(cat "$other/cwd")" = "$cwd" ]; then
      printf '%s %s' "${{other##*/}}" "$(cat "$other/pid" 2>/dev/null)"; exit {SAME_RUNNING}
    fi
    printf '%s' "${{other##*/}}"; exit {NAME_TAKEN}
  done
fi
mkdir "$d" || exit 1
{env}
{timeout}
printf '%s' "$cmd" > "$d/cmd" && printf '%s' "$name" > "$d/name" && printf '%s' "$cwd" > "$d/cwd" || exit 1
date -u +%Y-%m-%dT%H:%M:%SZ > "$d/started" && : > "$d/out" && mkfifo "$d/ready" || exit 1
cd "$cwd" || exit {BAD_CWD}
setsid bash -c "$runner" tether-bg "$d" < /dev/null > /dev/null 2>&1 9>&- &
read -r pid < "$d/ready"
rm -f "$d/ready"
printf '%s' "$pid""#,
        root = quote(launch.root),
        id = launch.id,
        cwd = quote(launch.cwd),
        name = quote(launch.name),
        command = quote(launch.command),
        runner = quote(&format!("{PRELUDE}\n{RUNNER}")),
    )
}

/// The `env` file for `vars`: one `export NAME='value'` line each (names are checked by the
/// caller).
pub(crate) fn env_file(vars: &[(String, String)]) -> String {
    vars.iter()
        .map(|(name, value)| format!("export {name}={}\n", quote(value)))
        .collect()
}

/// Prints one record per process: id, state, started, output size, name, cwd, command, each
/// NUL-terminated. With `only`, just that process (exit [`NOT_FOUND`] if there is none).
pub(crate) fn list(root: &str, only: Option<&str>) -> String {
    let (glob, check) = match only {
        Some(id) => (
            format!("\"$root\"/{id}"),
            format!("[ -f \"$root/{id}/cmd\" ] || exit {NOT_FOUND}"),
        ),
        None => ("\"$root\"/*".to_owned(), String::new()),
    };
    format!(
        r#"{PRELUDE}
root={root}
{check}
[ -d "$root" ] || exit 0
for d in {glob}; do
  [ -f "$d/cmd" ] || continue
  printf '%s\0%s\0%s\0%s\0' "${{d##*/}}" "$(state_of "$d")" "$(cat "$d/started" 2>/dev/null)" "$(wc -c < "$d/out" 2>/dev/null || echo 0)"
  cat "$d/name" 2>/dev/null; printf '\0'
  cat "$d/cwd" 2>/dev/null; printf '\0'
  cat "$d/cmd"; printf '\0'
done"#,
        root = quote(root),
    )
}

/// Which part of a background process's output to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// From this byte on.
    From(u64),
    /// The last this many lines.
    Tail(u64),
}

/// Prints the state, NUL, the output size, NUL, then at most `max` bytes of the output; from
/// an offset, first waits up to `wait` for output past it or for the process to end.
pub(crate) fn logs(root: &str, id: &str, window: Window, max: usize, wait: Duration) -> String {
    let ticks = wait.as_millis() / STOP_TICK.as_millis();
    let tick = STOP_TICK.as_secs_f64();
    let read = match window {
        Window::From(offset) => format!(
            r#"off={offset}
i=0
while [ "$i" -lt {ticks} ] && [ "$(wc -c < "$d/out")" -le "$off" ] && [ "$(state_of "$d")" = running ]; do
  sleep {tick}; i=$((i + 1))
done
state=$(state_of "$d")
size=$(wc -c < "$d/out")
printf '%s\0%s\0' "$state" "$size"
if [ "$off" -lt "$size" ]; then
  n=$((size - off)); [ "$n" -gt {max} ] && n={max}
  tail -c +$((off + 1)) "$d/out" | head -c "$n"
fi"#
        ),
        Window::Tail(lines) => format!(
            r#"state=$(state_of "$d")
size=$(wc -c < "$d/out")
printf '%s\0%s\0' "$state" "$size"
head -c "$size" "$d/out" | tail -n {lines} | tail -c {max}"#
        ),
    };
    format!(
        r#"{PRELUDE}
d={root}/{id}
[ -f "$d/cmd" ] || exit {NOT_FOUND}
{read}"#,
        root = quote(root),
    )
}

/// Ends the process group: TERM, up to `grace`, KILL; records `killed SIG` and prints
/// `stopped killed SIG`. A process that had already ended prints `ended STATE`.
pub(crate) fn stop(root: &str, id: &str, grace: Duration) -> String {
    let ticks = grace.as_millis() / STOP_TICK.as_millis();
    let tick = STOP_TICK.as_secs_f64();
    format!(
        r#"{PRELUDE}
d={root}/{id}
[ -f "$d/cmd" ] || exit {NOT_FOUND}
state=$(state_of "$d")
if [ "$state" != running ]; then printf 'ended %s' "$state"; exit 0; fi
pid=$(cat "$d/pid")
kill -TERM -- "-$pid" 2>/dev/null
i=0
while alive "$pid" && [ "$i" -lt {ticks} ]; do sleep {tick}; i=$((i + 1)); done
sig=TERM
if alive "$pid"; then
  sig=KILL
  kill -KILL -- "-$pid" 2>/dev/null
  i=0
  while alive "$pid" && [ "$i" -lt {ticks} ]; do sleep {tick}; i=$((i + 1)); done
fi
printf 'killed %s\n' "$sig" > "$d/status.tmp" && mv -f "$d/status.tmp" "$d/status"
printf 'stopped killed %s' "$sig""#,
        root = quote(root),
    )
}
