#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use rusqlite::Connection;
use tether_wire::ExecStream;

use super::tags::TagTable;
use super::*;

fn identity(db: &Db) -> Identity {
    db.ensure_identity(|owner| format!("{owner}{}", "ab".repeat(32)), "t0")
        .unwrap()
}

fn vm(id: &str, who: &Identity) -> VmRow {
    let mut labels = BTreeMap::new();
    labels.insert("team".to_owned(), "blue".to_owned());
    VmRow {
        record: VmRecord {
            vm_id: id.into(),
            owner_id: who.owner_id.clone(),
            org_id: who.org_id.clone(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            mem_size_mib: Some(512),
            labels,
            parent_commit_id: Some("c0".into()),
            ..VmRecord::default()
        },
        state: VmRunState::Running,
        keys: KeyPems {
            client: "client-pem".into(),
            host: "host-pem".into(),
        },
    }
}

fn commit(id: &str, who: &Identity) -> CommitRow {
    CommitRow {
        record: CommitRecord {
            commit_id: id.into(),
            owner_id: who.owner_id.clone(),
            org_id: who.org_id.clone(),
            name: format!("n-{id}"),
            ..CommitRecord::default()
        },
        keys: KeyPems {
            client: "c".into(),
            host: "h".into(),
        },
    }
}

#[test]
fn vms_round_trip_and_tombstones_hide_them() {
    let db = Db::in_memory().unwrap();
    let who = identity(&db);
    db.insert_vm(&vm("a", &who)).unwrap();
    db.insert_vm(&vm("b", &who)).unwrap();
    db.set_vm_state("b", VmRunState::Asleep).unwrap();
    db.set_vm_labels("b", &BTreeMap::new()).unwrap();
    db.set_vm_disk("b", 2048).unwrap();
    db.tombstone_vm("a", "later").unwrap();
    let mut expected = vm("b", &who);
    expected.state = VmRunState::Asleep;
    expected.record.labels.clear();
    expected.record.fs_size_mib = Some(2048);
    assert_eq!(db.live_vms().unwrap(), vec![expected]);
    assert_eq!(db.deleted_vm_org("a").unwrap(), Some(who.org_id.clone()));
    assert_eq!(db.deleted_vm_org("b").unwrap(), None);
    db.forget_vm("b").unwrap();
    assert_eq!(db.live_vms().unwrap(), vec![]);
}

#[test]
fn commits_page_newest_first_per_org_and_public_ones_for_all() {
    let db = Db::in_memory().unwrap();
    let who = identity(&db);
    for id in ["c1", "c2", "c3"] {
        db.insert_commit(&commit(id, &who)).unwrap();
    }
    db.tombstone_commit("c2", "later").unwrap();
    let org = Some(who.org_id.as_str());
    let (page, total) = db.list_commits(org, 1, 0).unwrap();
    assert_eq!((page, total), (vec![commit("c3", &who).record], 2));
    let (page, _) = db.list_commits(org, 10, 1).unwrap();
    assert_eq!(page, vec![commit("c1", &who).record]);
    assert_eq!(db.list_commits(Some("other"), 10, 0).unwrap().1, 0);
    assert_eq!(db.list_commits(None, 10, 0).unwrap().1, 0);
    let update = CommitUpdate {
        is_public: true,
        name: Some("renamed".into()),
        description: None,
    };
    db.update_commit("c1", &update).unwrap();
    let (public, total) = db.list_commits(None, 10, 0).unwrap();
    assert_eq!(
        (public[0].name.as_str(), public[0].is_public, total),
        ("renamed", true, 1)
    );
    assert_eq!(db.find_commit("c2").unwrap(), Found::Deleted);
    assert_eq!(db.find_commit("zz").unwrap(), Found::Missing);
    assert!(is_conflict(
        &db.insert_commit(&commit("c1", &who)).unwrap_err()
    ));
}

#[test]
fn the_first_account_is_made_once_and_keys_are_found_by_secret_only() {
    let db = Db::in_memory().unwrap();
    let first = identity(&db);
    assert_eq!(identity(&db), first, "ensured twice, made once");
    assert!(first.api_key.starts_with(&first.owner_id));
    let account = db.account_by_secret(&first.api_key).unwrap().unwrap();
    assert_eq!(
        (account.key_id.as_str(), account.org_name.as_str()),
        (first.owner_id.as_str(), accounts::FIRST_ORG)
    );
    assert_eq!(db.account_by_secret("nope").unwrap(), None);
    let key = NewKey {
        key_id: "k2".into(),
        secret: "s2".into(),
        label: "second".into(),
        created_at: "t1".into(),
    };
    let second = db.add_key("acme", &key).unwrap();
    assert_eq!(second.org_name, "acme");
    assert_ne!(second.org_id, first.org_id);
    let third = NewKey {
        key_id: "k3".into(),
        secret: "s3".into(),
        ..key.clone()
    };
    assert_eq!(db.add_key("acme", &third).unwrap().org_id, second.org_id);
    assert!(is_conflict(&db.add_key("acme", &third).unwrap_err()));
    let stored: String = db
        .conn()
        .query_row(
            "SELECT secret_sha256 FROM api_keys WHERE key_id = 'k2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_ne!(stored, "s2", "secrets are stored hashed");
}

#[test]
fn a_database_of_the_first_simulator_opens_and_its_rows_get_the_first_account() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    {
        let conn = Connection::open(&path).unwrap();
        schema::create_v1(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO settings VALUES ('owner_id', 'o1'), ('api_key', 'o1secret');
             INSERT INTO vms (vm_id, created_at, paused, labels, ssh_private_key, host_key)
                 VALUES ('v1', 't', 1, '{\"a\":\"b\"}', 'k', 'h');
             INSERT INTO commits (commit_id, name, created_at, ssh_private_key, host_key)
                 VALUES ('c1', 'n', 't', 'k', 'h');",
        )
        .unwrap();
    }
    let db = Db::open(&path).unwrap();
    let who = identity(&db);
    assert_eq!(
        (who.owner_id.as_str(), who.api_key.as_str()),
        ("o1", "o1secret")
    );
    let vms = db.live_vms().unwrap();
    assert_eq!(vms[0].record.owner_id, "o1");
    assert_eq!(vms[0].record.org_id, who.org_id);
    assert_eq!(vms[0].state, VmRunState::Paused);
    let Found::Live(c1) = db.find_commit("c1").unwrap() else {
        panic!("c1 is gone")
    };
    assert_eq!(
        (c1.record.org_id, c1.record.is_public),
        (who.org_id.clone(), false)
    );
    assert_eq!(
        db.account_by_secret("o1secret").unwrap().unwrap().key_id,
        "o1"
    );
    drop(db);
    let mode = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        mode.permissions().mode() & 0o777,
        0o600,
        "the database is private"
    );
    let again = Db::open(&path).unwrap();
    assert_eq!(identity(&again), who, "reopened, nothing changes");
}

#[test]
fn a_database_of_a_newer_simulator_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Db::open(&path).err().unwrap();
    assert!(err.to_string().contains("newer tether"), "{err}");
}

#[test]
fn tags_move_and_keep_or_clear_their_description() {
    let db = Db::in_memory().unwrap();
    let tag = TagRow {
        tag_id: "t1".into(),
        scope_id: "org".into(),
        owner_id: "o".into(),
        tag_name: "stable".into(),
        commit_id: "c1".into(),
        description: Some("first".into()),
        created_at: "t0".into(),
        updated_at: "t0".into(),
    };
    db.insert_tag(TagTable::Legacy, &tag).unwrap();
    assert!(is_conflict(
        &db.insert_tag(
            TagTable::Legacy,
            &TagRow {
                tag_id: "t2".into(),
                ..tag.clone()
            }
        )
        .unwrap_err()
    ));
    let moved = TagMove {
        commit_id: Some("c2".into()),
        description: None,
        updated_at: "t1".into(),
    };
    db.update_tag(TagTable::Legacy, "t1", &moved).unwrap();
    let found = db
        .find_tag(TagTable::Legacy, "org", "stable")
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            found.commit_id.as_str(),
            found.description.as_deref(),
            found.updated_at.as_str()
        ),
        ("c2", Some("first"), "t1")
    );
    let cleared = TagMove {
        commit_id: None,
        description: Some(None),
        updated_at: "t2".into(),
    };
    db.update_tag(TagTable::Legacy, "t1", &cleared).unwrap();
    let found = db
        .find_tag(TagTable::Legacy, "org", "stable")
        .unwrap()
        .unwrap();
    assert_eq!((found.commit_id.as_str(), found.description), ("c2", None));
    assert_eq!(db.list_tags(TagTable::Repo, "org").unwrap(), vec![]);
    db.delete_tag(TagTable::Legacy, "t1").unwrap();
    assert_eq!(db.list_tags(TagTable::Legacy, "org").unwrap(), vec![]);
}

fn chunk(exec_id: &str, cursor: u64, stream: ExecStream, data: &[u8]) -> LogChunk {
    LogChunk {
        exec_id: exec_id.into(),
        cursor,
        timestamp: "t".into(),
        stream,
        data: data.to_vec(),
    }
}

#[test]
fn the_exec_log_reads_from_byte_offsets_and_copies_with_its_offsets() {
    let db = Db::in_memory().unwrap();
    db.append_log("vm", &chunk("e1", 0, ExecStream::Stdout, b"a"), 10)
        .unwrap();
    db.append_log("vm", &chunk("e1", 1, ExecStream::Stderr, b"b"), 20)
        .unwrap();
    db.append_log("vm", &chunk("e2", 0, ExecStream::Stdout, b"c"), 30)
        .unwrap();
    let all = db.read_log("vm", 0, 100, None).unwrap();
    assert_eq!(all.entries.len(), 3);
    assert_eq!((all.next_offset, all.eof), (60, true));
    let first = db.read_log("vm", 0, 1, None).unwrap();
    assert_eq!((first.next_offset, first.eof), (10, false));
    let rest = db.read_log("vm", first.next_offset, 100, None).unwrap();
    assert_eq!(
        rest.entries,
        vec![
            chunk("e1", 1, ExecStream::Stderr, b"b"),
            chunk("e2", 0, ExecStream::Stdout, b"c")
        ]
    );
    let stderr = db.read_log("vm", 0, 100, Some(ExecStream::Stderr)).unwrap();
    assert_eq!(stderr.entries.len(), 1);
    let beyond = db.read_log("vm", 99, 100, None).unwrap();
    assert_eq!(
        (beyond.entries.len(), beyond.next_offset, beyond.eof),
        (0, 99, true)
    );
    assert_eq!(db.run_chunks("vm", "e1", Some(0), 10).unwrap().len(), 1);
    db.copy_log("vm", "commit").unwrap();
    assert_eq!(db.read_log("commit", 0, 100, None).unwrap(), all);

    db.insert_run("vm", "e1", "t").unwrap();
    assert!(is_conflict(&db.insert_run("vm", "e1", "t").unwrap_err()));
    assert_eq!(db.find_run("vm", "e1").unwrap().unwrap().end, None);
    let end = RunEnd::Exit { cursor: 2, code: 3 };
    db.finish_run("vm", "e1", &end).unwrap();
    assert_eq!(db.find_run("vm", "e1").unwrap().unwrap().end, Some(end));
    assert_eq!(db.find_run("other", "e1").unwrap(), None);
}

#[test]
fn env_vars_upsert_replace_and_delete() {
    let db = Db::in_memory().unwrap();
    let vars = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    };
    db.set_env_vars("o", &vars(&[("A", "1"), ("B", "2")]), false)
        .unwrap();
    let all = db.set_env_vars("o", &vars(&[("A", "9")]), false).unwrap();
    assert_eq!(all, vars(&[("A", "9"), ("B", "2")]));
    let all = db.set_env_vars("o", &vars(&[("C", "3")]), true).unwrap();
    assert_eq!(all, vars(&[("C", "3")]));
    assert!(db.delete_env_var("o", "C").unwrap());
    assert!(!db.delete_env_var("o", "C").unwrap());
    assert_eq!(db.env_vars("other").unwrap(), BTreeMap::new());
}
