//! Everything an end-to-end test needs: the simulator, a scripted model, a real pi with the
//! tether package, and scratch directories — all gone when the [`Rig`] drops.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tether_testkit::Sim;

pub use tether_testkit::{Launch, MockLlm, Pi, PiInstall, Turn, repo};

/// The pi version CI pins.
pub const PI_VERSION: &str = "0.73.1";
/// Every tool: pi's seven and the package's VM tools.
pub const ALL_TOOLS: &str = "read,bash,edit,write,ls,find,grep,create_vm,vm_exec,vm_use,vm_local,vm_list,vm_branch,vm_commit,vm_restore,vm_delete,vm_state,vm_copy,vm_tag,vm_repo,vm_label,vm_logs,vm_attach,vm_disk,vm_env";
/// A local environment variable that must never reach a VM.
pub const SECRET_VAR: &str = "TETHER_TEST_SECRET";

/// A simulator, a scripted model and scratch directories for one pi.
pub struct Rig {
    pub sim: Sim,
    pub llm: MockLlm,
    pub install: PiInstall,
    dirs: TempDir,
}

/// Starts a [`Rig`] for pi `version`, or returns from the test (printing why) if pi cannot
/// run here.
#[macro_export]
macro_rules! rig {
    () => {
        $crate::rig!($crate::harness::PI_VERSION)
    };
    ($version:expr) => {
        match $crate::harness::Rig::start($version).await.unwrap() {
            Some(rig) => rig,
            None => return,
        }
    };
}

impl Rig {
    /// A rig for pi `version`; `None` (after printing why) when pi or node is missing.
    pub async fn start(version: &str) -> anyhow::Result<Option<Rig>> {
        let install = match PiInstall::find(version) {
            Ok(install) => install,
            Err(why) => {
                eprintln!("skipping: {why}");
                return Ok(None);
            }
        };
        let sim = Sim::start(tether_testkit::tether_binary()?).await?;
        let llm = MockLlm::start().await?;
        let dirs = tempfile::Builder::new().prefix("tether-pi-").tempdir()?;
        for dir in ["work", "agent", "state", "home"] {
            std::fs::create_dir_all(dirs.path().join(dir))?;
        }
        let models = serde_json::to_vec_pretty(&llm.models_json())?;
        std::fs::write(dirs.path().join("agent/models.json"), models)?;
        Ok(Some(Rig {
            sim,
            llm,
            install,
            dirs,
        }))
    }

    /// A path in the rig's scratch directory.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dirs.path().join(name)
    }

    /// pi's local working directory.
    pub fn work(&self) -> PathBuf {
        self.dirs.path().join("work")
    }

    /// The environment pi (and so the sidecar) runs with.
    pub fn env(&self) -> Vec<(String, String)> {
        let info = self.sim.info();
        let path = |p: &Path| p.display().to_string();
        let serve = serde_json::json!([env!("CARGO_BIN_EXE_tether-serve")]).to_string();
        vec![
            (
                "PI_CODING_AGENT_DIR".into(),
                path(&self.dirs.path().join("agent")),
            ),
            ("PI_OFFLINE".into(), "1".into()),
            ("PI_TELEMETRY".into(), "0".into()),
            ("HOME".into(), path(&self.dirs.path().join("home"))),
            (
                "XDG_STATE_HOME".into(),
                path(&self.dirs.path().join("state")),
            ),
            ("VERS_URL".into(), info.vers_url.clone()),
            ("VERS_API_KEY".into(), info.api_key.clone()),
            ("TETHER_VM_DOMAIN".into(), info.vm_domain.clone()),
            ("TETHER_SSH_GATEWAY".into(), info.ssh_gateway.clone()),
            ("TETHER_CA_CERT".into(), path(&info.ca_cert)),
            ("TETHER_NO_AUTO_SIM".into(), "1".into()),
            ("TETHER_SERVE_ARGV".into(), serve),
            (SECRET_VAR.into(), "hunter2".into()),
        ]
    }

    /// Starts pi with the tether package (and the test helper extension).
    pub async fn pi(&self) -> anyhow::Result<Pi> {
        self.pi_with(&[]).await
    }

    /// Starts pi with every tool active (ls, find and grep are off by default).
    pub async fn pi_all_tools(&self) -> anyhow::Result<Pi> {
        self.pi_with(&["--tools", ALL_TOOLS]).await
    }

    /// Starts pi keeping its session in `file` (resumed when it exists).
    pub async fn pi_session(&self, file: &Path) -> anyhow::Result<Pi> {
        self.launch(&[], Some(file.to_path_buf())).await
    }

    /// Starts pi with extra arguments.
    pub async fn pi_with(&self, args: &[&str]) -> anyhow::Result<Pi> {
        self.launch(args, None).await
    }

    async fn launch(&self, args: &[&str], session: Option<PathBuf>) -> anyhow::Result<Pi> {
        self.launch_env(args, session, self.env(), Vec::new()).await
    }

    /// Starts pi with no Vers configuration at all: the sidecar uses the embedded simulator
    /// (its state and data under the rig's scratch directory).
    pub async fn pi_embedded(&self) -> anyhow::Result<Pi> {
        let keep = [
            "PI_CODING_AGENT_DIR",
            "PI_OFFLINE",
            "PI_TELEMETRY",
            "HOME",
            "XDG_STATE_HOME",
            "TETHER_SERVE_ARGV",
            SECRET_VAR,
        ];
        let mut env: Vec<(String, String)> = self
            .env()
            .into_iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .collect();
        env.push((
            "XDG_DATA_HOME".into(),
            self.scratch("data").display().to_string(),
        ));
        let remove = [
            "VERS_API_KEY",
            "VERS_URL",
            "TETHER_VM_DOMAIN",
            "TETHER_SSH_GATEWAY",
            "TETHER_CA_CERT",
            "TETHER_NO_AUTO_SIM",
        ];
        let remove = remove.iter().map(|v| v.to_string()).collect();
        self.launch_env(&[], None, env, remove).await
    }

    async fn launch_env(
        &self,
        args: &[&str],
        session: Option<PathBuf>,
        env: Vec<(String, String)>,
        remove: Vec<String>,
    ) -> anyhow::Result<Pi> {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pi");
        Pi::start(Launch {
            install: &self.install,
            cwd: &self.work(),
            env,
            remove,
            extensions: vec![repo().join("pi"), here.join("helper-ext.ts")],
            args: args.iter().map(|a| a.to_string()).collect(),
            session,
        })
        .await
    }
}

/// `text` with every run of whitespace as one space (doc comments wrap where JSON need not).
fn words(text: &serde_json::Value) -> String {
    let text = text.as_str().unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each `(name, description, schema)` is advertised to the model by pi as tether's other front
/// ends define it: the same description, argument names, required arguments and argument
/// descriptions.
pub fn advertised_like(turn: &Turn, tools: &[(&str, &str, schemars::Schema)]) {
    use serde_json::Value;
    use std::collections::BTreeSet;
    let advertised = turn.body["tools"].as_array().cloned().unwrap_or_default();
    let names = |schema: &Value| -> BTreeSet<String> {
        schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    let required = |schema: &Value| -> BTreeSet<String> {
        schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (name, description, schema) in tools {
        let function = advertised
            .iter()
            .map(|t| &t["function"])
            .find(|f| f["name"] == *name)
            .unwrap_or_else(|| panic!("{name} is not advertised"));
        assert_eq!(function["description"], *description, "{name}");
        let want = serde_json::to_value(schema).unwrap();
        let got = &function["parameters"];
        assert_eq!(names(got), names(&want), "{name}'s arguments");
        assert_eq!(
            required(got),
            required(&want),
            "{name}'s required arguments"
        );
        for arg in names(&want) {
            assert_eq!(
                words(&got["properties"][&arg]["description"]),
                words(&want["properties"][&arg]["description"]),
                "{name}.{arg}"
            );
        }
    }
}
