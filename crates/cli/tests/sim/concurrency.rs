//! Many VMs at once.

use futures::future::try_join_all;

use crate::sim;

#[tokio::test]
async fn twenty_vms_created_in_parallel_are_all_usable() {
    let sim = sim().await;
    let api = sim.api();
    let ids = try_join_all((0..20).map(|_| api.new_vm())).await.unwrap();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 20);
    let names = try_join_all(ids.iter().map(|vm| api.sh(vm, "hostname")))
        .await
        .unwrap();
    for (vm, name) in ids.iter().zip(names) {
        assert_eq!(name.trim(), vm);
    }
    let listed = api.vm_ids().await.unwrap();
    assert!(ids.iter().all(|vm| listed.contains(vm)));
    // SSH works for all of them at once, too.
    let sim = &sim;
    let outs = try_join_all(
        ids.iter()
            .map(|vm| async move { sim.ssh(vm).run("hostname").await }),
    )
    .await
    .unwrap();
    for (vm, out) in ids.iter().zip(outs) {
        assert_eq!(out.stdout_str().trim(), vm, "{}", out.stderr_str());
    }
}
