//! OpenSSH through the gateway, as the tutorial does it: `ssh` with an `openssl s_client`
//! ProxyCommand that opens TLS with the VM's name as SNI.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::{Api, STEP_DEADLINE, SimInfo, within};

/// What an `ssh` run produced.
#[derive(Clone, Debug)]
pub struct SshOutput {
    /// Exit code of `ssh` (the remote command's code, or 255 for connection errors).
    pub code: Option<i32>,
    /// Remote stdout.
    pub stdout: Vec<u8>,
    /// Remote stderr (and ssh's own messages).
    pub stderr: Vec<u8>,
}

impl SshOutput {
    /// Stdout as text.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Stderr as text.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// An OpenSSH client for one VM.
pub struct Ssh {
    info: SimInfo,
    api: Api,
    vm_id: String,
}

impl Ssh {
    pub(crate) fn new(info: SimInfo, api: Api, vm_id: &str) -> Ssh {
        Ssh {
            info,
            api,
            vm_id: vm_id.into(),
        }
    }

    /// The VM's SSH host name: `<vm_id>.<vm_domain>`.
    pub fn host(&self) -> String {
        format!("{}.{}", self.vm_id, self.info.vm_domain)
    }

    /// Fetches the VM's private key from `/ssh_key` into a fresh 0600 file.
    pub async fn key_file(&self) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
        let key = self.api.ssh_key(&self.vm_id).await?;
        let dir = tempfile::Builder::new().prefix("tether-key-").tempdir()?;
        let path = dir.path().join("id");
        std::fs::write(&path, key)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok((dir, path))
    }

    /// The tutorial's command, unchanged but for the gateway address: no CA check, no host key
    /// check. Returns the argv (program first).
    pub fn tutorial_argv(&self, key: &std::path::Path, remote: &str) -> Vec<String> {
        let proxy = format!(
            "ProxyCommand=openssl s_client -connect {} -servername %h -quiet",
            self.info.ssh_gateway
        );
        let mut argv = vec!["ssh".to_owned(), "-i".to_owned(), key.display().to_string()];
        for option in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            &proxy,
        ] {
            argv.extend(["-o".to_owned(), option.to_owned()]);
        }
        argv.extend([format!("root@{}", self.host()), remote.to_owned()]);
        argv
    }

    /// Like the tutorial's command, but the TLS certificate is verified against the
    /// simulator's CA and ssh stays quiet and non-interactive.
    pub fn verified_argv(&self, key: &std::path::Path, remote: &str) -> Vec<String> {
        let mut argv = self.tutorial_argv(key, remote);
        let proxy = format!(
            "ProxyCommand=openssl s_client -connect {} -servername %h -quiet -verify_quiet -verify_return_error -verify_hostname %h -CAfile {}",
            self.info.ssh_gateway,
            self.info.ca_cert.display()
        );
        let at = argv
            .iter()
            .position(|a| a.starts_with("ProxyCommand="))
            .unwrap_or(0);
        argv[at] = proxy;
        let remote_at = argv.len() - 2;
        for option in ["LogLevel=ERROR", "BatchMode=yes", "ConnectTimeout=20"] {
            argv.splice(remote_at..remote_at, ["-o".to_owned(), option.to_owned()]);
        }
        argv
    }

    /// Runs `remote` on the VM through the verified command.
    pub async fn run(&self, remote: &str) -> anyhow::Result<SshOutput> {
        self.run_with_stdin(remote, &[]).await
    }

    /// Runs `remote` with `stdin` fed to it.
    pub async fn run_with_stdin(&self, remote: &str, stdin: &[u8]) -> anyhow::Result<SshOutput> {
        let (_dir, key) = self.key_file().await?;
        run_argv(&self.verified_argv(&key, remote), stdin).await
    }
}

/// Runs an argv with `stdin`, collecting output, within the step deadline.
pub async fn run_argv(argv: &[String], stdin: &[u8]) -> anyhow::Result<SshOutput> {
    let Some((program, args)) = argv.split_first() else {
        bail!("empty argv")
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("could not run {program}"))?;
    let mut pipe = child.stdin.take().context("no stdin pipe")?;
    let input = stdin.to_vec();
    let feeder = tokio::spawn(async move {
        let _ = pipe.write_all(&input).await;
    });
    let output = within(STEP_DEADLINE, &format!("`{}`", argv.join(" ")), async {
        Ok(child.wait_with_output().await?)
    })
    .await?;
    let _ = feeder.await;
    Ok(SshOutput {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}
