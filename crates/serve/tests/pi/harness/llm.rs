//! A scripted model: an OpenAI-compatible `/v1/chat/completions` on 127.0.0.1 whose every
//! request is handed to the test, which answers it with tool calls or text.

use std::time::Duration;

use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// How long the test waits for pi's next model request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(90);

/// One request pi made, waiting for the test's answer.
pub struct Turn {
    /// The request body.
    pub body: Value,
    reply: oneshot::Sender<String>,
}

type Inbox = mpsc::Sender<(Value, oneshot::Sender<String>)>;

/// The mock server.
pub struct MockLlm {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    requests: mpsc::Receiver<(Value, oneshot::Sender<String>)>,
    server: tokio::task::JoinHandle<()>,
}

impl MockLlm {
    /// Starts the server on a free port.
    pub async fn start() -> anyhow::Result<MockLlm> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (inbox, requests) = mpsc::channel(8);
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

    /// pi's next request.
    pub async fn next(&mut self) -> anyhow::Result<Turn> {
        let next = tokio::time::timeout(REQUEST_DEADLINE, self.requests.recv()).await;
        let (body, reply) = next
            .with_context(|| format!("pi made no model request within {REQUEST_DEADLINE:?}"))?
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

async fn completion(State(inbox): State<Inbox>, Json(body): Json<Value>) -> impl IntoResponse {
    let (tx, rx) = oneshot::channel();
    let sse = match inbox.send((body, tx)).await {
        Ok(()) => rx.await.unwrap_or_else(|_| text_sse("(the test ended)")),
        Err(_) => text_sse("(the test ended)"),
    };
    ([(header::CONTENT_TYPE, "text/event-stream")], sse)
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
        let _ = self.reply.send(sse + "data: [DONE]\n\n");
    }

    /// Answers with one tool call.
    pub fn tool(self, name: &str, args: Value) {
        self.tools(&[(name, args)]);
    }

    /// Answers with text, ending the agent's turn.
    pub fn text(self, text: &str) {
        let _ = self.reply.send(text_sse(text));
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

    /// The system prompt pi sent.
    pub fn system_prompt(&self) -> String {
        let messages = self.body["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        messages
            .iter()
            .find(|m| m["role"] == "system")
            .map(|m| content_text(&m["content"]))
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
