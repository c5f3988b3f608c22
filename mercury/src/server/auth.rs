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
    /// The user's random id (never the database id, which SQLite may hand out again).
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
            sub: user.uid.clone(),
            sv: user.session_version,
            iss: ISSUER.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The user's random id and session version of a valid token.
    pub fn verify(&self, token: &str) -> Option<(String, i64)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some((data.claims.sub, data.claims.sv))
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

/// The pages a sign-in may continue to (the first path segment).
const NEXT_PAGES: [&str; 7] = ["", "live", "analytics", "sessions", "fleet", "settings", "admin"];

/// Where to go after login: a path of one of the dashboard's own pages, written with plain URL characters only,
/// else the overview. Browsers drop tabs and newlines from a `Location` and read `\` as `/`, so `/%09/evil`
/// or `/\evil` would leave the site: such characters (and anything not in the grammar) are refused outright.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(path) = next else {
        return "/".to_owned();
    };
    let plain = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~/?=&%+".contains(c));
    let first = path
        .strip_prefix('/')
        .map(|rest| rest.split(['/', '?']).next().unwrap_or(""));
    match first {
        Some(page) if plain && !path.starts_with("//") && NEXT_PAGES.contains(&page) => path.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Attempts allowed per key (a client IP, a user) per minute: sign-ups per IP, password changes and account
/// deletions per user (each checks a password, so each is a way to guess one).
#[derive(Clone)]
pub struct Throttle<K: std::hash::Hash + Eq + Clone> {
    limiter: Arc<DefaultKeyedRateLimiter<K>>,
}

impl<K: std::hash::Hash + Eq + Clone> Throttle<K> {
    /// `per_minute` attempts per key (at least one).
    pub fn per_minute(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
        }
    }

    /// Counts an attempt by `key`; false when it is over the limit.
    pub fn allow(&self, key: K) -> bool {
        let allowed = self.limiter.check_key(&key).is_ok();
        self.limiter.retain_recent();
        allowed
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
        for off_site in [
            "/%09/evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "/ /x",
            "/unknown",
        ] {
            assert_eq!(safe_next(Some(off_site)), "/", "{off_site:?}");
        }
        assert_eq!(safe_next(Some("/admin/users")), "/admin/users");
        assert_eq!(safe_next(Some("/")), "/");
    }
}
