//! A throwaway OpenSSH server on loopback. The test owns the listening socket (port 0, never
//! re-bound) and hands each accepted connection to `sshd -i` (inetd mode), with its own host
//! key and one authorized key.
//!
//! The host's login dotfiles must not change what the tests see (a `pyenv rehash` in root's
//! profile once broke them), so each `sshd` runs in a mount namespace of its own where root's
//! home is a scratch directory, with a `.bashrc` whose login shell talks ([`NOISY_BASHRC`]).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use russh::keys::PrivateKey;

use super::NOISY_BASHRC;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

const SSHD: &str = "/usr/sbin/sshd";
/// Root's home, as `sshd` finds it in the password database.
const ROOT_HOME: &str = "/root";

/// A listening loopback port served by `sshd -i`; stopped (and every sshd killed) on drop.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    accept: JoinHandle<()>,
    children: Arc<Mutex<Vec<Child>>>,
}

impl Sshd {
    /// Starts it, or says why it cannot run here.
    pub async fn start() -> Result<Sshd, String> {
        if !Path::new(SSHD).exists() {
            return Err(format!(
                "{SSHD} is not installed (apt-get install openssh-server)"
            ));
        }
        if !nix::unistd::geteuid().is_root() {
            return Err("a loopback sshd that logs in as root needs root".into());
        }
        std::fs::create_dir_all("/run/sshd")
            .map_err(|e| format!("cannot create /run/sshd: {e}"))?;
        let dir = tempfile::Builder::new()
            .prefix("tether-sshd-")
            .tempdir()
            .unwrap();
        keygen(&dir.path().join("host_key")).await?;
        keygen(&dir.path().join("client_key")).await?;
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        std::fs::write(dir.path().join("sshd_config"), config(dir.path())).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::write(home.join(".bashrc"), NOISY_BASHRC).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let children = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn(serve(listener, dir.path().to_path_buf(), children.clone()));
        Ok(Sshd {
            dir,
            port,
            accept,
            children,
        })
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The key `sshd` accepts for root.
    pub fn client_key(&self) -> Arc<PrivateKey> {
        Arc::new(russh::keys::load_secret_key(self.dir.path().join("client_key"), None).unwrap())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.accept.abort();
        for child in self.children.lock().unwrap().iter_mut() {
            let _ = child.start_kill();
        }
    }
}

async fn keygen(path: &Path) -> Result<(), String> {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .await
        .map_err(|e| format!("ssh-keygen cannot run ({e}); apt-get install openssh-client"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ssh-keygen failed: {status}"))
    }
}

fn config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "HostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n\
         LogLevel ERROR\n"
    )
}

/// Makes `command` run in a mount namespace of its own in which `home` is mounted over root's
/// home directory.
fn with_home(command: &mut Command, home: &Path) {
    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};
    let home = std::ffi::CString::new(home.as_os_str().as_encoded_bytes()).unwrap();
    let target = std::ffi::CString::new(ROOT_HOME).unwrap();
    let root = std::ffi::CString::new("/").unwrap();
    // SAFETY: between fork and exec only the unshare and mount system calls run, on strings
    // made before the fork.
    unsafe {
        command.pre_exec(move || {
            unshare(CloneFlags::CLONE_NEWNS)?;
            let none: Option<&std::ffi::CStr> = None;
            mount(
                none,
                root.as_c_str(),
                none,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                none,
            )?;
            mount(
                Some(home.as_c_str()),
                target.as_c_str(),
                none,
                MsFlags::MS_BIND,
                none,
            )?;
            Ok(())
        });
    }
}

/// Hands every connection to its own `sshd -i`.
async fn serve(listener: TcpListener, dir: PathBuf, children: Arc<Mutex<Vec<Child>>>) {
    while let Ok((stream, _)) = listener.accept().await {
        // sshd sets TCP_NODELAY only for interactive sessions; without it every exec waits on
        // delayed ACKs.
        stream.set_nodelay(true).unwrap();
        let stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        let input = OwnedFd::from(stream);
        let output = input.try_clone().unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("sshd.log"))
            .unwrap();
        let mut command = Command::new(SSHD);
        command
            .args(["-i", "-e", "-f"])
            .arg(dir.join("sshd_config"));
        with_home(&mut command, &dir.join("home"));
        let child = command
            .stdin(Stdio::from(input))
            .stdout(Stdio::from(output))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        children.lock().unwrap().push(child);
    }
}
