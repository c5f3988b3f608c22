//! Public tracking links: the unguessable token a customer's link carries instead of the order id (which the
//! simulator derives from a public seed, and which a real shop may print on a receipt). A dispatcher asks for an
//! order's link; the token is an HMAC of the order id under a key derived from Mercury's signing secret, so asking
//! again gives the same link, and only the token's SHA-256 is stored, next to the order it opens. Rotating
//! `MERCURY_JWT_SECRET` therefore retires every link.

use super::api_tokens::digest;
use super::db::Db;
use super::users::UserError;
use crate::{db_execute, db_fetch};
use base64::Engine;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// What a tracking token starts with.
pub const PREFIX: &str = "t_";

/// The link store (the user database's `tracking_links` table).
#[derive(Clone)]
pub struct TrackingLinks {
    db: Db,
    key: Vec<u8>,
}

impl TrackingLinks {
    /// Links in `db`, keyed from `signing_secret` (the session key, so no new secret has
    /// to be made and kept; the derivation keeps the two uses apart).
    pub fn new(db: Db, signing_secret: &str) -> Self {
        let mut derive = hmac::Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
            .expect("HMAC takes a key of any length");
        derive.update(b"packetpulse tracking links v1");
        Self {
            db,
            key: derive.finalize().into_bytes().to_vec(),
        }
    }

    fn token(&self, order_id: &str) -> String {
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(order_id.as_bytes());
        let bytes = mac.finalize().into_bytes();
        // 192 bits: far beyond guessing, short enough for a text message.
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..24])
        )
    }

    /// The tracking token of `order_id`, recorded so the link opens the order.
    pub async fn link(&self, order_id: &str) -> Result<String, UserError> {
        let token = self.token(order_id);
        db_execute!(
            &self.db,
            "INSERT INTO tracking_links (token_hash, order_id, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (order_id) DO NOTHING",
            digest(&token),
            order_id,
            chrono::Utc::now().timestamp_millis()
        )?;
        Ok(token)
    }

    /// The order a token opens; none for a token no dispatcher handed out.
    pub async fn order(&self, token: &str) -> Result<Option<String>, UserError> {
        if !token.starts_with(PREFIX) || token.len() > 64 {
            return Ok(None);
        }
        let row = db_fetch!(
            &self.db,
            fetch_optional,
            (String,),
            "SELECT order_id FROM tracking_links WHERE token_hash = $1",
            digest(token)
        )?;
        Ok(row.map(|(order_id,)| order_id))
    }
}
