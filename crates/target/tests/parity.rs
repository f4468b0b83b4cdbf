//! One test body per case, run against every backend (local, simulator VM, plain SSH): each
//! must give the expected result, and all must give the same one. Multi-threaded runtimes, so
//! connections close while the simulator is being stopped (its drop blocks a thread).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Backend, Run, backends, noise, same};
use tether_target::{
    DirEntry, ExecOutcome, ExecSpec, FileKind, GrepMatch, GrepQuery, LocalTarget, Metadata, Target,
    TargetError, download_file, download_tree, upload_file, upload_tree,
};

/// Runs `case` on every backend and returns each result, named.
macro_rules! on_every_backend {
    (|$b:ident| $body:expr) => {{
        let mut results = Vec::new();
        for $b in backends().await {
            let value = $body;
            results.push(($b.name, value));
        }
        results
    }};
}

/// A file error, as a comparable value: the message with the scratch path replaced.
fn error_text(b: &Backend, result: Result<impl std::fmt::Debug, TargetError>) -> String {
    b.normalize(&result.expect_err("the operation must fail").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_exit_codes_stdout_stderr_stdin_cwd_and_env() {
    let results = on_every_backend!(|b| {
        b.target.mkdir_all(&b.path("a dir")).await.unwrap();
        let spec = ExecSpec {
            command: "pwd; echo \"$GREETING\"; tr a-z A-Z; echo err >&2; exit 3".into(),
            cwd: Some(b.path("a dir")),
            env: vec![("GREETING".into(), "hi 'there'".into())],
            stdin: Some(b"abc".to_vec()),
            timeout: None,
        };
        let first = b.run(spec).await;
        let killed = b.run(ExecSpec::shell("kill -9 $$")).await;
        let own_code = b
            .run(ExecSpec {
                cwd: Some(b.root.clone()),
                ..ExecSpec::shell("exit 201")
            })
            .await;
        let missing = ExecSpec {
            cwd: Some(b.path("nope")),
            ..ExecSpec::shell("echo ran")
        };
        let missing = error_text(&b, b.target.exec(missing, &mut |_, _| {}, None).await);
        (first, killed.outcome, own_code.outcome, missing)
    });
    let (first, killed, own_code, missing) = same(&results);
    let expected = Run {
        stdout: "$ROOT/a dir\nhi 'there'\nABC".into(),
        stderr: "err\n".into(),
        outcome: ExecOutcome::Exited(3),
    };
    assert_eq!(first, expected);
    assert_eq!(killed, ExecOutcome::Signaled("KILL".into()));
    assert_eq!(
        own_code,
        ExecOutcome::Exited(201),
        "a command's own exit code 201 is not a cwd error"
    );
    assert!(
        missing.contains("$ROOT/nope does not exist or is not a directory"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabytes_of_binary_round_trip_byte_exact() {
    let data = noise(10 * 1024 * 1024);
    let results = on_every_backend!(|b| {
        let path = b.path("blob.bin");
        b.target.write_file(&path, &data).await.unwrap();
        let back = b.target.read_file(&path).await.unwrap();
        assert!(
            back == data,
            "{}: read back {} bytes that differ from the 10 MB written",
            b.name,
            back.len()
        );
        let size = b.target.stat(&path).await.unwrap().size;
        let sum = b
            .sh(&format!("cksum < {}", shlex::try_quote(&path).unwrap()))
            .await;
        (size, sum)
    });
    let (size, sum) = same(&results);
    assert_eq!(size, data.len() as u64);
    let local_sum = std::process::Command::new("sh")
        .arg("-c")
        .arg("cksum")
        .stdin_bytes(&data);
    assert_eq!(sum, local_sum);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_files_keep_every_byte() {
    let big: String = (0..8000)
        .map(|i| format!("line {i}: the quick brown fox\n"))
        .collect();
    assert!(big.len() > 200_000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("big.txt", big.into_bytes()),
        ("no-newline.txt", b"last line has no newline".to_vec()),
        ("crlf.txt", b"one\r\ntwo\r\n".to_vec()),
        ("bom.txt", b"\xef\xbb\xbfwith a BOM\n".to_vec()),
        ("empty.txt", Vec::new()),
    ];
    let results = on_every_backend!(|b| {
        let mut sizes = Vec::new();
        for (name, bytes) in &cases {
            let path = b.path(name);
            b.target.write_file(&path, bytes).await.unwrap();
            assert!(
                b.target.read_file(&path).await.unwrap() == *bytes,
                "{}: {name} changed",
                b.name
            );
            sizes.push(
                b.sh(&format!("wc -c < {}", shlex::try_quote(&path).unwrap()))
                    .await
                    .trim()
                    .to_owned(),
            );
        }
        sizes
    });
    let sizes = same(&results);
    let expected: Vec<String> = cases
        .iter()
        .map(|(_, bytes)| bytes.len().to_string())
        .collect();
    assert_eq!(
        sizes, expected,
        "the shell sees exactly the bytes written (no newline added)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_paths_work_everywhere() {
    let names = [
        "with space.txt",
        "it's \"quoted\".txt",
        "new\nline.txt",
        "ünï 日本.txt",
        "-dash.txt",
        "$(echo no).txt",
    ];
    let results = on_every_backend!(|b| {
        for name in names {
            let path = b.path(name);
            b.target.write_file(&path, name.as_bytes()).await.unwrap();
            assert_eq!(
                b.target.read_file(&path).await.unwrap(),
                name.as_bytes(),
                "{}: {name:?}",
                b.name
            );
            assert_eq!(b.target.stat(&path).await.unwrap().size, name.len() as u64);
        }
        let dir = b.path("dir 'with' ünï");
        b.target.mkdir_all(&format!("{dir}/sub dir")).await.unwrap();
        let cwd = ExecSpec {
            cwd: Some(dir.clone()),
            ..ExecSpec::shell("ls")
        };
        (
            b.target.read_dir(&b.root).await.unwrap(),
            b.run(cwd).await.stdout,
        )
    });
    let (listing, ls) = same(&results);
    let mut expected: Vec<DirEntry> = names
        .iter()
        .map(|n| DirEntry {
            path: (*n).into(),
            kind: FileKind::File,
        })
        .collect();
    expected.push(DirEntry {
        path: "dir 'with' ünï".into(),
        kind: FileKind::Dir,
    });
    expected.sort();
    assert_eq!(listing, expected);
    assert_eq!(ls, "sub dir\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwriting_keeps_the_mode_and_writes_through_symlinks() {
    let results = on_every_backend!(|b| {
        let script = b.path("run.sh");
        b.target
            .write_file(&script, b"#!/bin/sh\necho v1\n")
            .await
            .unwrap();
        b.sh(&format!("chmod 750 {}", shlex::try_quote(&script).unwrap()))
            .await;
        b.target
            .write_file(&script, b"#!/bin/sh\necho v2\n")
            .await
            .unwrap();
        let kept = b.target.stat(&script).await.unwrap();
        let ran = b.sh(&shlex::try_quote(&script).unwrap()).await;
        b.target
            .write_file(&b.path("new.txt"), b"new")
            .await
            .unwrap();
        let fresh = b.target.stat(&b.path("new.txt")).await.unwrap().mode;
        b.sh(&format!(
            "cd {} && ln -s run.sh link.sh",
            shlex::try_quote(&b.root).unwrap()
        ))
        .await;
        b.target
            .write_file(&b.path("link.sh"), b"#!/bin/sh\necho v3\n")
            .await
            .unwrap();
        let link = b.target.stat(&b.path("link.sh")).await.unwrap();
        let through = b.target.read_file(&script).await.unwrap();
        let leftovers = b.target.glob(&b.root, ".tether-write*").await.unwrap();
        (kept, ran, fresh, link, through, leftovers)
    });
    let (kept, ran, fresh, link, through, leftovers) = same(&results);
    assert_eq!(
        kept,
        Metadata {
            kind: FileKind::File,
            size: 18,
            mode: 0o750,
            symlink: false
        }
    );
    assert_eq!(
        (ran.as_str(), fresh),
        ("v2\n", 0o644),
        "a new file gets 0666 & !umask (umask 022)"
    );
    assert_eq!(
        link,
        Metadata {
            kind: FileKind::File,
            size: 18,
            mode: 0o750,
            symlink: true
        }
    );
    assert_eq!(
        through, b"#!/bin/sh\necho v3\n",
        "writing a symlink writes its target"
    );
    assert_eq!(
        leftovers,
        Vec::<DirEntry>::new(),
        "no temporary file is left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_source_changes_nothing() {
    let results = on_every_backend!(|b| {
        let path = b.path("kept.txt");
        b.target.write_file(&path, b"original").await.unwrap();
        let mut short: &[u8] = &[7u8; 50];
        let error = b
            .target
            .write_from(&path, &mut short, 100)
            .await
            .unwrap_err();
        let truncated = matches!(
            error,
            TargetError::Truncated {
                expected: 100,
                got: 50,
                ..
            }
        );
        let content = b.target.read_file(&path).await.unwrap();
        (
            truncated,
            b.normalize(&error.to_string()),
            content,
            b.target.read_dir(&b.root).await.unwrap().len(),
        )
    });
    let (truncated, message, content, entries) = same(&results);
    assert!(truncated, "{message}");
    assert_eq!((content.as_slice(), entries), (b"original".as_slice(), 1));
}

fn entry(path: &str, kind: FileKind) -> DirEntry {
    DirEntry {
        path: path.into(),
        kind,
    }
}

/// A small source tree: files, a hidden dir, a symlink, a name with a space.
async fn make_tree(b: &Backend) {
    for (path, text) in [
        (
            "src/main.rs",
            "use std::io;\nfn main() {\n    println!(\"hi\");\n}\n",
        ),
        ("src/lib/a.rs", "use core::fmt;\npub fn a() {}\n"),
        ("src/lib/b.txt", "FN MAIN in caps\nnothing\n"),
        (".hidden/x.rs", "fn main() {}\n"),
        ("odd name.rs", "// fn main\n"),
    ] {
        let full = b.path(&format!("tree/{path}"));
        b.target
            .mkdir_all(&full[..full.rfind('/').unwrap()])
            .await
            .unwrap();
        b.target.write_file(&full, text.as_bytes()).await.unwrap();
    }
    b.target
        .write_file(&b.path("tree/blob.bin"), b"fn main\0binary")
        .await
        .unwrap();
    b.sh(&format!(
        "cd {} && ln -s src/main.rs link.rs && mkdir empty",
        shlex::try_quote(&b.path("tree")).unwrap()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glob_results_are_equal() {
    let results = on_every_backend!(|b| {
        make_tree(&b).await;
        let dir = b.path("tree");
        let mut found = Vec::new();
        for pattern in [
            "**/*.rs",
            "src/*.rs",
            "src/**",
            "*",
            "src/lib/[ab].*",
            "{src,.hidden}/*.rs",
            "missing/**",
        ] {
            found.push(b.target.glob(&dir, pattern).await.unwrap());
        }
        found.push(b.target.glob(&b.path("tree/src"), "*").await.unwrap());
        let missing = error_text(&b, b.target.glob(&b.path("nope"), "*").await);
        let bad = matches!(
            b.target.glob(&dir, "[a").await,
            Err(TargetError::InvalidPattern { .. })
        );
        (found, missing, bad)
    });
    let (found, missing, bad) = same(&results);
    use FileKind::{Dir, File, Symlink};
    let all_rs = vec![
        entry(".hidden/x.rs", File),
        entry("link.rs", Symlink),
        entry("odd name.rs", File),
        entry("src/lib/a.rs", File),
        entry("src/main.rs", File),
    ];
    assert_eq!(found[0], all_rs);
    assert_eq!(found[1], vec![entry("src/main.rs", File)]);
    assert_eq!(
        found[2],
        vec![
            entry("src/lib", Dir),
            entry("src/lib/a.rs", File),
            entry("src/lib/b.txt", File),
            entry("src/main.rs", File)
        ]
    );
    let top = vec![
        entry(".hidden", Dir),
        entry("blob.bin", File),
        entry("empty", Dir),
        entry("link.rs", Symlink),
        entry("odd name.rs", File),
        entry("src", Dir),
    ];
    assert_eq!(found[3], top);
    assert_eq!(
        found[4],
        vec![entry("src/lib/a.rs", File), entry("src/lib/b.txt", File)]
    );
    assert_eq!(
        found[5],
        vec![entry(".hidden/x.rs", File), entry("src/main.rs", File)]
    );
    assert_eq!(found[6], vec![]);
    assert_eq!(found[7], vec![entry("lib", Dir), entry("main.rs", File)]);
    assert_eq!(
        missing,
        "$ROOT/nope does not exist; check the path, or list its directory to see what is there"
    );
    assert!(bad);
}

fn hit(path: &str, line: u64, text: &str) -> GrepMatch {
    GrepMatch {
        path: path.into(),
        line,
        text: text.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grep_results_are_equal() {
    let results = on_every_backend!(|b| {
        make_tree(&b).await;
        let dir = b.path("tree");
        let caps = GrepQuery {
            ignore_case: true,
            include: Some("*.txt".into()),
            ..GrepQuery::literal("fn main")
        };
        let mut found = Vec::new();
        for query in [
            GrepQuery::literal("fn main"),
            GrepQuery::regex("^use [a-z]+::"),
            caps,
            GrepQuery::literal("absent"),
        ] {
            found.push(b.target.grep(&dir, &query).await.unwrap());
        }
        found.push(
            b.target
                .grep(&b.path("tree/src/main.rs"), &GrepQuery::literal("println"))
                .await
                .unwrap(),
        );
        // What a model used to ripgrep writes: Perl-style classes and inline flags.
        for query in [r"\bfn\s\w+\(\)\s\{", "(?i)fn main in"] {
            found.push(b.target.grep(&dir, &GrepQuery::regex(query)).await.unwrap());
        }
        let missing = error_text(
            &b,
            b.target
                .grep(&b.path("nope"), &GrepQuery::literal("x"))
                .await,
        );
        let bad = b.target.grep(&dir, &GrepQuery::regex("(")).await;
        (found, missing, matches!(bad, Err(TargetError::Tool { .. })))
    });
    let (found, missing, bad_is_tool_error) = same(&results);
    assert_eq!(
        found[0],
        vec![
            hit(".hidden/x.rs", 1, "fn main() {}"),
            hit("odd name.rs", 1, "// fn main"),
            hit("src/main.rs", 2, "fn main() {")
        ]
    );
    assert_eq!(
        found[1],
        vec![
            hit("src/lib/a.rs", 1, "use core::fmt;"),
            hit("src/main.rs", 1, "use std::io;")
        ]
    );
    assert_eq!(found[2], vec![hit("src/lib/b.txt", 1, "FN MAIN in caps")]);
    assert_eq!(found[3], vec![]);
    assert_eq!(found[4], vec![hit("main.rs", 3, "    println!(\"hi\");")]);
    assert_eq!(
        found[5],
        vec![
            hit(".hidden/x.rs", 1, "fn main() {}"),
            hit("src/lib/a.rs", 2, "pub fn a() {}"),
            hit("src/main.rs", 2, "fn main() {")
        ]
    );
    assert_eq!(found[6], vec![hit("src/lib/b.txt", 1, "FN MAIN in caps")]);
    assert_eq!(
        missing,
        "$ROOT/nope does not exist; check the path, or list its directory to see what is there"
    );
    assert!(
        bad_is_tool_error,
        "a malformed regex is reported as grep's failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_and_dangling_links_are_reported_alike() {
    let results = on_every_backend!(|b| {
        let q = shlex::try_quote(&b.root).unwrap().into_owned();
        b.sh(&format!(
            "cd {q} && mkfifo pipe && ln -s gone dangling && ln -s . self && mkdir d && : > f"
        ))
        .await;
        let listing = b.target.read_dir(&b.root).await.unwrap();
        let dangling = b.target.stat(&b.path("dangling")).await.unwrap();
        let through = b.target.stat(&b.path("self")).await.unwrap().kind;
        (listing, dangling, through)
    });
    let (listing, dangling, through) = same(&results);
    use FileKind::{Dir, File, Other, Symlink};
    let expected = vec![
        entry("d", Dir),
        entry("dangling", Symlink),
        entry("f", File),
        entry("pipe", Other),
        entry("self", Symlink),
    ];
    assert_eq!(listing, expected);
    assert_eq!(
        dangling,
        Metadata {
            kind: Symlink,
            size: 4,
            mode: 0o777,
            symlink: true
        }
    );
    assert_eq!(through, Dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_errors_are_equal() {
    let results = on_every_backend!(|b| {
        let t = &b.target;
        t.write_file(&b.path("file"), b"x").await.unwrap();
        t.mkdir_all(&b.path("dir")).await.unwrap();
        vec![
            error_text(&b, t.read_file(&b.path("missing")).await),
            error_text(&b, t.read_file(&b.path("dir")).await),
            error_text(&b, t.read_file(&b.path("file/below")).await),
            error_text(&b, t.stat(&b.path("missing")).await),
            error_text(&b, t.write_file(&b.path("no/such/file"), b"x").await),
            error_text(&b, t.write_file(&b.path("file/below"), b"x").await),
            error_text(&b, t.write_file(&b.path("dir"), b"x").await),
            error_text(&b, t.read_dir(&b.path("file")).await),
            error_text(&b, t.read_dir(&b.path("missing")).await),
            error_text(&b, t.mkdir_all(&b.path("file")).await),
            error_text(&b, t.mkdir_all(&b.path("file/sub")).await),
            error_text(&b, t.read_file("").await),
        ]
    });
    insta::assert_debug_snapshot!(same(&results));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trees_and_files_upload_and_download_equal() {
    let source = tempfile::tempdir().unwrap();
    let src = source.path().to_str().unwrap();
    make_tree(&common::local_at(src)).await;
    let src = &format!("{src}/tree");
    let chmod = format!("chmod 755 {}/src/main.rs", shlex::try_quote(src).unwrap());
    common::local_at(src).sh(&chmod).await;
    let blob = noise(3 * 1024 * 1024 + 17);
    std::fs::write(format!("{src}/big.bin"), &blob).unwrap();
    let want = listing(&LocalTarget, src).await;
    let results = on_every_backend!(|b| {
        upload_tree(src, b.target.as_ref(), &b.path("up"))
            .await
            .unwrap();
        let uploaded = listing(b.target.as_ref(), &b.path("up")).await;
        let back = tempfile::tempdir().unwrap();
        let back_dir = back.path().join("down");
        download_tree(b.target.as_ref(), &b.path("up"), back_dir.to_str().unwrap())
            .await
            .unwrap();
        let downloaded = listing(&LocalTarget, back_dir.to_str().unwrap()).await;
        let copied = upload_file(
            &format!("{src}/big.bin"),
            b.target.as_ref(),
            &b.path("one.bin"),
        )
        .await
        .unwrap();
        let file_back = back.path().join("one.bin");
        download_file(
            b.target.as_ref(),
            &b.path("one.bin"),
            file_back.to_str().unwrap(),
        )
        .await
        .unwrap();
        assert!(
            std::fs::read(&file_back).unwrap() == blob,
            "{}: the downloaded file differs",
            b.name
        );
        (uploaded, downloaded, copied)
    });
    let (uploaded, downloaded, copied) = same(&results);
    assert_eq!(uploaded, want);
    assert_eq!(downloaded, want);
    assert_eq!(copied, blob.len() as u64);
}

/// Every entry under `dir` with its mode and content digest, for comparing trees.
async fn listing(target: &dyn Target, dir: &str) -> Vec<(DirEntry, u32, Option<String>)> {
    let mut out = Vec::new();
    for entry in target.glob(dir, "**").await.unwrap() {
        let path = format!("{dir}/{}", entry.path);
        let mode = target.stat(&path).await.unwrap().mode;
        let digest = match entry.kind {
            FileKind::File => Some(format!(
                "{:x}",
                simple_digest(&target.read_file(&path).await.unwrap())
            )),
            _ => None,
        };
        out.push((entry, mode, digest));
    }
    out
}

fn simple_digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

trait StdinBytes {
    fn stdin_bytes(&mut self, bytes: &[u8]) -> String;
}

impl StdinBytes for std::process::Command {
    /// Runs the command with `bytes` on stdin and returns its stdout.
    fn stdin_bytes(&mut self, bytes: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_errors_name_the_side_that_failed() {
    let local = tempfile::tempdir().unwrap();
    let here = local.path().to_str().unwrap();
    std::fs::write(local.path().join("file"), b"x").unwrap();
    let results = on_every_backend!(|b| {
        let t = b.target.as_ref();
        b.target.write_file(&b.path("file"), b"x").await.unwrap();
        let errors = [
            error_text(
                &b,
                upload_tree(&format!("{here}/nope"), t, &b.path("up")).await,
            ),
            error_text(
                &b,
                download_tree(t, &b.path("nope"), &format!("{here}/down")).await,
            ),
            error_text(&b, upload_tree(here, t, &b.path("file")).await),
            error_text(
                &b,
                download_file(t, &b.path("file"), &format!("{here}/no/such")).await,
            ),
            error_text(
                &b,
                upload_file(&format!("{here}/nope"), t, &b.path("x")).await,
            ),
        ];
        let created = b.target.stat(&b.path("up")).await.is_ok();
        (errors.join("\n").replace(here, "$HERE"), created)
    });
    let (errors, created) = same(&results);
    insta::assert_snapshot!(errors);
    assert!(!created, "a failed upload creates nothing");
}
