//! Successful replies in every shape Vers has been seen to use, normalised to the wire types:
//! capitalised states (`"Running"`), branch replies as `{vms: [...]}` or `{vm_id}`, delete
//! replies as `{vm_id}` or `{deleted_ids: [...]}`, commit lists without paging fields.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tether_wire::{CommitList, ListCommitsQuery, Vm, VmMetadata};

/// Decodes a VM, accepting its state in any letter case.
pub(crate) fn vm(value: Value) -> Result<Vm, String> {
    decode(lowercase_state(value))
}

/// Decodes `GET /vms`: an array of VMs, or (older API) `{"vms": [...]}`.
pub(crate) fn vms(value: Value) -> Result<Vec<Vm>, String> {
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut object) => match object.remove("vms") {
            Some(Value::Array(list)) => list,
            _ => return Err("expected an array of VMs".to_owned()),
        },
        _ => return Err("expected an array of VMs".to_owned()),
    };
    list.into_iter().map(vm).collect()
}

/// Decodes VM metadata, accepting its state in any letter case.
pub(crate) fn metadata(value: Value) -> Result<VmMetadata, String> {
    decode(lowercase_state(value))
}

/// The new VM ids of a branch reply: `{"vms": [{"vm_id"}, ...]}` or a bare `{"vm_id"}`.
pub(crate) fn branch_ids(value: &Value) -> Result<Vec<String>, String> {
    if let Some(vms) = value.get("vms").and_then(Value::as_array) {
        let ids: Option<Vec<String>> = vms.iter().map(vm_id_of).collect();
        let ids = ids.ok_or("an entry of `vms` has no vm_id")?;
        if ids.is_empty() {
            return Err(match value.get("error").and_then(Value::as_str) {
                Some(error) => format!("no VM was made: {error}"),
                None => "`vms` is empty".to_owned(),
            });
        }
        return Ok(ids);
    }
    vm_id_of(value)
        .map(|id| vec![id])
        .ok_or_else(|| "expected {\"vms\": [...]} or {\"vm_id\": ...}".to_owned())
}

/// The ids a delete reply names: `{"vm_id"}`, `{"deleted_ids": [...]}`, or an empty body
/// (taken to mean `vm_id` alone).
pub(crate) fn deleted_ids(value: &Value, vm_id: &str) -> Result<Vec<String>, String> {
    if value.is_null() {
        return Ok(vec![vm_id.to_owned()]);
    }
    if let Some(ids) = value.get("deleted_ids").and_then(Value::as_array) {
        let ids: Option<Vec<String>> = ids
            .iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect();
        return ids.ok_or_else(|| "`deleted_ids` holds a non-string".to_owned());
    }
    vm_id_of(value)
        .map(|id| vec![id])
        .ok_or_else(|| "expected {\"vm_id\": ...} or {\"deleted_ids\": [...]}".to_owned())
}

/// Decodes `GET /commits`, filling in `total`, `limit` and `offset` when the reply leaves them
/// out, and a commit's `commit_id` from `id` and a missing `name` as empty.
pub(crate) fn commit_list(value: Value, query: ListCommitsQuery) -> Result<CommitList, String> {
    let Value::Object(mut object) = value else {
        return Err("expected {\"commits\": [...]}".to_owned());
    };
    let Some(Value::Array(commits)) = object.remove("commits") else {
        return Err("expected {\"commits\": [...]}".to_owned());
    };
    let commits: Vec<Value> = commits.into_iter().map(commit_fields).collect();
    let count = commits.len() as u64;
    object.insert("commits".into(), Value::Array(commits));
    let offset = query.offset.unwrap_or(0);
    default_field(&mut object, "total", offset + count);
    default_field(&mut object, "limit", query.limit.unwrap_or(count));
    default_field(&mut object, "offset", offset);
    decode(Value::Object(object))
}

fn commit_fields(commit: Value) -> Value {
    let Value::Object(mut fields) = commit else {
        return commit;
    };
    if !fields.contains_key("commit_id")
        && let Some(id) = fields.get("id").cloned()
    {
        fields.insert("commit_id".into(), id);
    }
    if fields.get("name").is_none_or(Value::is_null) {
        fields.insert("name".into(), Value::String(String::new()));
    }
    Value::Object(fields)
}

fn default_field(object: &mut Map<String, Value>, name: &str, value: u64) {
    if object.get(name).is_none_or(Value::is_null) {
        object.insert(name.to_owned(), Value::from(value));
    }
}

fn vm_id_of(value: &Value) -> Option<String> {
    value
        .get("vm_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn lowercase_state(mut value: Value) -> Value {
    if let Some(state) = value.get_mut("state")
        && let Some(text) = state.as_str()
    {
        *state = Value::String(text.to_lowercase());
    }
    value
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;
    use tether_wire::VmState;

    use super::*;

    #[test]
    fn states_are_read_in_any_case() {
        let raw = json!({"vm_id": "v", "owner_id": "o", "created_at": "t", "state": "Paused"});
        assert_eq!(vm(raw).unwrap().state, VmState::Paused);
        let raw = json!({"vm_id": "v", "owner_id": "o", "created_at": "t", "state": "BOOTING"});
        assert_eq!(vm(raw).unwrap().state, VmState::Booting);
    }

    #[test]
    fn branch_replies_of_both_shapes() {
        let many = json!({"vms": [{"vm_id": "a"}, {"vm_id": "b"}]});
        assert_eq!(branch_ids(&many).unwrap(), ["a", "b"]);
        assert_eq!(branch_ids(&json!({"vm_id": "c"})).unwrap(), ["c"]);
        let hybrid = json!({"vms": [], "error": "parent vm not found"});
        assert_eq!(
            branch_ids(&hybrid).unwrap_err(),
            "no VM was made: parent vm not found"
        );
    }

    #[test]
    fn delete_replies_of_every_shape() {
        assert_eq!(deleted_ids(&json!({"vm_id": "a"}), "a").unwrap(), ["a"]);
        let old = json!({"deleted_ids": ["a", "b"]});
        assert_eq!(deleted_ids(&old, "a").unwrap(), ["a", "b"]);
        assert_eq!(deleted_ids(&Value::Null, "a").unwrap(), ["a"]);
        assert!(deleted_ids(&json!({"ok": true}), "a").is_err());
    }

    #[test]
    fn commit_lists_without_paging_fields() {
        let raw = json!({"commits": [{
            "id": "c1", "name": null, "owner_id": "o", "is_public": false, "created_at": "t"
        }]});
        let list = commit_list(raw, ListCommitsQuery::default()).unwrap();
        assert_eq!((list.total, list.limit, list.offset), (1, 1, 0));
        assert_eq!(list.commits[0].commit_id, "c1");
        assert_eq!(list.commits[0].name, "");
    }
}
