//! The local pi configuration copied to agent workers: two agents find the models, the
//! AGENTS.md and the skill of a local pi directory the source VM never had; credentials and
//! sessions stay behind, and the source VM is not touched.

use std::path::Path;
use std::time::Duration;

use tether_swarm::{AgentTask, Limits, SwarmSpec, Task, WorkerState};
use tether_testkit::{MockLlm, within};

use crate::agents::{install_pi, next_turn, pi_here, worker_of};
use crate::common::{Rig, STEP, quiet};

const SKILL: &str = "---\nname: tether-marker\ndescription: Says the local pi config reached this worker.\n---\nSay the marker.\n";
const SECRET: &str = "secret-from-local-auth";

/// Every file under the source's `~/.pi/agent` with its contents.
const LIST: &str = "cd /root/.pi/agent && find . -type f | sort | while read -r f; do printf '%s: %s\\n' \"$f\" \"$(cat \"$f\")\"; done";

/// A local pi directory: models pointing at `llm`, an AGENTS.md with `marker`, a skill, and
/// what must not be copied (auth.json, a session).
fn local_pi_dir(dir: &Path, llm: &MockLlm, marker: &str) -> anyhow::Result<()> {
    let write = |path: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(std::fs::write(path, text)?)
    };
    write("models.json", &llm.models_json().to_string())?;
    write("AGENTS.md", &format!("Always mention {marker}.\n"))?;
    write("settings.json", "{\"from\": \"local\"}")?;
    write("skills/tether-marker/SKILL.md", SKILL)?;
    write(
        "auth.json",
        &format!("{{\"mock\": {{\"key\": \"{SECRET}\"}}}}"),
    )?;
    write("sessions/old.jsonl", "{\"type\": \"session\"}")
}

#[tokio::test]
async fn agents_with_the_local_pi_config_find_its_models_agents_md_and_skills() {
    let Some(install) = pi_here() else { return };
    within(STEP * 3, "agents with the local pi config", async {
        let rig = Rig::start(Limits::default()).await?;
        let mut llm = MockLlm::start().await?;
        let pi = install_pi(&rig, &install).await?;
        let marker = format!("marker-{:08x}", rand::random::<u32>());
        let local = tempfile::tempdir()?;
        local_pi_dir(local.path(), &llm, &marker)?;
        // The source has a pi directory of its own, and no models.json.
        let src = "mkdir -p /root/.pi/agent && cd /root/.pi/agent && echo '{\"from\": \"source\"}' > settings.json && echo mine > keep.txt";
        rig.sh(&rig.source, src).await?;
        let before = rig.sh(&rig.source, LIST).await?;

        let spec = SwarmSpec {
            source: rig.source.clone(),
            count: 2,
            task: Task::Agent(AgentTask {
                prompt: "You are worker {worker}. Say hello.".into(),
                pi: Some(pi),
                provider: Some("mock".into()),
                model: Some("mock-1".into()),
                args: vec!["-ne".into()],
                pi_config: true,
                ..AgentTask::default()
            }),
            timeout: Some(Duration::from_secs(300)),
            env: vec![
                ("PI_OFFLINE".into(), "1".into()),
                ("PI_TELEMETRY".into(), "0".into()),
            ],
            cwd: None,
            pi_dir: Some(local.path().to_owned()),
        };
        let started = rig.swarms.start(spec, &quiet).await?;
        let id = started.swarm_id.clone();
        let heading = started.text().lines().next().unwrap_or_default().to_owned();
        let says = format!("swarm {id} (agent + local pi config from VM {}, ", rig.source);
        assert!(heading.starts_with(&says), "{heading}");
        assert_eq!(serde_json::to_value(&started)?["piConfig"], true);

        // Both agents reach the model only the local models.json names, with the local
        // AGENTS.md and skill in their system prompt.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let turn = next_turn(&mut llm, &rig, &id).await?;
            let system = turn.system_prompt();
            assert!(system.contains(&format!("Always mention {marker}.")), "{system}");
            assert!(system.contains("tether-marker"), "{system}");
            seen.extend(worker_of(&turn));
            turn.text("hello");
        }
        seen.sort();
        assert_eq!(seen, [0, 1]);
        let gathered = rig.swarms.wait(Some(&id), STEP, &mut |_| {}, None).await?;
        let status = gathered.status;
        for w in &status.workers {
            assert_eq!(w.state, WorkerState::Done, "{}", w.line());
            let cd = "cd /root/.pi/agent && ";
            let cat = format!("{cd}cat settings.json keep.txt skills/tether-marker/SKILL.md");
            let files = rig.sh(&w.vm_id, &cat).await?;
            assert_eq!(files, format!("{{\"from\": \"local\"}}mine\n{SKILL}"));
            let check = format!("{cd}grep -rl {SECRET} .; test -e sessions/old.jsonl || echo none");
            let left = rig.sh(&w.vm_id, &check).await?;
            assert_eq!(left, "none\n", "auth.json or the local session reached the worker");
        }
        assert_eq!(rig.sh(&rig.source, LIST).await?, before);
        let record = rig.fresh().find(Some(&id))?;
        assert!(matches!(record.task, Task::Agent(ref a) if a.pi_config));
        rig.swarms.stop(Some(&id), true).await?;
        Ok(())
    })
    .await
    .unwrap();
}
