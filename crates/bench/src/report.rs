//! A run's figures as Markdown tables, each figure beside its baselines from the same run.

use std::fmt::Write;

use crate::Samples;
use crate::run::{NetworkResults, Plan, Results, per_second};
use crate::stats::{ms, ratio, times_faster};
use crate::targets::checks;
use crate::transfer::mb_per_s;

/// The command that reproduces the figures.
pub const REPRODUCE: &str = "cargo build --release -p tether && cargo bench -p tether-bench";

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
    out.push_str(&transfers(results, plan));
    out.push('\n');
    out.push_str(&targets(results));
    out
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
        let (l, d) = (pick(lo), pick(de));
        vec![
            what.to_owned(),
            format!("{} / {}", l.len(), d.len()),
            ms(l.p50()),
            ms(l.p95()),
            ms(d.p50()),
            ms(d.p95()),
            vs,
        ]
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
        "tether vs ControlMaster".into(),
        String::new(),
        ratio(tether(lo) / master(lo)),
        ratio(tether(de) / master(de)),
    ]);
    t.render()
}

/// Commands per second one after another: the inverse of the median latency.
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
