//! What a channel's program runs as: argv, sshd-like environment, working directory, stdio.

use std::net::SocketAddr;

use super::process;
use crate::backend::{Command, PtySize, Stdio};

/// The only user that may log in.
pub(super) const USER: &str = "root";
/// The user's home and the working directory of every process.
const HOME: &str = "/root";
/// `PATH` of every process, as sshd sets it.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The VM's OpenSSH SFTP server (the VM's `/usr` is the host's, read-only).
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";
/// Terminal size when a client asks for a terminal of size 0.
const DEFAULT_PTY_SIZE: PtySize = PtySize { rows: 24, cols: 80 };

/// The two ends of the TCP connection, for `SSH_CONNECTION` / `SSH_CLIENT`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    /// The client.
    pub remote: SocketAddr,
    /// The gateway's listening address.
    pub local: SocketAddr,
}

/// What a client asked for on a channel before starting its program.
#[derive(Debug, Default)]
pub(super) struct Request {
    /// `env` requests, in order.
    pub env: Vec<(String, String)>,
    /// `pty-req`: terminal type and size.
    pub pty: Option<(String, PtySize)>,
}

/// What a channel runs.
pub(super) enum Program {
    /// `exec`: a command line for the shell.
    Exec(Vec<u8>),
    /// `shell`: a login shell.
    Shell,
    /// `subsystem sftp`.
    Sftp,
}

/// The command a channel's program runs as.
pub(super) fn command(
    program: Program,
    peer: &Peer,
    vm_env: &[(String, String)],
    request: &Request,
) -> Command {
    let terminal = request.pty.as_ref().map(|(_, size)| *size);
    let (argv, stdio) = match program {
        Program::Exec(line) => (process::exec_argv(&line), terminal),
        Program::Shell => (process::shell_argv(), terminal),
        Program::Sftp => (vec![SFTP_SERVER.to_owned()], None),
    };
    let stdio = stdio.map_or(Stdio::Pipes, Stdio::Pty);
    Command {
        argv,
        env: environment(peer, vm_env, request),
        cwd: Some(HOME.to_owned()),
        stdio,
    }
}

/// sshd's environment for root, the VM's `/etc/environment` (as `pam_env` adds it), the
/// terminal type, then what the client sent.
fn environment(
    peer: &Peer,
    vm_env: &[(String, String)],
    request: &Request,
) -> Vec<(String, String)> {
    let (remote, local) = (peer.remote, peer.local);
    let mut env: Vec<(String, String)> = [
        ("PATH", PATH.to_owned()),
        ("HOME", HOME.to_owned()),
        ("USER", USER.to_owned()),
        ("LOGNAME", USER.to_owned()),
        ("SHELL", "/bin/bash".to_owned()),
        (
            "SSH_CONNECTION",
            format!(
                "{} {} {} {}",
                remote.ip(),
                remote.port(),
                local.ip(),
                local.port()
            ),
        ),
        (
            "SSH_CLIENT",
            format!("{} {} {}", remote.ip(), remote.port(), local.port()),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let term = request
        .pty
        .as_ref()
        .map(|(term, _)| ("TERM".to_owned(), term.clone()));
    let vm_env = vm_env.iter().cloned();
    for (name, value) in vm_env.chain(term).chain(request.env.iter().cloned()) {
        match env.iter_mut().find(|(known, _)| *known == name) {
            Some(entry) => entry.1 = value,
            None => env.push((name, value)),
        }
    }
    env
}

/// Whether an `env` request names a variable that can be set.
pub(super) fn valid_env(name: &str, value: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0']) && !value.contains('\0')
}

/// The terminal size a client asked for, or the default for sizes of 0 or out of range.
pub(super) fn pty_size(cols: u32, rows: u32) -> PtySize {
    match (u16::try_from(rows), u16::try_from(cols)) {
        (Ok(rows), Ok(cols)) if rows > 0 && cols > 0 => PtySize { rows, cols },
        _ => DEFAULT_PTY_SIZE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Request {
        Request::default()
    }

    fn peer() -> Peer {
        Peer {
            remote: SocketAddr::from(([127, 0, 0, 1], 40000)),
            local: SocketAddr::from(([127, 0, 0, 1], 2222)),
        }
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn environment_is_sshd_like_and_the_client_adds_to_it() {
        let mut slot = slot();
        slot.pty = Some(("xterm-256color".into(), DEFAULT_PTY_SIZE));
        slot.env.push(("LANG".into(), "C.UTF-8".into()));
        slot.env.push(("HOME".into(), "/tmp".into()));
        slot.env.push(("GREETING".into(), "from the client".into()));
        let vm_env = [
            ("GREETING".to_owned(), "from the VM".to_owned()),
            ("REGION".to_owned(), "local".to_owned()),
        ];
        let env = environment(&peer(), &vm_env, &slot);
        assert_eq!(
            get(&env, "REGION"),
            Some("local"),
            "/etc/environment is read"
        );
        assert_eq!(get(&env, "GREETING"), Some("from the client"));
        assert_eq!(get(&env, "PATH"), Some(PATH));
        assert_eq!(get(&env, "USER"), Some("root"));
        assert_eq!(get(&env, "TERM"), Some("xterm-256color"));
        assert_eq!(get(&env, "LANG"), Some("C.UTF-8"));
        assert_eq!(get(&env, "HOME"), Some("/tmp"));
        assert_eq!(
            get(&env, "SSH_CONNECTION"),
            Some("127.0.0.1 40000 127.0.0.1 2222")
        );
        assert_eq!(get(&env, "SSH_CLIENT"), Some("127.0.0.1 40000 2222"));
        assert_eq!(env.iter().filter(|(n, _)| n == "HOME").count(), 1);
    }

    #[test]
    fn environment_without_terminal_has_no_term() {
        let env = environment(&peer(), &[], &slot());
        assert_eq!(get(&env, "TERM"), None);
        assert_eq!(env.len(), 7);
    }

    #[test]
    fn commands_run_in_root_home_through_bash() {
        let command = command(Program::Exec(b"echo hi".to_vec()), &peer(), &[], &slot());
        assert_eq!(command.argv, ["/bin/bash", "-c", "echo hi"]);
        assert_eq!(command.cwd.as_deref(), Some("/root"));
        assert!(matches!(command.stdio, Stdio::Pipes));
        let mut with_pty = slot();
        with_pty.pty = Some((
            "vt100".into(),
            PtySize {
                rows: 40,
                cols: 100,
            },
        ));
        let shell = command_for_shell(&with_pty);
        assert_eq!(shell.argv, ["/bin/bash", "-l"]);
        assert!(matches!(
            shell.stdio,
            Stdio::Pty(PtySize {
                rows: 40,
                cols: 100
            })
        ));
        let sftp = self::command(Program::Sftp, &peer(), &[], &with_pty);
        assert_eq!(sftp.argv, [SFTP_SERVER]);
        assert!(
            matches!(sftp.stdio, Stdio::Pipes),
            "sftp never gets a terminal"
        );
    }

    fn command_for_shell(slot: &Request) -> Command {
        command(Program::Shell, &peer(), &[], slot)
    }

    #[test]
    fn bad_env_names_and_sizes_are_refused_or_defaulted() {
        assert!(valid_env("LANG", "C"));
        assert!(!valid_env("", "x"));
        assert!(!valid_env("A=B", "x"));
        assert!(!valid_env("A", "x\0y"));
        assert_eq!(pty_size(0, 0), DEFAULT_PTY_SIZE);
        assert_eq!(
            pty_size(120, 50),
            PtySize {
                rows: 50,
                cols: 120
            }
        );
        assert_eq!(pty_size(70000, 50), DEFAULT_PTY_SIZE);
    }
}
