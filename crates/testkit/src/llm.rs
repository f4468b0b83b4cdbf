//! A scripted model: an OpenAI-compatible `/v1/chat/completions` on 127.0.0.1 whose every
//! request is handed to the test, which answers it with tool calls, text or a failure.

use std::time::Duration;

use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// How the server answers one request.
enum Answer {
    /// `200` with this `text/event-stream` body.
    Sse(String),
    /// This HTTP status with an OpenAI-style JSON error body.
    Error(u16, String),
}

type Inbox = mpsc::Sender<(Value, oneshot::Sender<Answer>)>;

/// One request pi made, waiting for the test's answer.
///
/// Dropping a `Turn` without answering it answers with the text `(the test ended)`.
pub struct Turn {
    /// The request body.
    pub body: Value,
    reply: oneshot::Sender<Answer>,
}

/// The mock server. Stopped when dropped.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// let mut llm = tether_testkit::MockLlm::start().await?;
/// // write llm.models_json() to $PI_CODING_AGENT_DIR/models.json, start pi with
/// // `--provider mock --model mock-1`, prompt it, then:
/// llm.next().await?.tool("bash", serde_json::json!({"command": "ls"}));
/// llm.next().await?.text("done");
/// # Ok(()) }
/// ```
pub struct MockLlm {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    requests: mpsc::Receiver<(Value, oneshot::Sender<Answer>)>,
    server: tokio::task::JoinHandle<()>,
}

impl MockLlm {
    /// How long [`MockLlm::next`] waits for pi's next model request.
    pub const REQUEST_DEADLINE: Duration = Duration::from_secs(90);

    /// Starts the server on a free port.
    pub async fn start() -> anyhow::Result<MockLlm> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (inbox, requests) = mpsc::channel(64);
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(completion))
            .with_state(inbox);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockLlm {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            requests,
            server,
        })
    }

    /// pi's next request (failing after [`MockLlm::REQUEST_DEADLINE`]).
    pub async fn next(&mut self) -> anyhow::Result<Turn> {
        let deadline = Self::REQUEST_DEADLINE;
        let next = tokio::time::timeout(deadline, self.requests.recv()).await;
        let (body, reply) = next
            .with_context(|| format!("pi made no model request within {deadline:?}"))?
            .context("the mock model server stopped")?;
        Ok(Turn { body, reply })
    }

    /// The `models.json` that points pi at this server (provider `mock`, model `mock-1`).
    pub fn models_json(&self) -> Value {
        json!({"providers": {"mock": {
            "baseUrl": self.base_url,
            "api": "openai-completions",
            "apiKey": "mock",
            "compat": {"supportsDeveloperRole": false, "supportsReasoningEffort": false},
            "models": [{"id": "mock-1", "reasoning": false, "input": ["text", "image"]}]
        }}})
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn completion(State(inbox): State<Inbox>, Json(body): Json<Value>) -> Response {
    let (tx, rx) = oneshot::channel();
    let answer = match inbox.send((body, tx)).await {
        Ok(()) => rx
            .await
            .unwrap_or_else(|_| Answer::Sse(text_sse("(the test ended)"))),
        Err(_) => Answer::Sse(text_sse("(the test ended)")),
    };
    match answer {
        Answer::Sse(sse) => ([(header::CONTENT_TYPE, "text/event-stream")], sse).into_response(),
        Answer::Error(status, message) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({"error": {"message": message, "type": "mock_failure", "code": null}});
            (status, Json(body)).into_response()
        }
    }
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let record = json!({
        "id": "mock", "object": "chat.completion.chunk", "created": 0, "model": "mock-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {record}\n\n")
}

fn text_sse(text: &str) -> String {
    let mut sse = chunk(json!({"role": "assistant", "content": text}), None);
    sse += &chunk(json!({}), Some("stop"));
    sse + "data: [DONE]\n\n"
}

impl Turn {
    /// Answers with tool calls (`name`, arguments), all in one assistant message.
    pub fn tools(self, calls: &[(&str, Value)]) {
        let mut sse = String::new();
        for (index, (name, args)) in calls.iter().enumerate() {
            let call = json!({"tool_calls": [{
                "index": index, "id": format!("call_{index}_{}", rand_suffix()), "type": "function",
                "function": {"name": name, "arguments": args.to_string()}
            }]});
            sse += &chunk(call, None);
        }
        sse += &chunk(json!({}), Some("tool_calls"));
        let _ = self.reply.send(Answer::Sse(sse + "data: [DONE]\n\n"));
    }

    /// Answers with one tool call.
    pub fn tool(self, name: &str, args: Value) {
        self.tools(&[(name, args)]);
    }

    /// Answers with text, ending the agent's turn.
    pub fn text(self, text: &str) {
        let _ = self.reply.send(Answer::Sse(text_sse(text)));
    }

    /// Answers with HTTP `status` and an OpenAI-style error body whose message is
    /// `scripted failure (HTTP <status>)`.
    ///
    /// pi (0.73.1) reports it as an assistant message with `stopReason: "error"` and
    /// `errorMessage: "<status> scripted failure (HTTP <status>)"`. Statuses pi deems transient
    /// (429, 5xx) are retried — by the HTTP client and then by pi's auto-retry — unless its
    /// settings turn that off; 4xx others are not.
    pub fn fail(self, status: u16) {
        let message = format!("scripted failure (HTTP {status})");
        let _ = self.reply.send(Answer::Error(status, message));
    }

    /// Answers `200` with an event stream whose first record is an error object with
    /// `message`, as a provider does when it fails mid-stream. pi reports `message` as the
    /// assistant message's `errorMessage` (`stopReason: "error"`).
    pub fn stream_error(self, message: &str) {
        let record = json!({"error": {"message": message, "type": "mock_failure", "code": null}});
        let _ = self.reply.send(Answer::Sse(format!("data: {record}\n\n")));
    }

    /// The names of the tools pi advertised, with their descriptions.
    pub fn advertised(&self) -> Vec<(String, String)> {
        let tools = self.body["tools"].as_array().cloned().unwrap_or_default();
        tools
            .iter()
            .map(|t| {
                let f = &t["function"];
                let name = f["name"].as_str().unwrap_or_default().to_owned();
                (
                    name,
                    f["description"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The texts of the tool results since the last assistant message, in order.
    pub fn tool_results(&self) -> anyhow::Result<Vec<String>> {
        let messages = self.body["messages"].as_array().context("no messages")?;
        let mut results = Vec::new();
        for message in messages.iter().rev() {
            if message["role"] != "tool" {
                break;
            }
            results.push(content_text(&message["content"]));
        }
        results.reverse();
        if results.is_empty() {
            bail!("the request carries no tool result");
        }
        Ok(results)
    }

    /// The only tool result since the last assistant message.
    pub fn tool_result(&self) -> anyhow::Result<String> {
        let mut results = self.tool_results()?;
        if results.len() != 1 {
            bail!("expected one tool result, got {results:?}");
        }
        Ok(results.remove(0))
    }

    /// Every message of the request as (role, text), in order: how the conversation stands.
    pub fn conversation(&self) -> Vec<(String, String)> {
        let messages = self.body["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        messages
            .iter()
            .map(|m| {
                let role = m["role"].as_str().unwrap_or_default().to_owned();
                (role, content_text(&m["content"]))
            })
            .collect()
    }

    /// The text of the request's last message if it is the user's (a prompt, a steer or a
    /// follow-up pi delivered).
    pub fn last_user_text(&self) -> Option<String> {
        match self.conversation().pop() {
            Some((role, text)) if role == "user" => Some(text),
            _ => None,
        }
    }

    /// The system prompt pi sent.
    pub fn system_prompt(&self) -> String {
        self.first_text("system")
    }

    /// The text of the first user message: the prompt the agent was given, which tells apart
    /// the requests of several agents sharing one server.
    pub fn user_text(&self) -> String {
        self.first_text("user")
    }

    fn first_text(&self, role: &str) -> String {
        self.conversation()
            .into_iter()
            .find(|(r, _)| r == role)
            .map(|(_, text)| text)
            .unwrap_or_default()
    }
}

fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
