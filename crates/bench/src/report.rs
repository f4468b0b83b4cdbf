//! A run's figures as Markdown tables, each figure beside its baselines from the same run.

use std::fmt::Write;
use std::time::Duration;

use crate::Samples;
use crate::pipath::{PI_VERSION, PiPath};
use crate::run::{NetworkResults, Plan, Results, per_second};
use crate::stats::{ms, ms_or_s, ratio, times_faster};
use crate::swarm::{SwarmPlan, SwarmResults, Timing};
use crate::targets::{checks, round_trips};
use crate::transfer::mb_per_s;
use crate::warm::{ECHO, SMALL_FILE};

/// The command that reproduces the figures.
pub const REPRODUCE: &str = "cargo build --release -p tether && cargo bench -p tether-bench";

/// The command that reproduces the swarm figures.
pub const REPRODUCE_SWARM: &str =
    "cargo build --release -p tether && cargo bench -p tether-bench -- swarm";

/// The whole report: latency, throughput, transfers and the targets.
pub fn markdown(results: &Results, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reproduce: `{REPRODUCE}` ({} cores, load average {} at the end; the emulated RTT is a user-space delay relay in front of the simulator's gateway and API).\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );
    out.push_str(&latency(results));
    out.push('\n');
    out.push_str(&throughput(results));
    out.push('\n');
    out.push_str(&small_files(results));
    out.push('\n');
    out.push_str(&pi_path(results));
    out.push('\n');
    out.push_str(&transfers(results, plan));
    out.push('\n');
    out.push_str(&targets(results));
    out
}

/// The swarm scenario's report: the time until every task runs and until every result is in,
/// a swarm against one VM at a time, then where that time went.
pub fn swarm_markdown(results: &SwarmResults, plan: &SwarmPlan) -> String {
    let n = results.workers;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reproduce: `{REPRODUCE_SWARM}` ({} cores, load average {} at the end). {n} tasks: a swarm (one branch call, tasks started {} at a time as background processes, then `wait`) against one VM at a time (branch, connect, run in the foreground, collect); median of {} runs per side, range in brackets.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average(),
        results.concurrency,
        plan.runs,
    );
    let mut t = Table::new(&[
        &format!("{n} tasks"),
        "until",
        "swarm",
        "one VM at a time",
        "swarm is … faster (median)",
    ]);
    for side in &results.workloads {
        for (until, pick) in [
            (
                format!("all {n} running"),
                (|t: &Timing| t.running) as fn(&Timing) -> Duration,
            ),
            (format!("all {n} gathered"), |t: &Timing| t.gathered),
        ] {
            let (swarm, serial) = (side.swarm(pick), side.serial(pick));
            t.push(vec![
                format!("`{}`", side.command),
                until,
                with_range(&swarm),
                with_range(&serial),
                times_faster(swarm.p50(), serial.p50()),
            ]);
        }
    }
    out.push_str(&t.render());
    out.push('\n');
    out.push_str(&swarm_phases(results));
    out
}

/// Where each side's time went, per workload (medians of each run's parts).
fn swarm_phases(results: &SwarmResults) -> String {
    let (n, c) = (results.workers, results.concurrency);
    let mut headers = vec!["where the time went (median)".to_owned()];
    headers.extend(results.workloads.iter().map(|w| format!("`{}`", w.command)));
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut t = Table::new(&headers);
    type Pick = fn(&Timing) -> Duration;
    let swarm: [(String, Pick); 3] = [
        ("swarm: the one branch call".into(), |t| t.branching),
        (
            format!("swarm: connecting to {n} VMs and starting their tasks, {c} at a time"),
            |t| t.running.saturating_sub(t.branching),
        ),
        ("swarm: `wait` until every result is gathered".into(), |t| {
            t.gathered.saturating_sub(t.running)
        }),
    ];
    let serial: [(String, Pick); 3] = [
        (format!("one at a time: {n} branch calls"), |t| t.branching),
        (
            format!("one at a time: {n} × `Router::target` (VM state, key)"),
            |t| t.connecting,
        ),
        (
            format!("one at a time: {n} commands run, each opening its VM's connection"),
            |t| t.gathered.saturating_sub(t.branching + t.connecting),
        ),
    ];
    for (what, pick) in swarm {
        let mut row = vec![what];
        row.extend(
            results
                .workloads
                .iter()
                .map(|w| ms_or_s(w.swarm(pick).p50())),
        );
        t.push(row);
    }
    for (what, pick) in serial {
        let mut row = vec![what];
        row.extend(
            results
                .workloads
                .iter()
                .map(|w| ms_or_s(w.serial(pick).p50())),
        );
        t.push(row);
    }
    t.render()
}

/// `1.23 s (1.20–1.31 s)`: the median and the range of the samples (just the median for one).
fn with_range(samples: &Samples) -> String {
    let median = ms_or_s(samples.p50());
    if samples.len() < 2 {
        return median;
    }
    let (low, high) = (
        ms_or_s(samples.percentile(0.0)),
        ms_or_s(samples.percentile(100.0)),
    );
    let low = match (low.rsplit_once(' '), high.rsplit_once(' ')) {
        (Some((number, unit)), Some((_, same))) if unit == same => number.to_owned(),
        _ => low,
    };
    format!("{median} ({low}–{high})")
}

/// The 1-minute load average, which says how much else was running.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn latency(results: &Results) -> String {
    let (lo, de) = (&results.loopback, &results.delayed);
    let mut t = Table::new(&[
        "`echo hi`, per command",
        "samples",
        &format!("{} p50", lo.name),
        "p95",
        &format!("{} p50", de.name),
        "p95",
        "tether is … faster (p50)",
    ]);
    let tether = |n: &NetworkResults| n.latency.tether.p50();
    let row = |what: &str, pick: fn(&NetworkResults) -> &Samples, vs: String| {
        let mut cells = paired_cells(what, pick(lo), pick(de));
        cells.push(vs);
        cells
    };
    let faster = |pick: fn(&NetworkResults) -> &Samples| {
        format!(
            "{} / {}",
            times_faster(tether(lo), pick(lo).p50()),
            times_faster(tether(de), pick(de).p50())
        )
    };
    t.push(row(
        "TCP round trip (the network's floor)",
        |n| &n.latency.floor,
        "(floor)".into(),
    ));
    t.push(row(
        "**tether** warm path (pooled connection, spare channel)",
        |n| &n.latency.tether,
        "—".into(),
    ));
    t.push(row(
        "OpenSSH ControlMaster, `ssh` per call",
        |n| &n.latency.control_master,
        faster(|n| &n.latency.control_master),
    ));
    t.push(row(
        "tutorial: key fetch + `ssh` + `openssl s_client` per call",
        |n| &n.latency.tutorial,
        faster(|n| &n.latency.tutorial),
    ));
    t.render()
}

fn throughput(results: &Results) -> String {
    let (lo, de) = (&results.loopback, &results.delayed);
    let flights = lo.throughput.flights;
    let mut t = Table::new(&[
        &format!("`echo hi`, {flights} in flight"),
        "commands",
        &format!("{} commands/s", lo.name),
        &format!("{} commands/s", de.name),
    ]);
    let tether = |n: &NetworkResults| per_second(n.throughput.tether);
    let master = |n: &NetworkResults| per_second(n.throughput.control_master);
    let serial = |n: &NetworkResults| serial_rate(&n.latency.tether);
    t.push(vec![
        "**tether**, one connection".into(),
        format!("{} / {}", lo.throughput.tether.0, de.throughput.tether.0),
        format!("{:.0}", tether(lo)),
        format!("{:.0}", tether(de)),
    ]);
    t.push(vec![
        "tether, 1 in flight (from the latency samples)".into(),
        format!("{} / {}", lo.latency.tether.len(), de.latency.tether.len()),
        format!("{:.0}", serial(lo)),
        format!("{:.0}", serial(de)),
    ]);
    t.push(vec![
        "OpenSSH ControlMaster, `ssh` per call".into(),
        format!(
            "{} / {}",
            lo.throughput.control_master.0, de.throughput.control_master.0
        ),
        format!("{:.0}", master(lo)),
        format!("{:.0}", master(de)),
    ]);
    t.push(vec![
        "this host's ceiling: `bash -c` started locally, no network".into(),
        format!("{} / {}", lo.throughput.local.0, de.throughput.local.0),
        format!("{:.0}", per_second(lo.throughput.local)),
        format!("{:.0}", per_second(de.throughput.local)),
    ]);
    t.push(vec![
        "tether vs ControlMaster".into(),
        String::new(),
        ratio(tether(lo) / master(lo)),
        ratio(tether(de) / master(de)),
    ]);
    let local = |n: &NetworkResults| per_second(n.throughput.local);
    t.push(vec![
        "tether vs this host's ceiling".into(),
        String::new(),
        ratio(tether(lo) / local(lo)),
        ratio(tether(de) / local(de)),
    ]);
    t.render()
}

/// The 4 KiB write and read, in milliseconds and in round trips of the emulated network.
fn small_files(results: &Results) -> String {
    let (lo, de) = (&results.loopback, &results.delayed);
    let mut t = Table::new(&[
        &format!("{} KiB file, tether warm path", SMALL_FILE / 1024),
        "samples",
        &format!("{} p50", lo.name),
        "p95",
        &format!("{} p50", de.name),
        "p95",
        &format!("round trips at {} (p50)", de.name),
    ]);
    type Pick = fn(&NetworkResults) -> &Samples;
    let rows: [(&str, Pick); 2] = [
        ("write (directory created in the same operation)", |n| {
            &n.latency.write
        }),
        ("read (metadata and content in one operation)", |n| {
            &n.latency.read
        }),
    ];
    for (what, pick) in rows {
        let (l, d) = (pick(lo), pick(de));
        let mut cells = paired_cells(what, l, d);
        cells.push(format!("{:.2}", round_trips(d.p50(), de.rtt)));
        t.push(cells);
    }
    t.render()
}

/// A `bash` call through a real pi, tether's package beside the tutorial's design and the
/// core's own figure.
fn pi_path(results: &Results) -> String {
    let (lo, de) = (&results.loopback, &results.delayed);
    let (Some(lp), Some(dp)) = (&lo.pi, &de.pi) else {
        let why = results.pi_skipped.as_deref().unwrap_or("not measured");
        return format!("pi path not measured: {why}\n");
    };
    let mut t = Table::new(&[
        &format!("`bash` `{ECHO}` in pi {PI_VERSION}, tool start → end"),
        "samples",
        &format!("{} p50", lo.name),
        "p95",
        &format!("{} p50", de.name),
        "p95",
        "tether is … faster (p50)",
    ]);
    type Pick = fn(&PiPath) -> &Samples;
    let rows: [(&str, Pick, bool); 4] = [
        (
            "core: the same command on tether's pooled connection",
            |p| &p.core,
            false,
        ),
        ("**tether**'s pi package", |p| &p.tether, false),
        (
            "what pi and the package add to the core (paired)",
            |p| &p.added,
            false,
        ),
        (
            "the tutorial's extension (key fetch + `ssh` + `openssl s_client`)",
            |p| &p.tutorial,
            true,
        ),
    ];
    for (what, pick, compare) in rows {
        let (l, d) = (pick(lp), pick(dp));
        let vs = if compare {
            format!(
                "{} / {}",
                times_faster(lp.tether.p50(), l.p50()),
                times_faster(dp.tether.p50(), d.p50())
            )
        } else {
            "—".into()
        };
        let mut cells = paired_cells(what, l, d);
        cells.push(vs);
        t.push(cells);
    }
    t.render()
}

/// Commands per second one after another: the inverse of the median latency.
/// A row's label, sample counts and p50/p95 on loopback and on the delayed network.
fn paired_cells(what: &str, loopback: &Samples, delayed: &Samples) -> Vec<String> {
    vec![
        what.to_owned(),
        format!("{} / {}", loopback.len(), delayed.len()),
        ms(loopback.p50()),
        ms(loopback.p95()),
        ms(delayed.p50()),
        ms(delayed.p95()),
    ]
}

fn serial_rate(samples: &Samples) -> f64 {
    let p50 = samples.p50().as_secs_f64();
    if p50 == 0.0 { 0.0 } else { 1.0 / p50 }
}

fn transfers(results: &Results, plan: &Plan) -> String {
    let mut t = Table::new(&[
        &format!(
            "{} MB file (median of {})",
            plan.file_bytes / 1_000_000,
            plan.transfer_samples
        ),
        "network",
        "tether MB/s",
        "scp MB/s",
        "tether vs scp",
    ]);
    for n in [&results.loopback, &results.delayed] {
        let tr = &n.transfers;
        for (what, tether, scp) in [
            ("upload", &tr.tether_up, &tr.scp_up),
            ("download", &tr.tether_down, &tr.scp_down),
        ] {
            let (tether, scp) = (mb_per_s(tr.bytes, tether), mb_per_s(tr.bytes, scp));
            t.push(vec![
                what.into(),
                n.name.clone(),
                format!("{tether:.1}"),
                format!("{scp:.1}"),
                ratio(tether / scp),
            ]);
        }
    }
    t.render()
}

fn targets(results: &Results) -> String {
    let mut t = Table::new(&["target", "measured", "verdict"]);
    for check in checks(results) {
        let verdict = if check.met { "met" } else { "**not met**" };
        t.push(vec![check.target, check.figure, verdict.into()]);
    }
    t.render()
}

/// A Markdown table.
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[&str]) -> Table {
        let header = headers.iter().map(|h| (*h).to_owned()).collect();
        Table { rows: vec![header] }
    }

    fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for (i, row) in self.rows.iter().enumerate() {
            let _ = writeln!(out, "| {} |", row.join(" | "));
            if i == 0 {
                let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ranges_share_their_unit_when_they_can() {
        let ms =
            |v: &[u64]| Samples::from_times(v.iter().map(|m| Duration::from_millis(*m)).collect());
        assert_eq!(
            with_range(&ms(&[630, 470, 660])),
            "630.0 ms (470.0–660.0 ms)"
        );
        assert_eq!(
            with_range(&ms(&[990, 750, 1010])),
            "990.0 ms (750.0 ms–1.01 s)"
        );
        assert_eq!(with_range(&ms(&[3030, 3010, 3240])), "3.03 s (3.01–3.24 s)");
        assert_eq!(with_range(&ms(&[42])), "42.0 ms");
    }
}
