//! Device credentials, the contract between Mercury (which issues and revokes them) and Venus (which checks
//! them): a device token is a JWT signed with Ed25519 (`EdDSA`) by Mercury's private key, which Venus verifies with
//! the public key only. A token scoped to a vehicle lets its device send events of that vehicle alone; a fleet
//! token (no vehicle) is for gateways and the simulator. Revocations travel on the compacted topic
//! [`crate::topics::DEVICE_REVOCATIONS`].

use serde::{Deserialize, Serialize};

/// The `iss` of every device token.
pub const ISSUER: &str = "packetpulse-mercury";

/// The `aud` of every device token.
pub const AUDIENCE: &str = "packetpulse-venus";

/// What a device token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaims {
    /// [`ISSUER`].
    pub iss: String,
    /// [`AUDIENCE`].
    pub aud: String,
    /// The device id.
    pub sub: String,
    /// The vehicle the device may send events for; `None` for a fleet credential (any vehicle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vid: Option<String>,
    /// The credential's unique id, what a revocation names.
    pub jti: String,
    /// Issued, Unix seconds.
    pub iat: u64,
    /// Valid from, Unix seconds.
    pub nbf: u64,
    /// Valid until, Unix seconds.
    pub exp: u64,
}

/// One revoked credential: the value of a message of the revocation topic, whose key is `jti`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The revoked credential's id.
    pub jti: String,
    /// Its device.
    pub device_id: String,
    /// When, epoch ms.
    pub revoked_at_ms: i64,
}
