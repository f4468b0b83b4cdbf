//! [`VmHttpServer`]: a Python HTTP server in a simulator VM, for tests of port forwards.

use std::time::Duration;

use anyhow::Context;

use crate::{Api, STEP_DEADLINE, within};

/// An HTTP server serving `argv[1]` on 127.0.0.1 (a free port). Prints "PORT PID" once
/// listening, then lets go of the command's output so the exec returns.
const SCRIPT: &str = r#"
import functools, http.server, os, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], os.getpid(), flush=True)
null = os.open(os.devnull, os.O_RDWR); os.dup2(null, 1); os.dup2(null, 2)
server.serve_forever()
"#;

/// Where the script is put in the VM (its name marks the process).
const SCRIPT_PATH: &str = "/tmp/vm_http_server.py";

/// A running HTTP server in a VM.
pub struct VmHttpServer {
    /// The VM.
    pub vm: String,
    /// Its port on the VM's loopback.
    pub port: u16,
    /// Its process id in the VM.
    pub pid: String,
}

impl VmHttpServer {
    /// Starts a server in `vm` serving `dir`.
    pub async fn start(api: &Api, vm: &str, dir: &str) -> anyhow::Result<VmHttpServer> {
        api.put_file(vm, SCRIPT_PATH, SCRIPT.as_bytes())
            .await?
            .ok()?;
        let started = api
            .sh(vm, &format!("python3 {SCRIPT_PATH} {dir} &"))
            .await?;
        let (port, pid) = started
            .trim()
            .split_once(' ')
            .with_context(|| format!("the server did not start: {started:?}"))?;
        Ok(VmHttpServer {
            vm: vm.to_owned(),
            port: port.parse()?,
            pid: pid.to_owned(),
        })
    }

    /// Stops it and waits until no such process is left in the VM.
    pub async fn stop(self, api: &Api) -> anyhow::Result<()> {
        api.sh(&self.vm, &format!("kill {}", self.pid)).await?;
        let what = format!("the HTTP server to be gone from {}", self.vm);
        within(STEP_DEADLINE, &what, async {
            while api.sh(&self.vm, "ps -eo args").await?.contains(SCRIPT_PATH) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(())
        })
        .await
    }
}

/// `GET url`'s body (an error for a failure status), within [`STEP_DEADLINE`].
pub async fn http_get(url: &str) -> anyhow::Result<Vec<u8>> {
    within(STEP_DEADLINE, &format!("GET {url}"), async {
        let reply = reqwest::get(url).await?.error_for_status()?;
        Ok(reply.bytes().await?.to_vec())
    })
    .await
}

/// Waits until nothing accepts connections at `url`'s address (`http://127.0.0.1:PORT`).
pub async fn until_refused(url: &str) -> anyhow::Result<()> {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    within(
        STEP_DEADLINE,
        &format!("{addr} to refuse connections"),
        async {
            loop {
                match tokio::net::TcpStream::connect(addr).await {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(()),
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        },
    )
    .await
}
