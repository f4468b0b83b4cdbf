//! `fs/…` on a VM: exact bytes, `~` and relative paths, listings, search, errors with errno.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::client::Setup;

#[tokio::test]
async fn files_keep_their_exact_bytes_and_paths_resolve_on_the_vm() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    serve.active_vm().await;
    let bytes: Vec<u8> = b"\xef\xbb\xbfcrlf\r\nnul\0byte\xff".to_vec();
    let written = serve
        .call(
            "fs/writeFile",
            json!({"path": "~/exact.bin", "data": STANDARD.encode(&bytes)}),
        )
        .await;
    assert_eq!(
        written,
        json!({"path": "/root/exact.bin", "size": bytes.len()})
    );
    let read = serve
        .call("fs/readFile", json!({"path": "exact.bin"}))
        .await;
    assert_eq!(
        STANDARD.decode(read["data"].as_str().unwrap()).unwrap(),
        bytes
    );
    assert_eq!(read["path"], "/root/exact.bin");
    let stat = serve
        .call("fs/stat", json!({"path": "/root/exact.bin"}))
        .await;
    assert_eq!(
        (stat["kind"].clone(), stat["size"].clone()),
        (json!("file"), json!(bytes.len()))
    );
    serve.call("fs/mkdir", json!({"path": "a/b/c"})).await;
    serve
        .call("fs/mkdir", json!({"path": "a/node_modules"}))
        .await;
    serve.call("fs/writeFile", json!({"path": "a/b/c/x.rs", "data": STANDARD.encode("fn main() {}\nlet needle = 1;\n")})).await;
    serve
        .call(
            "fs/writeFile",
            json!({"path": "a/y.txt", "data": STANDARD.encode("needle\n")}),
        )
        .await;
    serve
        .call(
            "fs/writeFile",
            json!({"path": "a/node_modules/z.rs", "data": STANDARD.encode("needle\n")}),
        )
        .await;
    let dir = serve.call("fs/readDir", json!({"path": "a"})).await;
    assert_eq!(
        dir["entries"],
        json!([{"name": "b", "kind": "dir"}, {"name": "node_modules", "kind": "dir"}, {"name": "y.txt", "kind": "file"}])
    );
    let found = serve
        .call("fs/glob", json!({"path": "a", "pattern": "*.rs"}))
        .await;
    assert_eq!(
        found,
        json!({"path": "/root/a", "paths": ["/root/a/b/c/x.rs"], "truncated": false})
    );
    let grep = serve
        .call(
            "fs/grep",
            json!({"path": "a", "pattern": "need.e", "glob": "**/*.rs"}),
        )
        .await;
    assert_eq!(
        grep["matches"],
        json!([
            {"path": "/root/a/b/c/x.rs", "line": 2, "text": "let needle = 1;"},
            {"path": "/root/a/node_modules/z.rs", "line": 1, "text": "needle"}
        ])
    );
    let one = serve
        .call(
            "fs/grep",
            json!({"path": "a/y.txt", "pattern": "NEEDLE", "ignoreCase": true}),
        )
        .await;
    assert_eq!(
        one["matches"],
        json!([{"path": "/root/a/y.txt", "line": 1, "text": "needle"}])
    );
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    serve
        .call(
            "fs/writeFile",
            json!({"path": "p.png", "data": STANDARD.encode(png)}),
        )
        .await;
    let image = serve.call("fs/imageType", json!({"path": "p.png"})).await;
    assert_eq!(image["mimeType"], "image/png");
    let text = serve.call("fs/imageType", json!({"path": "a/y.txt"})).await;
    assert_eq!(text["mimeType"], json!(null));
}

#[tokio::test]
async fn file_errors_carry_a_kind_and_an_errno() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    serve.active_vm().await;
    let missing = serve
        .error("fs/readFile", json!({"path": "missing.txt"}))
        .await;
    assert_eq!(
        missing,
        json!({"code": -32001, "message": "/root/missing.txt does not exist; check the path, or list its directory to see what is there", "data": {"kind": "not_found", "errno": "ENOENT"}})
    );
    let dir = serve.error("fs/readFile", json!({"path": "~"})).await;
    assert_eq!(dir["data"], json!({"kind": "usage", "errno": "EISDIR"}));
    let bad = serve
        .error("fs/writeFile", json!({"path": "x", "data": "***"}))
        .await;
    assert_eq!(bad["code"], -32602);
    let unknown = serve
        .error("fs/readFile", json!({"vmId": "0badc0de", "path": "x"}))
        .await;
    assert_eq!(unknown["data"], json!({"kind": "not_found"}));
}
