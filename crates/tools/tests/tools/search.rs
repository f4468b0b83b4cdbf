//! `ls`, `find` and `grep` on every backend: pi's formats, limits and messages.

use tether_tools::args::{FindArgs, GrepArgs, LsArgs};
use tether_tools::{find, grep, ls};

use crate::common::{Backend, backends, same};
use crate::text;

/// A small tree: `src/{main.rs, lib.rs, util/mod.rs}`, `.hidden`, `README.md`, `node_modules/x.rs`.
async fn tree(b: &Backend) {
    let files: [(&str, &str); 6] = [
        ("src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n"),
        (
            "src/lib.rs",
            "pub fn hello() -> &'static str {\n    \"Hello\"\n}\n",
        ),
        ("src/util/mod.rs", "// nothing to see\n"),
        (".hidden", "secret hello\n"),
        ("README.md", "# Hello\n\nSay hello.\n"),
        ("node_modules/x.rs", "hello from deps\n"),
    ];
    for (path, content) in files {
        let full = b.path(path);
        b.target()
            .mkdir_all(full.rsplit_once('/').unwrap().0)
            .await
            .unwrap();
        b.target()
            .write_file(&full, content.as_bytes())
            .await
            .unwrap();
    }
}

fn grep_args(pattern: &str) -> GrepArgs {
    GrepArgs {
        pattern: pattern.into(),
        path: None,
        glob: None,
        ignore_case: None,
        literal: None,
        context: None,
        limit: None,
    }
}

#[tokio::test]
async fn ls_sorts_marks_directories_and_limits() {
    let mut results = Vec::new();
    for b in backends().await {
        tree(&b).await;
        let all = text(ls(&b.ws, LsArgs::default()).await);
        let limited = text(
            ls(
                &b.ws,
                LsArgs {
                    path: None,
                    limit: Some(2),
                },
            )
            .await,
        );
        let empty_dir = b.path("empty");
        b.target().mkdir_all(&empty_dir).await.unwrap();
        let empty = text(
            ls(
                &b.ws,
                LsArgs {
                    path: Some("empty".into()),
                    limit: None,
                },
            )
            .await,
        );
        let file = text(
            ls(
                &b.ws,
                LsArgs {
                    path: Some("README.md".into()),
                    limit: None,
                },
            )
            .await,
        );
        let missing = text(
            ls(
                &b.ws,
                LsArgs {
                    path: Some("nope".into()),
                    limit: None,
                },
            )
            .await,
        );
        results.push((
            b.name,
            [
                all,
                limited,
                empty,
                b.normalize(&file),
                b.normalize(&missing),
            ],
        ));
    }
    let [all, limited, empty, file, missing] = same(&results);
    assert_eq!(all, ".hidden\nnode_modules/\nREADME.md\nsrc/");
    assert_eq!(
        limited,
        ".hidden\nnode_modules/\n\n[2 entries limit reached. Use limit=4 for more]"
    );
    assert_eq!(empty, "(empty directory)");
    assert_eq!(file, "error: Not a directory: $ROOT/README.md");
    assert_eq!(missing, "error: Path not found: $ROOT/nope");
}

#[tokio::test]
async fn find_matches_names_at_any_depth_and_skips_dependencies() {
    let mut results = Vec::new();
    for b in backends().await {
        tree(&b).await;
        let by_name = text(
            find(
                &b.ws,
                FindArgs {
                    pattern: "*.rs".into(),
                    path: None,
                    limit: None,
                },
            )
            .await,
        );
        let by_path = text(
            find(
                &b.ws,
                FindArgs {
                    pattern: "src/*".into(),
                    path: None,
                    limit: None,
                },
            )
            .await,
        );
        let limited = text(
            find(
                &b.ws,
                FindArgs {
                    pattern: "*.rs".into(),
                    path: Some("src".into()),
                    limit: Some(1),
                },
            )
            .await,
        );
        let none = text(
            find(
                &b.ws,
                FindArgs {
                    pattern: "*.py".into(),
                    path: None,
                    limit: None,
                },
            )
            .await,
        );
        results.push((b.name, [by_name, by_path, limited, none]));
    }
    let [by_name, by_path, limited, none] = same(&results);
    assert_eq!(by_name, "src/lib.rs\nsrc/main.rs\nsrc/util/mod.rs");
    assert_eq!(by_path, "src/lib.rs\nsrc/main.rs\nsrc/util/");
    assert_eq!(
        limited,
        "lib.rs\n\n[1 results limit reached. Use limit=2 for more, or refine pattern]"
    );
    assert_eq!(none, "No files found matching pattern");
}

#[tokio::test]
async fn grep_prints_matches_and_context_like_pi() {
    let mut results = Vec::new();
    for b in backends().await {
        tree(&b).await;
        let plain = text(grep(&b.ws, grep_args("hello")).await);
        let folded = text(
            grep(
                &b.ws,
                GrepArgs {
                    ignore_case: Some(true),
                    glob: Some("*.md".into()),
                    ..grep_args("hello")
                },
            )
            .await,
        );
        let context = text(
            grep(
                &b.ws,
                GrepArgs {
                    context: Some(1),
                    path: Some("src/main.rs".into()),
                    ..grep_args("println")
                },
            )
            .await,
        );
        let limited = text(
            grep(
                &b.ws,
                GrepArgs {
                    limit: Some(1),
                    ..grep_args("hello")
                },
            )
            .await,
        );
        let none = text(grep(&b.ws, grep_args("absent")).await);
        results.push((b.name, [plain, folded, context, limited, none]));
    }
    let [plain, folded, context, limited, none] = same(&results);
    assert_eq!(
        plain,
        ".hidden:1: secret hello\nREADME.md:3: Say hello.\nsrc/lib.rs:1: pub fn hello() -> &'static str {\nsrc/main.rs:2:     println!(\"hello\");"
    );
    assert_eq!(folded, "README.md:1: # Hello\nREADME.md:3: Say hello.");
    assert_eq!(
        context,
        "main.rs-1- fn main() {\nmain.rs:2:     println!(\"hello\");\nmain.rs-3- }"
    );
    assert_eq!(
        limited,
        ".hidden:1: secret hello\n\n[1 matches limit reached. Use limit=2 for more, or refine pattern]"
    );
    assert_eq!(none, "No matches found");
}
