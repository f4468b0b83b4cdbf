//! What a tool returns: content for the model, details for front ends (pi's result shape).

use serde::Serialize;
use serde_json::Value;

/// One part of a tool result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Content {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    Image {
        /// Its bytes, base64.
        data: String,
        /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
}

/// A successful tool result: `content` for the model, `details` for the front end
/// (truncation, the full output's path, an edit's diff), as pi's tools give them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolOutput {
    /// What the model reads.
    pub content: Vec<Content>,
    /// Structured extras, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ToolOutput {
    /// A text result without details.
    pub fn text(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: vec![Content::Text { text: text.into() }],
            details: None,
        }
    }

    /// The same result with `details`.
    pub fn with_details(mut self, details: Value) -> ToolOutput {
        self.details = Some(details);
        self
    }

    /// All text parts, joined by newlines (images left out).
    pub fn joined_text(&self) -> String {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|part| match part {
                Content::Text { text } => Some(text.as_str()),
                Content::Image { .. } => None,
            })
            .collect();
        texts.join("\n")
    }
}
