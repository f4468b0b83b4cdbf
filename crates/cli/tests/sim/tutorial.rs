//! The tutorial's own OpenSSH + `openssl s_client` command, unchanged but for the address.

use tether_testkit::run_argv;

use crate::sim;

#[tokio::test]
async fn tutorial_ssh_command_runs_uname_in_the_vm() {
    let sim = sim().await;
    let vm = sim.api().new_vm().await.unwrap();
    let ssh = sim.ssh(&vm);
    let (_dir, key) = ssh.key_file().await.unwrap();
    let argv = ssh.tutorial_argv(&key, "uname -a");
    let out = run_argv(&argv, b"").await.unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr_str());
    let line = out.stdout_str();
    assert!(
        line.starts_with(&format!("Linux {vm} ")),
        "uname -a should name the VM: {line}"
    );
}

#[tokio::test]
async fn verified_ssh_passes_exit_codes_stdin_and_stderr() {
    let sim = sim().await;
    let vm = sim.api().new_vm().await.unwrap();
    let ssh = sim.ssh(&vm);
    let out = ssh
        .run_with_stdin("tr a-z A-Z; echo oops >&2; exit 42", b"hello vm")
        .await
        .unwrap();
    assert_eq!(out.code, Some(42), "stderr: {}", out.stderr_str());
    assert_eq!(out.stdout_str(), "HELLO VM");
    assert_eq!(out.stderr_str(), "oops\n");
}

#[tokio::test]
async fn a_wrong_key_is_refused() {
    let sim = sim().await;
    let api = sim.api();
    let (a, b) = (api.new_vm().await.unwrap(), api.new_vm().await.unwrap());
    // B's key must not open A: every VM has its own key.
    let (_dir, key_b) = sim.ssh(&b).key_file().await.unwrap();
    let argv = sim.ssh(&a).verified_argv(&key_b, "true");
    let out = run_argv(&argv, b"").await.unwrap();
    assert_eq!(out.code, Some(255), "stdout: {}", out.stdout_str());
    assert!(
        out.stderr_str().contains("Permission denied"),
        "{}",
        out.stderr_str()
    );
}

#[tokio::test]
async fn tls_to_an_unknown_vm_fails() {
    let sim = sim().await;
    let vm = sim.api().new_vm().await.unwrap();
    let ssh = sim.ssh(&vm);
    let (_dir, key) = ssh.key_file().await.unwrap();
    let unknown = "00000000-0000-4000-8000-000000000000";
    let argv: Vec<String> = ssh
        .verified_argv(&key, "true")
        .into_iter()
        .map(|a| a.replace(&vm, unknown))
        .collect();
    let out = run_argv(&argv, b"").await.unwrap();
    assert_eq!(out.code, Some(255));
}
