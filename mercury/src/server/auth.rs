//! Sessions: a signed JWT (HS256, with expiry) in an HttpOnly, SameSite=Strict cookie, checked on every request
//! but the public ones by the guard ([`super::access::require_session`]), which also loads the user so a deleted
//! user or a revoked token (logout, password change) stops working at once.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum_extra::extract::cookie::{Cookie, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::users::User;

/// Name of the session cookie.
pub const COOKIE: &str = "pp_session";

/// The `iss` of Mercury's session tokens; a token without it (or with another) is not ours.
pub const ISSUER: &str = "packetpulse-mercury";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// User id.
    sub: String,
    /// The user's session version when the token was issued.
    sv: i64,
    iss: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// Issues and checks session tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl Tokens {
    /// Tokens signed with `secret`, valid for `ttl`.
    pub fn new(secret: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is exact: the cookie's Max-Age ends at the same moment.
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl,
        }
    }

    /// A token for `user`.
    pub fn issue(&self, user: &User) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            sv: user.session_version,
            iss: ISSUER.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The user id and session version of a valid token.
    pub fn verify(&self, token: &str) -> Option<(i64, i64)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some((data.claims.sub.parse().ok()?, data.claims.sv))
    }

    /// The cookie carrying a new token for `user`.
    pub fn cookie(&self, user: &User, secure: bool) -> Cookie<'static> {
        Cookie::build((COOKIE, self.issue(user)))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/")
            .max_age(cookie_duration(self.ttl))
            .build()
    }
}

fn cookie_duration(ttl: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// The cookie that removes the session cookie.
pub fn removal_cookie() -> Cookie<'static> {
    Cookie::build((COOKIE, ""))
        .path("/")
        .max_age(cookie_duration(Duration::ZERO))
        .build()
}

/// Where to go after login: only a local path (not `//host`), else the overview.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Login attempts allowed per client IP and per account, per minute.
#[derive(Clone)]
pub struct LoginLimits {
    per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    per_account: Arc<DefaultKeyedRateLimiter<String>>,
}

impl LoginLimits {
    /// `per_ip` and `per_account` attempts per minute (at least one each).
    pub fn new(per_ip: u32, per_account: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: Arc::new(RateLimiter::keyed(quota(per_ip))),
            per_account: Arc::new(RateLimiter::keyed(quota(per_account))),
        }
    }

    /// Counts an attempt on `account` (see [`super::users::Users::account_key`]); false when the IP or the
    /// account is over its limit.
    pub fn allow(&self, client: SocketAddr, account: String) -> bool {
        let ip_ok = self.per_ip.check_key(&client.ip()).is_ok();
        let account_ok = self.per_account.check_key(&account).is_ok();
        // Forget keys whose allowance is full again, so the maps don't grow with every name tried.
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
        ip_ok && account_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/sessions?q=a")), "/sessions?q=a");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
