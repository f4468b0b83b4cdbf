//! `bash`: output, exit codes, truncation trailers, the saved full output, timeouts.

use tether_tools::args::BashArgs;
use tether_tools::bash;
use tokio_util::sync::CancellationToken;

use crate::common::{backends, same};
use crate::text;

fn args(command: &str) -> BashArgs {
    BashArgs {
        command: command.into(),
        timeout: None,
    }
}

#[tokio::test]
async fn output_exit_codes_and_the_working_directory_read_like_pi() {
    let mut results = Vec::new();
    for b in backends().await {
        let ok = text(bash(&b.ws, args("pwd; echo hi"), None).await);
        let silent = text(bash(&b.ws, args("true"), None).await);
        let failed = text(
            bash(
                &b.ws,
                args("{ echo line one; echo err >&2; } 2>&1; exit 3"),
                None,
            )
            .await,
        );
        let killed = text(bash(&b.ws, args("echo before; kill -KILL $$"), None).await);
        results.push((b.name, [b.normalize(&ok), silent, failed, killed]));
    }
    let [ok, silent, failed, killed] = same(&results);
    assert_eq!(ok, "$ROOT\nhi\n");
    assert_eq!(silent, "(no output)");
    assert_eq!(
        failed,
        "error: line one\nerr\n\n\nCommand exited with code 3"
    );
    assert_eq!(killed, "error: before\n\n\nCommand exited with code 137");
}

#[tokio::test]
async fn long_output_keeps_the_tail_and_saves_the_rest_where_it_ran() {
    let mut results = Vec::new();
    for b in backends().await {
        let out = bash(&b.ws, args("seq 1 3000; echo done"), None)
            .await
            .unwrap();
        let details = out.details.clone().unwrap();
        let path = details["fullOutputPath"].as_str().unwrap().to_owned();
        let full = b.target().read_file(&path).await.unwrap();
        let expected: String = (1..=3000).map(|i| format!("{i}\n")).collect::<String>() + "done\n";
        assert_eq!(String::from_utf8(full).unwrap(), expected, "{}", b.name);
        assert!(
            path.starts_with(&format!("{}/tether-bash-", b.ws.temp_dir())),
            "{path}"
        );
        b.target()
            .exec(
                tether_target::ExecSpec::shell(format!("rm -f {path}")),
                &mut |_, _| {},
                None,
            )
            .await
            .unwrap();
        let text = out.joined_text().replace(&path, "$FULL");
        assert_eq!(details["truncation"]["truncatedBy"], "lines");
        results.push((b.name, text));
    }
    let text = same(&results);
    assert!(text.starts_with("1003\n1004\n"), "{}", &text[..20]);
    assert!(
        text.ends_with("3000\ndone\n\n\n[Showing lines 1003-3002 of 3002. Full output: $FULL]"),
        "{}",
        &text[text.len() - 80..]
    );
}

#[tokio::test]
async fn output_over_50kb_names_the_byte_limit_and_is_saved_whole() {
    let line = "0123456789".repeat(4);
    let command = format!("for i in $(seq 1 3000); do echo {line}; done");
    let mut results = Vec::new();
    for b in backends().await {
        let out = bash(&b.ws, args(&command), None).await.unwrap();
        let path = out.details.as_ref().unwrap()["fullOutputPath"]
            .as_str()
            .unwrap()
            .to_owned();
        let full = b.target().read_file(&path).await.unwrap();
        assert_eq!(full.len(), 3000 * 41, "{}", b.name);
        results.push((b.name, out.joined_text().replace(&path, "$FULL")));
    }
    let text = same(&results);
    // 50 KB holds 1248 whole lines of 41 bytes (the last one without its newline).
    assert!(
        text.ends_with(&format!(
            "{line}\n\n\n[Showing lines 1753-3001 of 3001 (50.0KB limit). Full output: $FULL]"
        )),
        "{}",
        &text[text.len() - 120..]
    );
}

#[tokio::test]
async fn a_timeout_kills_the_command_and_keeps_its_output() {
    let mut results = Vec::new();
    for b in backends().await {
        let args = BashArgs {
            command: "echo started; sleep 30".into(),
            timeout: Some(1.0),
        };
        let started = std::time::Instant::now();
        let out = text(bash(&b.ws, args, None).await);
        assert!(
            started.elapsed().as_secs() < 20,
            "{}: the timeout was not enforced",
            b.name
        );
        let cancelled = CancellationToken::new();
        cancelled.cancel();
        let aborted = text(bash(&b.ws, self::args("sleep 30"), Some(cancelled)).await);
        results.push((b.name, [out, aborted]));
    }
    let [timed_out, aborted] = same(&results);
    assert_eq!(
        timed_out,
        "error: started\n\n\nCommand timed out after 1 seconds"
    );
    assert_eq!(aborted, "error: Command aborted");
}

#[tokio::test]
async fn a_missing_working_directory_is_an_error_that_says_so() {
    let mut results = Vec::new();
    for b in backends().await {
        let ws = b.ws.with_cwd("missing");
        results.push((
            b.name,
            b.normalize(&text(bash(&ws, args("true"), None).await)),
        ));
    }
    assert_eq!(
        same(&results),
        "error: the working directory $ROOT/missing does not exist or is not a directory; nothing ran; use an existing directory"
    );
}
