//! The messages of every error a target gives, as users and models read them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use tether_target::{ExecSpec, LocalTarget, Target, TargetError};
use tether_transport::TransportError;

#[tokio::test]
async fn errors_from_real_operations_read_well() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let t = LocalTarget::new();
    let missing_cwd = ExecSpec {
        cwd: Some(format!("{root}/gone")),
        ..ExecSpec::shell("true")
    };
    let mut short: &[u8] = b"12345";
    let messages = [
        t.exec(missing_cwd, &mut |_, _| {}, None).await.unwrap_err(),
        t.glob(root, "src/[a").await.unwrap_err(),
        t.write_from(&format!("{root}/f"), &mut short, 10)
            .await
            .unwrap_err(),
        t.read_file("a\0b").await.unwrap_err(),
        t.grep(root, &tether_target::GrepQuery::regex("("))
            .await
            .unwrap_err(),
    ]
    .map(|e| e.to_string().replace(root, "$ROOT"));
    insta::assert_debug_snapshot!(messages);
}

#[test]
fn every_other_variant_says_what_to_do() {
    let access: Box<dyn std::error::Error + Send + Sync> =
        "the VM 4c1e is deleted; create a new one".into();
    let messages = [
        TargetError::PermissionDenied {
            path: "/root/secret".into(),
        },
        TargetError::MissingTool {
            tool: "tar",
            package: "tar",
        },
        TargetError::Tool {
            what: "packing a directory tree",
            status: "exit code 2".into(),
            stderr: "tar: x: Cannot open".into(),
            hint: "check that the directories are readable and the disk has space, then retry",
        },
        TargetError::Timeout {
            what: "searching file contents",
            after: Duration::from_secs(120),
        },
        TargetError::Access {
            target: "vm 4c1e".into(),
            source: access,
        },
        TargetError::Transport(TransportError::Disconnected {
            host: "4c1e.vm.vers.sh".into(),
            started: true,
        }),
        TargetError::Io {
            context: "writing the command's output".into(),
            source: std::io::Error::other("disk full"),
        },
    ]
    .map(|e| e.to_string());
    insta::assert_debug_snapshot!(messages);
}
