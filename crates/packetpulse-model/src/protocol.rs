//! The WebSocket protocol between a vehicle (Mars, or any device) and Venus (docs/ARCHITECTURE.md): the client's
//! authentication frame, Venus' answer to it, and the one reply every data frame gets. Venus serialises these
//! types and Mars deserialises the same ones, so the two ends cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::validate::FieldError;

/// The first frame of a client that did not authenticate with an `Authorization` header:
/// `{"type":"authentication","api_key":"…"}` (the original simulator's protocol) or
/// `{"type":"authentication","token":"<JWT>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationFrame {
    /// Must be [`AuthenticationFrame::TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// An API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// A device JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl AuthenticationFrame {
    /// The `type` of an authentication frame.
    pub const TYPE: &'static str = "authentication";

    /// Authenticates with an API key.
    pub fn api_key(key: impl Into<String>) -> Self {
        Self {
            kind: Self::TYPE.to_owned(),
            api_key: Some(key.into()),
            token: None,
        }
    }

    /// Authenticates with a JWT.
    pub fn token(token: impl Into<String>) -> Self {
        Self {
            kind: Self::TYPE.to_owned(),
            api_key: None,
            token: Some(token.into()),
        }
    }
}

/// Whether an authentication attempt succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticationStatus {
    /// The connection may send data frames.
    Authenticated,
    /// Refused; Venus closes the connection with 1008 (policy violation) after the reply.
    Error,
}

/// Venus' answer to an authentication attempt, e.g. `{"status":"authenticated","message":"authenticated as
/// mars"}`. The same shape is the body of an HTTP refusal of the upgrade (bad bearer token, connection limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationReply {
    /// Whether it worked.
    pub status: AuthenticationStatus,
    /// Human-readable detail.
    pub message: String,
}

impl AuthenticationReply {
    /// Success, naming the identity.
    pub fn authenticated(identity: &str) -> Self {
        Self {
            status: AuthenticationStatus::Authenticated,
            message: format!("authenticated as {identity}"),
        }
    }

    /// Failure, with the reason.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            status: AuthenticationStatus::Error,
            message: message.into(),
        }
    }

    /// Whether the connection is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.status == AuthenticationStatus::Authenticated
    }
}

/// The one reply every data frame gets, in frame order, after Kafka acknowledged everything in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FrameReply {
    /// True only when every event of the frame is in Kafka.
    pub success: bool,
    /// `Data received`, or what went wrong.
    #[serde(default)]
    pub message: String,
    /// How many events of the frame Kafka acknowledged.
    #[serde(default)]
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
    /// The message of a frame whose events are all in Kafka (the original gateway's wording).
    pub const RECEIVED: &'static str = "Data received";

    /// Every event is in Kafka.
    pub fn received(accepted: usize) -> Self {
        Self {
            success: true,
            message: Self::RECEIVED.into(),
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

    /// Whether the event at `index` of the frame must be sent again: Kafka did not take it, or the frame was
    /// refused whole without naming events (e.g. Venus shutting down) and may be resent.
    pub fn must_resend(&self, index: usize) -> bool {
        if self.success || self.rejected.contains(&index) {
            return false;
        }
        self.failed.contains(&index) || (self.rejected.is_empty() && self.failed.is_empty())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn authentication_frames_have_the_original_wire_shape() {
        let json = serde_json::to_string(&AuthenticationFrame::api_key("k")).unwrap();
        assert_eq!(json, r#"{"type":"authentication","api_key":"k"}"#);
        let json = serde_json::to_string(&AuthenticationFrame::token("t")).unwrap();
        assert_eq!(json, r#"{"type":"authentication","token":"t"}"#);
    }

    #[test]
    fn authentication_replies_read_back() {
        let json = serde_json::to_string(&AuthenticationReply::authenticated("mars")).unwrap();
        assert_eq!(
            json,
            r#"{"status":"authenticated","message":"authenticated as mars"}"#
        );
        let reply: AuthenticationReply =
            serde_json::from_str(r#"{"status":"error","message":"no"}"#).unwrap();
        assert!(!reply.is_authenticated());
    }

    #[test]
    fn a_successful_reply_is_the_original_shape() {
        let json = serde_json::to_string(&FrameReply::received(3)).unwrap();
        assert_eq!(json, r#"{"success":true,"message":"Data received","accepted":3}"#);
    }

    #[test]
    fn must_resend_names_what_kafka_did_not_take() {
        let partly = FrameReply {
            rejected: vec![0],
            failed: vec![2],
            ..FrameReply::refused("x")
        };
        assert_eq!(
            (0..3).map(|i| partly.must_resend(i)).collect::<Vec<_>>(),
            [false, false, true]
        );
        let whole = FrameReply::refused("shutting down");
        assert!(whole.must_resend(0) && whole.must_resend(5));
        assert!(!FrameReply::received(1).must_resend(0));
    }
}
