//! The device registry: an admin issues each device its own credential — a device token (a JWT signed with
//! Mercury's Ed25519 key, `MERCURY_DEVICE_SIGNING_KEY`, which Venus checks with the public key alone), bound to
//! one vehicle or, for gateways and the simulator, to the fleet — and revokes it. A revocation goes to the
//! compacted topic Venus follows before it is recorded here, so a credential shown as revoked is revoked in Venus
//! (within a second of the topic having it, measured in venus/tests/devices.rs).

use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use packetpulse_model::devices::{AUDIENCE, DeviceClaims, ISSUER, Revocation};
use packetpulse_ops::secrets::{self, SecretError};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::db::Db;
use super::users::UserError;
use crate::model::DeviceRow;
use crate::notice::Notice;
use crate::{db_execute, db_fetch};

/// The setting of the signing key, named in errors.
const SIGNING_KEY: &str = "MERCURY_DEVICE_SIGNING_KEY";

/// How long Mercury waits for Kafka to take a revocation.
const REVOCATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a device operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The signing key is missing or not an Ed25519 key.
    #[error(transparent)]
    Key(#[from] SecretError),
    /// The signing key is set but not an Ed25519 private key.
    #[error("{SIGNING_KEY} is not an Ed25519 private key (base64 PKCS#8): {0}")]
    BadKey(String),
    /// The revocation producer could not be made.
    #[error("Kafka producer for revocations ({servers}): {reason}")]
    Kafka {
        /// Bootstrap servers.
        servers: String,
        /// Why.
        reason: String,
    },
}

/// Issues and revokes device credentials.
#[derive(Clone)]
pub struct Devices {
    db: Db,
    key: EncodingKey,
    public_key: String,
    producer: FutureProducer,
    topic: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const COLUMNS: &str = "id, device_id, vehicle_id, credential_id, created_at_ms, expires_at_ms, revoked_at_ms";

#[derive(sqlx::FromRow)]
struct Stored {
    id: i64,
    device_id: String,
    vehicle_id: Option<String>,
    credential_id: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl From<Stored> for DeviceRow {
    fn from(row: Stored) -> Self {
        Self {
            id: row.id,
            device_id: row.device_id,
            vehicle_id: row.vehicle_id,
            credential_id: row.credential_id,
            created_at_ms: row.created_at_ms,
            expires_at_ms: row.expires_at_ms,
            revoked_at_ms: row.revoked_at_ms,
        }
    }
}

impl Devices {
    /// The registry in `db`, signing with `signing_key` (base64 PKCS#8 DER of an Ed25519
    /// key) and revoking on `topic` of `bootstrap_servers`.
    pub fn new(db: Db, signing_key: &str, bootstrap_servers: &str, topic: &str) -> Result<Self, DeviceError> {
        secrets::check_not_public(SIGNING_KEY, signing_key)?;
        let der = base64::engine::general_purpose::STANDARD
            .decode(signing_key.trim())
            .map_err(|error| DeviceError::BadKey(error.to_string()))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|error| DeviceError::BadKey(error.to_string()))?;
        let public_key = base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref());
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("acks", "all")
            .create()
            .map_err(|error| DeviceError::Kafka {
                servers: bootstrap_servers.to_owned(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            db,
            key: EncodingKey::from_ed_der(&der),
            public_key,
            producer,
            topic: topic.to_owned(),
        })
    }

    /// The public half of the signing key, as Venus' `VENUS_DEVICE_TOKEN_KEY` must be.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Issues a credential for `device_id`, bound to `vehicle_id` (none: the fleet), valid `days`, by admin
    /// `created_by`; returns the token, the only time it is shown.
    pub async fn issue(
        &self,
        device_id: &str,
        vehicle_id: Option<&str>,
        days: u32,
        created_by: i64,
    ) -> Result<String, UserError> {
        let valid =
            |id: &str| !id.is_empty() && id.chars().count() <= 64 && !id.chars().any(char::is_control);
        let device_id = device_id.trim();
        let vehicle_id = vehicle_id.map(str::trim).filter(|id| !id.is_empty());
        if !valid(device_id) || vehicle_id.is_some_and(|id| !valid(id)) || days == 0 {
            return Err(UserError::Refused(Notice::NameInvalid));
        }
        let credential_id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let expires = now + i64::from(days) * 86_400_000;
        let claims = DeviceClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: device_id.to_owned(),
            vid: vehicle_id.map(str::to_owned),
            jti: credential_id.clone(),
            iat: seconds(now),
            nbf: seconds(now),
            exp: seconds(expires),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)
            .map_err(|error| UserError::Hash(error.to_string()))?;
        db_execute!(
            &self.db,
            "INSERT INTO devices (device_id, vehicle_id, credential_id, created_by, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            device_id,
            vehicle_id,
            &credential_id,
            created_by,
            now,
            expires
        )?;
        Ok(token)
    }

    /// Every credential, newest first.
    pub async fn list(&self) -> Result<Vec<DeviceRow>, UserError> {
        let rows = db_fetch!(
            &self.db,
            fetch_all,
            Stored,
            &format!("SELECT {COLUMNS} FROM devices ORDER BY created_at_ms DESC, id DESC")
        )?;
        Ok(rows.into_iter().map(DeviceRow::from).collect())
    }

    /// Revokes credential row `id`: the revocation is on the topic Venus follows before it is recorded here.
    pub async fn revoke(&self, id: i64) -> Result<(), UserError> {
        let row = db_fetch!(
            &self.db,
            fetch_optional,
            Stored,
            &format!("SELECT {COLUMNS} FROM devices WHERE id = $1"),
            id
        )?;
        let Some(row) = row else {
            return Err(UserError::Refused(Notice::Gone));
        };
        let now = now_ms();
        let revocation = Revocation {
            jti: row.credential_id.clone(),
            device_id: row.device_id,
            revoked_at_ms: now,
        };
        let payload = serde_json::to_string(&revocation).expect("a revocation always serialises");
        self.producer
            .send(
                FutureRecord::to(&self.topic)
                    .key(&row.credential_id)
                    .payload(&payload),
                REVOCATION_TIMEOUT,
            )
            .await
            .map_err(|(error, _)| {
                tracing::error!(%error, credential = %row.credential_id, "revocation not delivered to Kafka");
                UserError::Refused(Notice::RevocationFailed)
            })?;
        db_execute!(
            &self.db,
            "UPDATE devices SET revoked_at_ms = coalesce(revoked_at_ms, $1) WHERE id = $2",
            now,
            id
        )?;
        Ok(())
    }
}

fn seconds(ms: i64) -> u64 {
    u64::try_from(ms / 1000).unwrap_or(0)
}
