//! One benchmark run: every path measured on loopback, then at the emulated round-trip time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use futures::StreamExt;
use tether_testkit::{PiInstall, SshOutput};

use crate::Samples;
use crate::floor::{local_process_starts, tcp_round_trips};
use crate::lab::{Lab, Network};
use crate::openssh::{ControlMaster, tutorial_call};
use crate::pipath::{self, PI_VERSION, PiPath};
use crate::transfer::{self, Transfers, random_file};
use crate::warm::{ECHO, Warm};

/// How much to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The round-trip time the relays emulate for the second network.
    pub rtt: Duration,
    /// Latency samples for the floor, tether and the ControlMaster.
    pub samples: usize,
    /// Latency samples for the tutorial's design on loopback.
    pub tutorial_samples: usize,
    /// Latency samples for the tutorial's design at the emulated RTT (it is slow there).
    pub tutorial_samples_delayed: usize,
    /// Commands in flight at once for the throughput figures.
    pub flights: usize,
    /// Commands run by tether for the throughput figure on loopback.
    pub tether_commands: usize,
    /// Commands run by tether for the throughput figure at the emulated RTT.
    pub tether_commands_delayed: usize,
    /// Commands run through the ControlMaster for a throughput figure.
    pub openssh_commands: usize,
    /// Size of the transferred file in bytes.
    pub file_bytes: u64,
    /// Runs of each transfer (the median is reported).
    pub transfer_samples: usize,
    /// `bash` calls timed through each pi (after one warm-up).
    pub pi_samples: usize,
}

impl Plan {
    /// The full run the README's figures come from (a few minutes on two cores).
    pub fn full() -> Plan {
        Plan {
            rtt: Duration::from_millis(20),
            samples: 50,
            tutorial_samples: 30,
            tutorial_samples_delayed: 15,
            flights: 16,
            tether_commands: 3000,
            tether_commands_delayed: 800,
            openssh_commands: 160,
            file_bytes: 100_000_000,
            transfer_samples: 5,
            pi_samples: 25,
        }
    }

    /// A short run that checks every path works (`TETHER_BENCH_QUICK=1`).
    pub fn quick() -> Plan {
        Plan {
            samples: 10,
            tutorial_samples: 5,
            tutorial_samples_delayed: 3,
            tether_commands: 200,
            tether_commands_delayed: 64,
            openssh_commands: 32,
            file_bytes: 5_000_000,
            transfer_samples: 1,
            pi_samples: 3,
            ..Plan::full()
        }
    }
}

/// Per-command latency of each path.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// A 1-byte TCP round trip: the network's floor.
    pub floor: Samples,
    /// tether's warm path.
    pub tether: Samples,
    /// A new `ssh` process per call over a ControlMaster.
    pub control_master: Samples,
    /// The tutorial's design: key fetch, key file, `ssh` + `openssl s_client` per call.
    pub tutorial: Samples,
    /// tether writing a 4 KiB file on the warm path.
    pub write: Samples,
    /// tether reading that file back on the warm path.
    pub read: Samples,
}

/// Commands per second with many in flight.
#[derive(Clone, Debug, Default)]
pub struct Throughput {
    /// Commands in flight at once.
    pub flights: usize,
    /// Commands tether ran, and how long they took.
    pub tether: (usize, Duration),
    /// Commands run through the ControlMaster, and how long they took.
    pub control_master: (usize, Duration),
    /// The same command started as a local process on this host (the ceiling), and how long
    /// that took.
    pub local: (usize, Duration),
}

/// Commands per second for `(commands, elapsed)`.
pub fn per_second((commands, elapsed): (usize, Duration)) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs == 0.0 {
        return 0.0;
    }
    commands as f64 / secs
}

/// Everything measured over one network.
#[derive(Clone, Debug, Default)]
pub struct NetworkResults {
    /// `loopback` or `20 ms RTT`.
    pub name: String,
    /// The emulated round-trip time (zero on loopback).
    pub rtt: Duration,
    /// Per-command latency.
    pub latency: Latency,
    /// Commands per second.
    pub throughput: Throughput,
    /// File transfers.
    pub transfers: Transfers,
    /// The pi path (none when pi could not run here; see [`Results::pi_skipped`]).
    pub pi: Option<PiPath>,
}

/// A whole run.
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// On loopback.
    pub loopback: NetworkResults,
    /// At the emulated round-trip time.
    pub delayed: NetworkResults,
    /// Why the pi path was not measured, if it was not.
    pub pi_skipped: Option<String>,
}

/// Starts the simulator and measures everything in `plan`. Progress goes to stderr.
///
/// Commands are measured on both networks before any file moves, so the disk writeback that
/// big transfers leave behind does not slow the process starts that command latency includes.
pub async fn run(plan: &Plan) -> anyhow::Result<Results> {
    let lab = Lab::start().await?;
    let mut loopback = commands(&lab, None, plan).await?;
    let mut delayed = commands(&lab, Some(plan.rtt), plan).await?;
    let pi_skipped = match PiInstall::find(PI_VERSION) {
        Ok(install) => {
            for (network, results) in [(&loopback.0, &mut loopback.1), (&delayed.0, &mut delayed.1)]
            {
                progress(network, "the pi path");
                results.pi = Some(pipath::measure(&lab, network, &install, plan.pi_samples).await?);
            }
            None
        }
        Err(why) => Some(why),
    };
    let file = random_file(lab.scratch(), plan.file_bytes)?;
    for (network, results) in [(&loopback.0, &mut loopback.1), (&delayed.0, &mut delayed.1)] {
        progress(network, "file transfers");
        let warm = Warm::connect(&lab, network).await?;
        results.transfers =
            transfer::measure(&lab, network, &warm, &file, plan.transfer_samples).await?;
    }
    Ok(Results {
        loopback: loopback.1,
        delayed: delayed.1,
        pi_skipped,
    })
}

/// Per-command latency and commands in flight over a new network (which is kept for the
/// transfers).
async fn commands(
    lab: &Lab,
    rtt: Option<Duration>,
    plan: &Plan,
) -> anyhow::Result<(Network, NetworkResults)> {
    let network = lab.network(rtt)?;
    let warm = Warm::connect(lab, &network).await?;
    let master = ControlMaster::start(lab.key_file(), &network.gateway, &lab.host()).await?;
    progress(&network, "per-command latency");
    let latency = latency(lab, &network, &warm, &master, plan).await?;
    progress(&network, "commands in flight");
    let throughput = throughput(&warm, &master, network.rtt, plan).await?;
    master.stop().await?;
    let results = NetworkResults {
        name: network.name.clone(),
        rtt: network.rtt,
        latency,
        throughput,
        transfers: Transfers::default(),
        pi: None,
    };
    Ok((network, results))
}

fn progress(network: &Network, what: &str) {
    eprintln!("tether-bench: {what} on {}", network.name);
}

async fn latency(
    lab: &Lab,
    network: &Network,
    warm: &Warm,
    master: &ControlMaster,
    plan: &Plan,
) -> anyhow::Result<Latency> {
    let floor = tcp_round_trips(network.rtt, plan.samples).await?;
    let tether = Samples::collect(plan.samples, || warm.echo_hi()).await?;
    let control_master =
        Samples::collect(plan.samples, || async { said_hi(master.run(ECHO).await?) }).await?;
    let tutorial_samples = if network.rtt.is_zero() {
        plan.tutorial_samples
    } else {
        plan.tutorial_samples_delayed
    };
    let host = lab.host();
    let tutorial = Samples::collect(tutorial_samples, || async {
        let call = tutorial_call(&network.api, lab.vm(), &host, &network.gateway, ECHO);
        said_hi(call.await?)
    })
    .await?;
    let target = warm.target();
    let write = Samples::collect(plan.samples, || warm.write_small(&target)).await?;
    let read = Samples::collect(plan.samples, || warm.read_small(&target)).await?;
    Ok(Latency {
        floor,
        tether,
        control_master,
        tutorial,
        write,
        read,
    })
}

async fn throughput(
    warm: &Arc<Warm>,
    master: &ControlMaster,
    rtt: Duration,
    plan: &Plan,
) -> anyhow::Result<Throughput> {
    let commands = if rtt.is_zero() {
        plan.tether_commands
    } else {
        plan.tether_commands_delayed
    };
    let tether = warm.in_flight(plan.flights, commands).await?;
    let start = std::time::Instant::now();
    let calls = (0..plan.openssh_commands).map(|_| master.run(ECHO));
    let mut calls = futures::stream::iter(calls).buffer_unordered(plan.flights);
    while let Some(call) = calls.next().await {
        said_hi(call?)?;
    }
    let control_master = (plan.openssh_commands, start.elapsed());
    let local = local_process_starts(plan.flights, commands).await?;
    Ok(Throughput {
        flights: plan.flights,
        tether: (commands, tether),
        control_master,
        local: (commands, local),
    })
}

/// Fails unless an OpenSSH run of [`ECHO`] printed exactly `hi`.
fn said_hi(output: SshOutput) -> anyhow::Result<()> {
    if output.stdout != b"hi\n" {
        bail!("`{ECHO}` over OpenSSH printed {:?}", output.stdout_str());
    }
    Ok(())
}
