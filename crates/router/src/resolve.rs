//! VM and commit ids from what a person typed: a full id, or a unique prefix of a listed one.

use tether_vers::VersClient;
use tether_wire::ListCommitsQuery;

use crate::RouterError;

/// Page size when listing commits to resolve a prefix.
const COMMIT_PAGE: u64 = 100;
/// Most commit pages read while resolving a prefix.
const MAX_COMMIT_PAGES: u64 = 50;

/// Whether `text` is a whole id (a UUID: 8-4-4-4-12 hex digits), so no listing is needed.
pub fn is_full_id(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The one id in `ids` that equals `query` or starts with it.
pub fn match_prefix(
    kind: &'static str,
    query: &str,
    ids: Vec<String>,
) -> Result<String, RouterError> {
    let query = query.trim();
    if let Some(exact) = ids.iter().find(|id| id.as_str() == query) {
        return Ok(exact.clone());
    }
    let mut matching: Vec<String> = if query.is_empty() {
        Vec::new()
    } else {
        ids.iter()
            .filter(|id| id.starts_with(query))
            .cloned()
            .collect()
    };
    matching.sort();
    match matching.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(RouterError::NoMatch {
            kind,
            query: query.to_owned(),
            candidates: ids,
        }),
        _ => Err(RouterError::Ambiguous {
            kind,
            query: query.to_owned(),
            candidates: matching,
        }),
    }
}

/// The VM `query` names: a full id as it is (the API says whether it exists), else the one
/// listed VM whose id starts with it.
pub async fn resolve_vm(vers: &VersClient, query: &str) -> Result<String, RouterError> {
    let query = query.trim();
    if is_full_id(query) {
        return Ok(query.to_owned());
    }
    let ids = vers
        .list_vms()
        .await?
        .into_iter()
        .map(|vm| vm.vm_id)
        .collect();
    match_prefix("VM", query, ids)
}

/// The commit `query` names: a full id as it is, else the one listed commit whose id starts
/// with it.
pub async fn resolve_commit(vers: &VersClient, query: &str) -> Result<String, RouterError> {
    let query = query.trim();
    if is_full_id(query) {
        return Ok(query.to_owned());
    }
    let mut ids = Vec::new();
    for page in 0..MAX_COMMIT_PAGES {
        let list = vers
            .list_commits(ListCommitsQuery {
                limit: Some(COMMIT_PAGE),
                offset: Some(page * COMMIT_PAGE),
            })
            .await?;
        let got = list.commits.len() as u64;
        ids.extend(list.commits.into_iter().map(|c| c.commit_id));
        if got < COMMIT_PAGE || ids.len() as u64 >= list.total {
            break;
        }
    }
    match_prefix("commit", query, ids)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ids() -> Vec<String> {
        ["4c1e0000-aaaa", "4c1f0000-bbbb", "9d000000-cccc"]
            .map(str::to_owned)
            .to_vec()
    }

    #[test]
    fn a_unique_prefix_resolves() {
        assert_eq!(match_prefix("VM", "9", ids()).unwrap(), "9d000000-cccc");
        assert_eq!(
            match_prefix("VM", " 4c1f ", ids()).unwrap(),
            "4c1f0000-bbbb"
        );
        assert_eq!(
            match_prefix("VM", "4c1e0000-aaaa", ids()).unwrap(),
            "4c1e0000-aaaa"
        );
    }

    #[test]
    fn ambiguous_and_unknown_prefixes_list_the_candidates() {
        let mut reversed = ids();
        reversed.reverse();
        let err = match_prefix("VM", "4c1", reversed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"4c1\" matches 2 VMs: 4c1e0000-aaaa, 4c1f0000-bbbb; give more of the id"
        );
        let err = match_prefix("VM", "zz", ids()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no VM id starts with \"zz\"; the VMs are: 4c1e0000-aaaa, 4c1f0000-bbbb, \
             9d000000-cccc (`tether vm ls`)"
        );
        let err = match_prefix("commit", "", Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no commit id starts with \"\"; there are no commits yet"
        );
    }

    #[test]
    fn full_ids_are_recognised() {
        assert!(is_full_id("4c1e1a2b-0000-4000-8000-00000000abcd"));
        assert!(!is_full_id("4c1e1a2b"));
        assert!(!is_full_id("4c1e1a2b-0000-4000-8000-00000000abcg"));
    }
}
