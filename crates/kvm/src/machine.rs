//! Starting and stopping a QEMU microVM.
//!
//! # Findings (QEMU 10.0 `microvm`, Debian 6.1 kernel)
//!
//! - The Debian kernel has every virtio driver as a module, so the initramfs loads
//!   `virtio_mmio`, `virtio_blk`, `virtio_console`, `virtio_net`, `virtio-rng` and `ext4`
//!   itself, passing the `virtio_mmio.device=` words QEMU appends to the command line.
//! - The kernel is booted as an uncompressed `vmlinux` through its PVH entry (QEMU loads an
//!   ELF with a PVH note directly), which skips the bzImage decompressor.
//! - The agent's port is a `virtserialport` on `virtio-serial-device` (MMIO); its chardev
//!   is a Unix socket on which *this* process listens and QEMU connects as the client, so
//!   the connection exists before the guest boots and no hello can be lost.
//! - On a host whose KVM is PVM (`/sys/module/kvm_pvm`, a nested "pagetable-based" KVM that
//!   runs only guest kernels built for it), a stock kernel runs about a thousand times
//!   slower than native (tens of seconds per boot stage) and `-cpu host` fails on MSR
//!   0x10a; [`probe_accel`] picks TCG there.
//! - Under TCG the guest kernel's TSC calibration against the emulated PIT fails on a busy
//!   host and the boot then hangs before the first user-space line; the host measures its
//!   own TSC rate (the guest's TSC under TCG) and passes it as `tsc_early_khz=`.
//! - Pause/resume is QMP `stop`/`cont`; a memory snapshot is `migrate` to `file:` (QEMU ≥ 8.2,
//!   `mapped-ram` ≥ 9.0), restored with `-incoming`; children sharing a parent's pages
//!   copy-on-write need its RAM in a file (`-object memory-backend-file,share=off,mem-path=…`)
//!   that no VM writes any more. None of that is implemented here yet.

use crate::agent::{AgentClient, Hello};
use crate::clock::TscMark;
use crate::error::KvmError;
use crate::image::{GuestImage, tail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tether_guest_proto::PORT_NAME;
use tokio::net::UnixListener;
use tokio::process::{Child, Command};

/// How long QEMU may take to connect to the agent socket after it starts.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times QEMU is started when it stops before the guest kernel printed anything.
/// Under TCG here, about one start in six ends so, in the firmware, with exit status 0 and no
/// reset or fault logged (`-d cpu_reset,guest_errors`); the cause is not known.
const START_ATTEMPTS: u32 = 3;
/// How long a guest may take from power-on to the agent's hello (TCG is slow).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a powered-off guest's QEMU may take to exit before it is killed.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `qemu-img create` may take.
const QEMU_IMG_TIMEOUT: Duration = Duration::from_secs(30);

/// How QEMU runs the guest's CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm (`-accel kvm -cpu host`).
    Kvm,
    /// QEMU's translator (`-accel tcg -cpu max`): slower, works anywhere.
    Tcg,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// The boot files.
    pub image: GuestImage,
    /// Guest RAM in MiB (`-m`).
    pub mem_mib: u32,
    /// Virtual CPUs (`-smp`).
    pub vcpus: u32,
    /// The root disk's size in MiB (the overlay's virtual size; the filesystem keeps the
    /// image's size), or the image's own size.
    pub disk_mib: Option<u64>,
    /// User-mode networking (`-netdev user`): 10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3.
    pub network: bool,
    /// The accelerator, or `None` for [`probe_accel`]'s choice.
    pub accel: Option<Accel>,
    /// The guest's hostname.
    pub hostname: String,
    /// Power-on to hello deadline.
    pub boot_timeout: Duration,
}

impl VmConfig {
    /// 512 MiB, 1 vCPU, networking on, accelerator probed.
    pub fn new(image: GuestImage) -> Self {
        Self {
            image,
            mem_mib: 512,
            vcpus: 1,
            disk_mib: None,
            network: true,
            accel: None,
            hostname: "tether".into(),
            boot_timeout: BOOT_TIMEOUT,
        }
    }
}

/// The accelerator to use here: KVM when /dev/kvm opens read-write and is not PVM (see
/// the module docs), else TCG. `TETHER_KVM_ACCEL=kvm|tcg` overrides. Fails when
/// `qemu-system-x86_64` is not installed.
pub fn probe_accel() -> Result<Accel, KvmError> {
    if which("qemu-system-x86_64").is_none() {
        return Err(KvmError::Unavailable {
            reason: "qemu-system-x86_64 is not installed: apt-get install -y qemu-system-x86 (on Debian bookworm: -t bookworm-backports, to match qemu-utils)".into(),
        });
    }
    match std::env::var("TETHER_KVM_ACCEL").as_deref() {
        Ok("kvm") => return Ok(Accel::Kvm),
        Ok("tcg") => return Ok(Accel::Tcg),
        _ => {}
    }
    let kvm_opens = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let pvm = Path::new("/sys/module/kvm_pvm").exists();
    Ok(if kvm_opens && !pvm {
        Accel::Kvm
    } else {
        Accel::Tcg
    })
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A running guest. Dropping it kills QEMU and removes its files; [`Vm::shutdown`] stops it
/// cleanly.
pub struct Vm {
    child: Child,
    agent: AgentClient,
    hello: Hello,
    accel: Accel,
    boot_time: Duration,
    dir: tempfile::TempDir,
}

impl Vm {
    /// Creates the VM's overlay disk, starts QEMU and waits for the agent's hello.
    pub async fn start(config: VmConfig) -> Result<Self, KvmError> {
        let accel = match config.accel {
            Some(accel) => accel,
            None => probe_accel()?,
        };
        let tsc_mark = TscMark::now();
        let dir = tempfile::Builder::new()
            .prefix("tether-kvm-")
            .tempdir()
            .map_err(|e| KvmError::io("creating the VM's directory", e))?;
        let disk = dir.path().join("disk.qcow2");
        create_overlay(&config.image.rootfs, &disk, config.disk_mib).await?;
        let socket = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket)
            .map_err(|e| KvmError::io(format!("listening on {}", socket.display()), e))?;
        let tsc_khz = match accel {
            Accel::Tcg => tsc_mark.and_then(|mark| mark.khz()),
            Accel::Kvm => None,
        };
        let mut attempt = 1;
        let (child, agent, hello, started) = loop {
            let started = Instant::now();
            let mut child = spawn_qemu(&config, accel, tsc_khz, dir.path(), &disk, &socket)?;
            let outcome = tokio::select! {
                agent = connect_agent(&listener, config.boot_timeout) => Ok(agent),
                status = child.wait() => Err(status),
            };
            match outcome {
                Ok(Ok((agent, hello))) => break (child, agent, hello, started),
                Ok(Err(e)) => return Err(with_console(e, dir.path())),
                Err(Ok(status))
                    if status.success()
                        && attempt < START_ATTEMPTS
                        && console_empty(dir.path()) =>
                {
                    tracing::warn!(
                        attempt,
                        "QEMU stopped before the guest kernel printed anything; starting it again"
                    );
                    attempt += 1;
                }
                Err(status) => return Err(exited(dir.path(), "the agent's hello", status)),
            }
        };
        Ok(Self {
            child,
            agent,
            hello,
            accel,
            boot_time: started.elapsed(),
            dir,
        })
    }

    /// The agent client (clone it freely).
    pub fn agent(&self) -> &AgentClient {
        &self.agent
    }

    /// The accelerator QEMU runs the guest with.
    pub fn accel(&self) -> Accel {
        self.accel
    }

    /// From spawning QEMU to the agent's hello.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// The guest's uptime at the agent's hello.
    pub fn hello(&self) -> Hello {
        self.hello
    }

    /// The guest's serial console so far (kernel messages, the agent's errors).
    pub fn console(&self) -> String {
        console_tail(self.dir.path(), 200)
    }

    /// Powers the guest off and waits for QEMU to exit; kills it past [`SHUTDOWN_TIMEOUT`].
    pub async fn shutdown(mut self) -> Result<(), KvmError> {
        let _ = self.agent.power_off();
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, self.child.wait()).await {
            Ok(status) => status
                .map(|_| ())
                .map_err(|e| KvmError::io("waiting for QEMU", e)),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(KvmError::Timeout {
                    what: "QEMU to exit after the guest powered off (killed it)",
                    timeout: SHUTDOWN_TIMEOUT,
                    hint: String::new(),
                })
            }
        }
    }
}

async fn create_overlay(base: &Path, disk: &Path, size_mib: Option<u64>) -> Result<(), KvmError> {
    let mut command = Command::new("qemu-img");
    command
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(base)
        .arg(disk);
    if let Some(size) = size_mib {
        command.arg(format!("{size}M"));
    }
    command.kill_on_drop(true);
    let output = tokio::time::timeout(QEMU_IMG_TIMEOUT, command.output())
        .await
        .map_err(|_| KvmError::Timeout {
            what: "qemu-img create",
            timeout: QEMU_IMG_TIMEOUT,
            hint: String::new(),
        })?
        .map_err(|e| KvmError::io("running qemu-img (apt-get install -y qemu-utils)", e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let e = std::io::Error::other(stderr);
        return Err(KvmError::io(
            format!("qemu-img create of an overlay on {}", base.display()),
            e,
        ));
    }
    Ok(())
}

/// QEMU's arguments; `tsc_khz` is the host's TSC rate for a TCG guest (see [`crate::clock`]).
fn qemu_args(
    config: &VmConfig,
    accel: Accel,
    tsc_khz: Option<u64>,
    dir: &Path,
    disk: &Path,
    socket: &Path,
) -> Vec<String> {
    let (accel_arg, cpu) = match accel {
        Accel::Kvm => ("kvm", "host"),
        Accel::Tcg => ("tcg", "max"),
    };
    let mut append = format!(
        "console=ttyS0 quiet panic=-1 tether.hostname={}",
        config.hostname
    );
    if let Some(khz) = tsc_khz {
        append.push_str(&format!(" tsc_early_khz={khz}"));
    }
    let mut args: Vec<String> = [
        "-M",
        "microvm",
        "-accel",
        accel_arg,
        "-cpu",
        cpu,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ]
    .map(String::from)
    .into();
    let path = |p: &Path| p.display().to_string();
    args.extend([
        "-m".into(),
        format!("{}M", config.mem_mib),
        "-smp".into(),
        config.vcpus.to_string(),
        "-kernel".into(),
        path(&config.image.kernel),
        "-initrd".into(),
        path(&config.image.initrd),
        "-append".into(),
        append,
        "-serial".into(),
        format!("file:{}", path(&dir.join("console.log"))),
        "-drive".into(),
        format!("file={},format=qcow2,if=none,id=root", path(disk)),
        "-device".into(),
        "virtio-blk-device,drive=root".into(),
        "-device".into(),
        "virtio-rng-device".into(),
        "-device".into(),
        "virtio-serial-device".into(),
        "-chardev".into(),
        // QEMU reconnects if its end of the socket drops (seen: about one start in thirty
        // closes it before the guest has booted).
        format!("socket,id=agent,path={},reconnect-ms=100", path(socket)),
        "-device".into(),
        format!("virtserialport,chardev=agent,name={PORT_NAME}"),
    ]);
    if config.network {
        args.extend(
            [
                "-netdev",
                "user,id=net0",
                "-device",
                "virtio-net-device,netdev=net0",
            ]
            .map(String::from),
        );
    }
    args
}

fn spawn_qemu(
    config: &VmConfig,
    accel: Accel,
    tsc_khz: Option<u64>,
    dir: &Path,
    disk: &Path,
    socket: &Path,
) -> Result<Child, KvmError> {
    let log = std::fs::File::create(dir.join("qemu.log"))
        .map_err(|e| KvmError::io("creating qemu.log", e))?;
    Command::new("qemu-system-x86_64")
        .args(qemu_args(config, accel, tsc_khz, dir, disk, socket))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            KvmError::io(
                "starting qemu-system-x86_64 (apt-get install -y qemu-system-x86)",
                e,
            )
        })
}

/// Accepts QEMU's connection and reads the agent's hello; a connection QEMU closes before
/// the hello is replaced by the one it makes next (`reconnect-ms`), within `boot_timeout`.
async fn connect_agent(
    listener: &UnixListener,
    boot_timeout: Duration,
) -> Result<(AgentClient, Hello), KvmError> {
    let deadline = Instant::now() + boot_timeout;
    loop {
        let (stream, _) = tokio::time::timeout(CONNECT_TIMEOUT, listener.accept())
            .await
            .map_err(|_| KvmError::Timeout {
                what: "QEMU to connect the agent socket",
                timeout: CONNECT_TIMEOUT,
                hint: String::new(),
            })?
            .map_err(|e| KvmError::io("accepting QEMU's agent connection", e))?;
        let (reader, writer) = stream.into_split();
        let left = deadline.saturating_duration_since(Instant::now());
        match AgentClient::connect(reader, writer, left).await {
            Err(KvmError::ClosedBeforeHello) if !left.is_zero() => {
                tracing::debug!("QEMU closed the agent socket before the hello; accepting again");
            }
            result => return result,
        }
    }
}

fn exited(
    dir: &Path,
    what: &'static str,
    status: std::io::Result<std::process::ExitStatus>,
) -> KvmError {
    KvmError::QemuExited {
        what,
        status: status.map_or_else(|e| e.to_string(), |s| s.to_string()),
        console: console_tail(dir, 30),
    }
}

/// Whether the guest has printed nothing on its console yet.
fn console_empty(dir: &Path) -> bool {
    std::fs::read(dir.join("console.log")).map_or(true, |c| c.iter().all(u8::is_ascii_whitespace))
}

/// A timeout's error with the console's tail as its hint.
fn with_console(error: KvmError, dir: &Path) -> KvmError {
    match error {
        KvmError::Timeout { what, timeout, .. } => KvmError::Timeout {
            what,
            timeout,
            hint: format!("; guest console tail:\n{}", console_tail(dir, 30)),
        },
        KvmError::Disconnected { reason } => KvmError::Disconnected {
            reason: format!("{reason}; guest console tail:\n{}", console_tail(dir, 30)),
        },
        other => other,
    }
}

fn console_tail(dir: &Path, lines: usize) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!(
        "{}\n{}",
        tail(&read("console.log"), lines),
        tail(&read("qemu.log"), 10)
    )
}
