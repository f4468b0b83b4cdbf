//! A real QEMU microVM: boot, then every agent scenario inside the guest, then the
//! configured memory and vCPUs, then a clean power-off. One boot for all (a TCG boot takes
//! seconds). Skips, saying why, where /dev/kvm, QEMU or the image's prerequisites are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::scenarios;
use std::path::Path;
use std::time::{Duration, Instant};
use tether_kvm::{GuestImage, KvmError, Vm, VmConfig};

/// Building the image from nothing (mmdebstrap, the static tether-guest) plus one boot.
const TEST_TIMEOUT: Duration = Duration::from_secs(540);

async fn image() -> Option<GuestImage> {
    if !Path::new("/dev/kvm").exists() {
        println!("SKIP: /dev/kvm is missing (no KVM on this machine)");
        return None;
    }
    if let Err(e) = tether_kvm::probe_accel() {
        println!("SKIP: {e}");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/guest-image.sh");
    match GuestImage::build(&script).await {
        Ok(image) => Some(image),
        Err(KvmError::Unavailable { reason }) => {
            println!("SKIP: the guest image cannot be built here: {reason}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn a_guest_boots_and_serves_every_scenario() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let Some(image) = image().await else { return };
        let mut config = VmConfig::new(image);
        config.mem_mib = 384;
        config.vcpus = 2;
        let started = Instant::now();
        let vm = Vm::start(config).await.unwrap();
        let agent = vm.agent().clone();
        let first = agent.output(["echo", "hi"]).await.unwrap();
        let boot_to_first_exec = started.elapsed();
        assert_eq!(first.stdout, b"hi\n");
        println!(
            "accel {:?}: QEMU spawn to hello {:?} (guest uptime {} ms), to first exec done {:?}",
            vm.accel(),
            vm.boot_time(),
            vm.hello().uptime_ms,
            boot_to_first_exec
        );
        for (name, scenario) in scenario_list() {
            let run = tokio::time::timeout(scenarios::SCENARIO_TIMEOUT, scenario(agent.clone()));
            run.await.unwrap_or_else(|_| {
                panic!("{name} ran past its deadline; console:\n{}", vm.console())
            });
        }
        let out = agent
            .output(["sh", "-c", "nproc; grep MemTotal /proc/meminfo; hostname"])
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("2"), "{text}");
        let mem_kib: u64 = lines
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (300 * 1024..=384 * 1024).contains(&mem_kib),
            "MemTotal {mem_kib} kB for -m 384M"
        );
        assert_eq!(lines.next(), Some("tether"));
        vm.shutdown().await.unwrap();
    })
    .await
    .expect("the VM test ran past its deadline");
}

type Scenario =
    fn(tether_kvm::AgentClient) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

macro_rules! list {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), (|a: tether_kvm::AgentClient| -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
            Box::pin(async move { scenarios::$name(&a).await })
        }) as Scenario)),*]
    };
}

fn scenario_list() -> Vec<(&'static str, Scenario)> {
    list!(
        echo_hi,
        exit_code_and_stderr,
        sigkill_is_128_plus_9,
        signal_kills_the_process_group,
        stdin_to_cat,
        twenty_concurrent_execs,
        env_and_cwd,
        pty_with_resize,
        missing_program_is_not_found,
        file_round_trip,
    )
}
