//! The messages of the WebSocket protocol (ARCHITECTURE.md): the client's authentication frame and Venus' replies.

use packetpulse_model::FieldError;
use serde::{Deserialize, Serialize};

/// The first frame of a client that did not authenticate with an `Authorization` header.
#[derive(Debug, Deserialize)]
pub struct AuthenticationFrame {
    /// Must be `authentication`.
    #[serde(rename = "type")]
    pub kind: String,
    /// An API key (the original simulator's protocol).
    pub api_key: Option<String>,
    /// A device JWT.
    pub token: Option<String>,
}

/// The answer to an authentication attempt.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthenticationReply {
    /// `authenticated` or `error`.
    pub status: String,
    /// Human-readable detail.
    pub message: String,
}

impl AuthenticationReply {
    /// Success, naming the identity.
    pub fn authenticated(identity: &str) -> Self {
        Self {
            status: "authenticated".into(),
            message: format!("authenticated as {identity}"),
        }
    }

    /// Failure; the connection is closed with 1008 after it.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            status: "error".into(),
            message: message.into(),
        }
    }
}

/// The one reply every data frame gets, in frame order, after Kafka acknowledged everything in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FrameReply {
    /// True only when every event of the frame is in Kafka.
    pub success: bool,
    /// `Data received`, or what went wrong.
    pub message: String,
    /// How many events of the frame Kafka acknowledged.
    pub accepted: usize,
    /// Indexes (in the frame) of events refused by validation; they went to the dead-letter topic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<usize>,
    /// Indexes of valid events Kafka did not acknowledge in time: resend them (same event ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<usize>,
    /// True when resending the same frame (or the `failed` events) may succeed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
    /// Every validation problem, with paths like `[2].current_lat` in a batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl FrameReply {
    /// Every event is in Kafka.
    pub fn received(accepted: usize) -> Self {
        Self {
            success: true,
            message: "Data received".into(),
            accepted,
            ..Self::default()
        }
    }

    /// The frame was refused as a whole (not JSON, too large, …); nothing was published.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: message.into(),
            ..Self::default()
        }
    }
}
