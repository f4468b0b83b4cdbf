//! The targets, checked against a run's figures.

use std::time::Duration;

use crate::Samples;
use crate::run::{NetworkResults, Results, per_second};
use crate::stats::{ms, ratio};
use crate::transfer::mb_per_s;
use crate::warm::SMALL_FILE;

/// The warm-command target at the emulated RTT: at most this many round trips …
pub const WARM_RTTS: f64 = 1.2;
/// … plus this much.
pub const WARM_SLACK: Duration = Duration::from_millis(2);
/// tether's warm path must be at least this many times faster than the tutorial's design.
pub const VERSUS_TUTORIAL: f64 = 50.0;
/// A 4 KiB read or write at the emulated RTT: at most this many round trips.
pub const FILE_RTTS: f64 = 1.1;
/// Commands per second with [`crate::Plan::flights`] in flight, on loopback.
pub const COMMANDS_PER_SECOND: f64 = 1000.0;

/// One target and how the run did against it.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The target, as the issue states it.
    pub target: String,
    /// The measured figure, with the limit it is held to.
    pub figure: String,
    /// Whether the figure meets the target.
    pub met: bool,
}

/// Every target, in the order.
pub fn checks(results: &Results) -> Vec<Check> {
    let mut checks = vec![
        warm_command(&results.delayed),
        pi_command(&results.delayed),
        small_file("write", &results.delayed, &results.delayed.latency.write),
        small_file("read", &results.delayed, &results.delayed.latency.read),
        versus_tutorial(&results.loopback),
        in_flight(&results.loopback),
    ];
    for network in [&results.loopback, &results.delayed] {
        checks.extend(transfers(network));
    }
    checks
}

fn warm_command(network: &NetworkResults) -> Check {
    let limit = network.rtt.mul_f64(WARM_RTTS) + WARM_SLACK;
    let p50 = network.latency.tether.p50();
    Check {
        target: format!(
            "warm command ≤ {WARM_RTTS} RTT + {} at {}",
            ms(WARM_SLACK),
            network.name
        ),
        figure: format!("p50 {} (limit {})", ms(p50), ms(limit)),
        met: p50 <= limit,
    }
}

/// The same target for `bash` through the whole pi path (tether's package).
fn pi_command(network: &NetworkResults) -> Check {
    let limit = network.rtt.mul_f64(WARM_RTTS) + WARM_SLACK;
    let target = format!(
        "warm `bash` through pi ≤ {WARM_RTTS} RTT + {} at {}",
        ms(WARM_SLACK),
        network.name
    );
    match &network.pi {
        Some(pi) => {
            let p50 = pi.tether.p50();
            Check {
                target,
                figure: format!("p50 {} (limit {})", ms(p50), ms(limit)),
                met: p50 <= limit,
            }
        }
        None => Check {
            target,
            figure: "not measured".into(),
            met: false,
        },
    }
}

/// `took` in round trips of `rtt` (zero when there is no RTT).
pub fn round_trips(took: Duration, rtt: Duration) -> f64 {
    if rtt.is_zero() {
        return 0.0;
    }
    took.as_secs_f64() / rtt.as_secs_f64()
}

fn small_file(what: &str, network: &NetworkResults, samples: &Samples) -> Check {
    let p50 = samples.p50();
    let trips = round_trips(p50, network.rtt);
    Check {
        target: format!(
            "{what} of a {} KiB file ≤ {FILE_RTTS} RTT at {}",
            SMALL_FILE / 1024,
            network.name
        ),
        figure: format!("p50 {} ({trips:.2} RTT)", ms(p50)),
        met: trips <= FILE_RTTS,
    }
}

fn versus_tutorial(network: &NetworkResults) -> Check {
    let (tether, tutorial) = (network.latency.tether.p50(), network.latency.tutorial.p50());
    let times = if tether.is_zero() {
        0.0
    } else {
        tutorial.as_secs_f64() / tether.as_secs_f64()
    };
    Check {
        target: format!(
            "≥ {VERSUS_TUTORIAL}× faster than the tutorial's design on {}",
            network.name
        ),
        figure: format!(
            "{} faster (p50 {} vs {})",
            ratio(times),
            ms(tether),
            ms(tutorial)
        ),
        met: times >= VERSUS_TUTORIAL,
    }
}

fn in_flight(network: &NetworkResults) -> Check {
    let rate = per_second(network.throughput.tether);
    Check {
        target: format!(
            "≥ {COMMANDS_PER_SECOND} commands/s with {} in flight on {}",
            network.throughput.flights, network.name
        ),
        figure: format!(
            "{rate:.0} commands/s (this host starts {:.0} of them/s locally)",
            per_second(network.throughput.local)
        ),
        met: rate >= COMMANDS_PER_SECOND,
    }
}

fn transfers(network: &NetworkResults) -> [Check; 2] {
    let t = &network.transfers;
    let check = |direction: &str, tether: f64, scp: f64| Check {
        target: format!("{direction} at least scp's throughput on {}", network.name),
        figure: format!("{tether:.0} vs {scp:.0} MB/s"),
        met: tether >= scp,
    };
    [
        check(
            "upload",
            mb_per_s(t.bytes, &t.tether_up),
            mb_per_s(t.bytes, &t.scp_up),
        ),
        check(
            "download",
            mb_per_s(t.bytes, &t.tether_down),
            mb_per_s(t.bytes, &t.scp_down),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Throughput;

    fn samples(ms: u64) -> Samples {
        Samples::from_times(vec![Duration::from_millis(ms); 3])
    }

    fn delayed(tether_ms: u64) -> NetworkResults {
        let mut network = NetworkResults {
            name: "20 ms RTT".into(),
            rtt: Duration::from_millis(20),
            ..NetworkResults::default()
        };
        network.latency.tether = samples(tether_ms);
        network
    }

    #[test]
    fn the_warm_target_is_one_point_two_round_trips_plus_two_ms() {
        assert!(warm_command(&delayed(26)).met);
        let missed = warm_command(&delayed(27));
        assert!(!missed.met);
        assert_eq!(missed.figure, "p50 27.0 ms (limit 26.0 ms)");
    }

    #[test]
    fn small_files_are_held_to_one_point_one_round_trips() {
        let network = delayed(0);
        assert!(small_file("read", &network, &samples(22)).met);
        let missed = small_file("read", &network, &samples(23));
        assert!(!missed.met);
        assert_eq!(missed.figure, "p50 23.0 ms (1.15 RTT)");
    }

    #[test]
    fn the_tutorial_ratio_compares_medians() {
        let mut network = NetworkResults::default();
        network.latency.tether = samples(4);
        network.latency.tutorial = samples(200);
        assert!(versus_tutorial(&network).met);
        network.latency.tutorial = samples(196);
        let missed = versus_tutorial(&network);
        assert!(!missed.met);
        assert_eq!(missed.figure, "49.0× faster (p50 4.0 ms vs 196.0 ms)");
    }

    #[test]
    fn throughput_and_transfers_are_held_to_their_limits() {
        let mut network = NetworkResults {
            throughput: Throughput {
                flights: 16,
                tether: (999, Duration::from_secs(1)),
                control_master: (0, Duration::ZERO),
                local: (0, Duration::ZERO),
            },
            ..NetworkResults::default()
        };
        assert!(!in_flight(&network).met);
        network.throughput.tether.0 = 1000;
        assert!(in_flight(&network).met);
        network.transfers.bytes = 100_000_000;
        network.transfers.tether_up = samples(1000);
        network.transfers.scp_up = samples(1001);
        network.transfers.tether_down = samples(1001);
        network.transfers.scp_down = samples(1000);
        let [up, down] = transfers(&network);
        assert!(up.met && !down.met, "{up:?} {down:?}");
        assert_eq!(up.figure, "100 vs 100 MB/s");
    }
}
