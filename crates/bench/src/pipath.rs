//! The pi path: a `bash` tool call in a real pi driven by a scripted model, from pi's
//! `tool_execution_start` to its `tool_execution_end`, through tether's pi package and through
//! the tutorial's design (`pi/tutorial.ts` beside this crate), beside the core's own figure —
//! all three interleaved sample by sample on the same VM and network.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tether_testkit::{Launch, MockLlm, Pi, PiInstall, Turn, repo};

use crate::Samples;
use crate::lab::{Lab, Network, tether_binary};
use crate::warm::{ECHO, Warm};

/// The pi version the figures are taken with (the one CI pins).
pub const PI_VERSION: &str = "0.73.1";

/// One network's pi-path figures.
#[derive(Clone, Debug, Default)]
pub struct PiPath {
    /// `echo hi` through tether's pooled connection (the core).
    pub core: Samples,
    /// `bash` through pi and tether's pi package.
    pub tether: Samples,
    /// `bash` through pi and the tutorial's design.
    pub tutorial: Samples,
    /// What pi and tether's package add to the core, sample by sample (the samples are
    /// interleaved, so the machine's drift is taken out).
    pub added: Samples,
}

/// Measures `samples` calls of each path over `network`, after one warm-up call each.
pub async fn measure(
    lab: &Lab,
    network: &Network,
    install: &PiInstall,
    samples: usize,
) -> anyhow::Result<PiPath> {
    let warm = Warm::connect(lab, network).await?;
    let scratch = tempfile::Builder::new()
        .prefix("tether-bench-pi-")
        .tempdir()?;
    let package = vec![repo().join("pi")];
    let tutorial = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("pi/tutorial.ts")];
    let mut tether = Driven::start(
        lab,
        network,
        install,
        &scratch.path().join("tether"),
        package,
    )
    .await
    .context("pi with tether's package")?;
    let mut baseline = Driven::start(
        lab,
        network,
        install,
        &scratch.path().join("tutorial"),
        tutorial,
    )
    .await
    .context("pi with the tutorial's design")?;
    let mut times = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=samples {
        let start = Instant::now();
        warm.echo_hi().await?;
        let core = start.elapsed();
        let ours = tether.bash().await.context("pi with tether's package")?;
        let theirs = baseline
            .bash()
            .await
            .context("pi with the tutorial's design")?;
        if i > 0 {
            times.0.push(core);
            times.1.push(ours);
            times.2.push(theirs);
        }
    }
    tether.quit().await?;
    baseline.quit().await?;
    let added = times
        .1
        .iter()
        .zip(&times.0)
        .map(|(pi, core)| pi.saturating_sub(*core));
    Ok(PiPath {
        added: Samples::from_times(added.collect()),
        core: Samples::from_times(times.0),
        tether: Samples::from_times(times.1),
        tutorial: Samples::from_times(times.2),
    })
}

/// A pi with one set of extensions, its scripted model, in the middle of a run on the VM.
struct Driven {
    pi: Pi,
    llm: MockLlm,
    turn: Option<Turn>,
}

impl Driven {
    /// Starts pi in `dir` with `extensions` and has it call `vm_use` on the lab's VM.
    async fn start(
        lab: &Lab,
        network: &Network,
        install: &PiInstall,
        dir: &Path,
        extensions: Vec<PathBuf>,
    ) -> anyhow::Result<Driven> {
        let mut llm = MockLlm::start().await?;
        for sub in ["work", "agent", "state", "home"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let models = serde_json::to_vec_pretty(&llm.models_json())?;
        std::fs::write(dir.join("agent/models.json"), models)?;
        let mut pi = Pi::start(Launch {
            install,
            cwd: &dir.join("work"),
            env: environment(lab, network, dir)?,
            remove: Vec::new(),
            extensions,
            args: Vec::new(),
            session: None,
        })
        .await?;
        pi.prompt("measure").await?;
        llm.next()
            .await?
            .tool("vm_use", json!({ "vmId": lab.vm() }));
        let turn = llm.next().await?;
        let routed = turn.tool_result()?;
        if !routed.starts_with("Routing to") {
            bail!("vm_use answered {routed:?}");
        }
        Ok(Driven {
            pi,
            llm,
            turn: Some(turn),
        })
    }

    /// One `bash` call of [`ECHO`]: the time from pi's tool start to its tool end.
    async fn bash(&mut self) -> anyhow::Result<std::time::Duration> {
        let turn = self.turn.take().context("the run has ended")?;
        turn.tool("bash", json!({ "command": ECHO }));
        let is = |kind: &'static str| move |e: &Value| e["type"] == kind && e["toolName"] == "bash";
        self.pi
            .until("bash start", is("tool_execution_start"))
            .await?;
        let start = Instant::now();
        let end = self.pi.until("bash end", is("tool_execution_end")).await?;
        let took = start.elapsed();
        let text = &end["result"]["content"][0]["text"];
        if end["isError"] == true || text.as_str().map(str::trim) != Some("hi") {
            bail!("bash `{ECHO}` in pi gave {end}");
        }
        self.turn = Some(self.llm.next().await?);
        Ok(took)
    }

    /// Ends the run and waits for pi to exit.
    async fn quit(mut self) -> anyhow::Result<()> {
        if let Some(turn) = self.turn.take() {
            turn.text("done");
        }
        self.pi.agent_end().await?;
        self.pi.quit().await
    }
}

/// pi's environment: its own scratch directories, offline, and the simulator as `network`
/// reaches it (read by tether's package and by the tutorial's design alike).
fn environment(lab: &Lab, network: &Network, dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let info = lab.info();
    let path = |sub: &str| dir.join(sub).display().to_string();
    Ok(vec![
        ("PI_CODING_AGENT_DIR".into(), path("agent")),
        ("PI_OFFLINE".into(), "1".into()),
        ("PI_TELEMETRY".into(), "0".into()),
        ("HOME".into(), path("home")),
        ("XDG_STATE_HOME".into(), path("state")),
        ("VERS_URL".into(), network.api_url.clone()),
        ("VERS_API_KEY".into(), info.api_key.clone()),
        ("TETHER_VM_DOMAIN".into(), info.vm_domain.clone()),
        ("TETHER_SSH_GATEWAY".into(), network.gateway.clone()),
        ("TETHER_CA_CERT".into(), info.ca_cert.display().to_string()),
        ("TETHER_NO_AUTO_SIM".into(), "1".into()),
        ("TETHER_BIN".into(), tether_binary()?.display().to_string()),
    ])
}
