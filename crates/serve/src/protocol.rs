//! The wire format: JSON-RPC 2.0, one JSON object per line, in both directions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version [`crate::PROTOCOL_VERSION`] names; bumped on incompatible changes.
pub const JSONRPC: &str = "2.0";

/// Error codes of the protocol (README "Error codes").
pub mod code {
    /// The line is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON is not a JSON-RPC request or notification.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The params do not fit the method.
    pub const INVALID_PARAMS: i64 = -32602;
    /// A bug or an unexpected failure.
    pub const INTERNAL: i64 = -32603;
    /// A method other than `initialize` came first.
    pub const NOT_INITIALIZED: i64 = -32000;
    /// A VM, commit, file or directory does not exist.
    pub const NOT_FOUND: i64 = -32001;
    /// The request is wrong (bad id prefix, no active VM, a directory where a file is needed…).
    pub const USAGE: i64 = -32002;
    /// No API key, or the key was rejected.
    pub const AUTH: i64 = -32003;
    /// The API, the simulator or the VM could not be reached in time; retrying may help.
    pub const UNAVAILABLE: i64 = -32004;
}

/// A message from the client, as read off the wire.
#[derive(Debug, Deserialize)]
pub(crate) struct Incoming {
    #[serde(default)]
    pub jsonrpc: Option<String>,
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub params: Option<Value>,
}

/// A message from the client: a request (answered) or a notification (not answered).
#[derive(Debug)]
pub(crate) enum Message {
    /// Expects exactly one response with the same `id`.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// Expects no response.
    Notification { method: String, params: Value },
}

impl Incoming {
    /// The message, or the error to answer it with (and the id to answer, if any).
    pub fn into_message(self) -> Result<Message, (Value, RpcError)> {
        let id = self.id.clone().unwrap_or(Value::Null);
        if self.jsonrpc.as_deref() != Some(JSONRPC) {
            let error = RpcError::new(code::INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
            return Err((id, error));
        }
        let Some(method) = self.method else {
            let error = RpcError::new(code::INVALID_REQUEST, "the message has no \"method\"");
            return Err((id, error));
        };
        let params = self.params.unwrap_or(Value::Null);
        Ok(match self.id {
            Some(id) => Message::Request { id, method, params },
            None => Message::Notification { method, params },
        })
    }
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RpcError {
    /// One of [`code`].
    pub code: i64,
    /// What failed and what to do next.
    pub message: String,
    /// `{"kind": …, "errno"?: …}`: a stable name for the failure, and for file operations the
    /// POSIX error name (`ENOENT`, `EISDIR`, `ENOTDIR`, `EACCES`) a Node caller expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with no data.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
}

/// A message to the client.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Outgoing {
    /// The answer to a request.
    Response {
        jsonrpc: &'static str,
        id: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<RpcError>,
    },
    /// Something the server reports on its own (exec output, progress).
    Notification {
        jsonrpc: &'static str,
        method: &'static str,
        params: Value,
    },
}

impl Outgoing {
    /// The response to request `id`.
    pub fn response(id: Value, result: Result<Value, RpcError>) -> Outgoing {
        let (result, error) = match result {
            Ok(value) => (Some(value), None),
            Err(error) => (None, Some(error)),
        };
        Outgoing::Response {
            jsonrpc: JSONRPC,
            id,
            result,
            error,
        }
    }

    /// A notification.
    pub fn notification(method: &'static str, params: Value) -> Outgoing {
        Outgoing::Notification {
            jsonrpc: JSONRPC,
            method,
            params,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn parse(line: &str) -> Result<Message, (Value, RpcError)> {
        serde_json::from_str::<Incoming>(line)
            .unwrap()
            .into_message()
    }

    #[test]
    fn requests_have_ids_and_notifications_do_not() {
        let request = parse(r#"{"jsonrpc":"2.0","id":7,"method":"vm/list"}"#).unwrap();
        assert!(
            matches!(request, Message::Request { id, method, params } if id == json!(7) && method == "vm/list" && params.is_null())
        );
        let note = parse(r#"{"jsonrpc":"2.0","method":"exec/cancel","params":{"execId":"a"}}"#);
        assert!(
            matches!(note.unwrap(), Message::Notification { method, params } if method == "exec/cancel" && params == json!({"execId":"a"}))
        );
    }

    #[test]
    fn a_wrong_version_or_missing_method_is_an_invalid_request() {
        let (id, error) = parse(r#"{"jsonrpc":"1.0","id":"x","method":"m"}"#).unwrap_err();
        assert_eq!((id, error.code), (json!("x"), code::INVALID_REQUEST));
        let (id, error) = parse(r#"{"jsonrpc":"2.0","id":3}"#).unwrap_err();
        assert_eq!((id, error.code), (json!(3), code::INVALID_REQUEST));
    }

    #[test]
    fn responses_carry_either_result_or_error() {
        let ok = Outgoing::response(json!(1), Ok(json!({"a": 1})));
        assert_eq!(
            serde_json::to_value(ok).unwrap(),
            json!({"jsonrpc":"2.0","id":1,"result":{"a":1}})
        );
        let err = Outgoing::response(json!(2), Err(RpcError::new(code::USAGE, "no")));
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            json!({"jsonrpc":"2.0","id":2,"error":{"code":-32002,"message":"no"}})
        );
    }
}
