//! Help text is user-facing: snapshot it, exit codes and all.

use crate::{bare_command, run};

#[tokio::test]
async fn help_documents_every_command_and_the_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for args in [
        &["--help"][..],
        &["exec", "--help"],
        &["vm", "--help"],
        &["tag", "--help"],
        &["repo", "--help"],
        &["env", "--help"],
        &["domain", "--help"],
        &["cp", "--help"],
        &["tunnel", "--help"],
    ] {
        let help = run(bare_command(home.path(), args), None).await;
        report.push_str(&format!("$ tether {}\n{}\n", args.join(" "), help.ok()));
    }
    insta::assert_snapshot!(report);
}

#[tokio::test]
async fn completion_scripts_name_the_commands() {
    let home = tempfile::tempdir().unwrap();
    let script = run(bare_command(home.path(), &["completion", "bash"]), None).await;
    let script = script.ok();
    for word in ["exec", "branch", "restore", "tunnel", "completion"] {
        assert!(
            script.contains(word),
            "{word} missing from the bash completion"
        );
    }
}
