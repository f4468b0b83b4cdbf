//! The error body every failing Vers call returns.

use serde::{Deserialize, Serialize};

/// `{"error": "...", "success": false}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong (and, from the simulator, what to do next).
    pub error: String,
    /// Always `false`.
    #[serde(default)]
    pub success: bool,
}

impl ErrorBody {
    /// An error body with `message`.
    pub fn new(message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: message.into(),
            success: false,
        }
    }
}
