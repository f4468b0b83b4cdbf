//! The default VM (`use`, `local`, `status`, vers-cli's `.vers/HEAD`) and id prefixes.

use serde_json::json;

use crate::{Env, run};

#[tokio::test]
async fn use_then_exec_without_a_vm_and_local_clears_it() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let none = env.run(&["exec", "--", "true"]).await;
    assert_eq!(none.code, 2, "{none:?}");

    assert_eq!(env.run(&["use", &vm[..8]]).await.ok(), vm);
    assert_eq!(env.run(&["exec", "--", "hostname"]).await.ok(), vm);
    let status = env.run(&["status", "--json"]).await.json();
    assert_eq!(status["default_vm"], json!(vm));
    assert_eq!(
        (&status["default_from"], &status["state"]),
        (&json!("use"), &json!("running"))
    );
    assert_eq!(status["backend"], "vers");
    let listing = env.run(&["vm", "ls"]).await;
    assert!(
        listing
            .ok()
            .lines()
            .any(|l| l.starts_with(&format!("*  {vm}"))),
        "{listing:?}"
    );

    assert_eq!(env.run(&["local"]).await.ok(), "");
    let cleared = env.run(&["exec", "--", "true"]).await;
    assert_eq!(cleared.code, 2);
    insta::assert_snapshot!(cleared.stderr, @"tether: no VM given and no default VM; pass a VM id, or choose a default with `tether use VM` (`tether local` cleared it)");
}

#[tokio::test]
async fn vers_head_names_the_default_vm_until_tether_use() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let project = env.home.path().join("project");
    std::fs::create_dir_all(project.join(".vers")).unwrap();
    std::fs::create_dir_all(project.join("src/deep")).unwrap();
    std::fs::write(project.join(".vers/HEAD"), format!("{vm}\n")).unwrap();

    let mut command = env.command(&["exec", "--", "hostname"]);
    command.current_dir(project.join("src/deep"));
    assert_eq!(run(command, None).await.ok(), vm);
    let mut command = env.command(&["status", "--json"]);
    command.current_dir(&project);
    let status = run(command, None).await.json();
    assert_eq!(status["default_from"], "vers_head");
    assert_eq!(status["default_file"], json!(project.join(".vers/HEAD")));

    let other = env.new_vm().await;
    env.run(&["use", &other]).await.ok();
    let mut command = env.command(&["exec", "--", "hostname"]);
    command.current_dir(&project);
    assert_eq!(
        run(command, None).await.ok(),
        other,
        "tether use wins over .vers/HEAD"
    );
}

#[tokio::test]
async fn prefixes_resolve_when_unique_and_list_candidates_otherwise() {
    let env = Env::start().await;
    let first = env.new_vm().await;
    let mut vms = vec![first.clone()];
    // Branch until two ids share a first character (certain by 17 VMs, likely by 6).
    let (a, b) = loop {
        let pair = vms.iter().enumerate().find_map(|(i, x)| {
            vms[i + 1..]
                .iter()
                .find(|y| y.as_bytes()[0] == x.as_bytes()[0])
                .map(|y| (x.clone(), y.clone()))
        });
        if let Some(pair) = pair {
            break pair;
        }
        let more = env
            .run(&["vm", "branch", &first, "--count", "4", "--json"])
            .await
            .json();
        vms.extend(
            more["vm_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned()),
        );
    };
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let prefix = &a[..shared];
    let mut matching: Vec<&str> = vms
        .iter()
        .map(String::as_str)
        .filter(|v| v.starts_with(prefix))
        .collect();
    matching.sort();
    let ambiguous = env.run(&["exec", prefix, "--", "true"]).await;
    assert_eq!(ambiguous.code, 2, "{ambiguous:?}");
    let expected = format!(
        "tether: {prefix:?} matches {} VMs: {}; give more of the id\n",
        matching.len(),
        matching.join(", ")
    );
    assert_eq!(ambiguous.stderr, expected);

    let unique = (1..=a.len())
        .map(|n| &a[..n])
        .find(|p| vms.iter().filter(|v| v.starts_with(p)).count() == 1)
        .unwrap();
    assert_eq!(env.sh(unique, "hostname").await, a);
    let unknown = env.run(&["vm", "info", "zzz"]).await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown
            .stderr
            .starts_with("tether: no VM id starts with \"zzz\"; the VMs are: "),
        "{unknown:?}"
    );
    assert!(
        unknown.stderr.trim_end().ends_with("(`tether vm ls`)"),
        "{unknown:?}"
    );
}
