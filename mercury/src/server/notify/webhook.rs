//! Sending one alert to one webhook endpoint: a POST of the alert's JSON (as Jupiter published it), signed with
//! the endpoint's secret. Receivers check `X-PacketPulse-Signature` (`sha256=` and the hex HMAC-SHA256 of the
//! raw body under their secret) and deduplicate by `X-PacketPulse-Alert-Id`: delivery is at least once.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::store::Webhook;

/// The header with the body's signature.
pub const SIGNATURE_HEADER: &str = "x-packetpulse-signature";
/// The header with the alert's id.
pub const ALERT_ID_HEADER: &str = "x-packetpulse-alert-id";
/// The header with the attempt's number (1 for the first).
pub const ATTEMPT_HEADER: &str = "x-packetpulse-attempt";

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// An HTTP client for webhooks: every request ends within `timeout`, redirects are not followed (an endpoint
/// answers itself or fails).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("PacketPulse-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client without custom TLS settings builds")
}

/// POSTs `body` (alert `alert_id`) to `webhook`; attempt number `attempt`. Only a 2xx answer counts.
pub async fn send(
    client: &reqwest::Client,
    webhook: &Webhook,
    alert_id: &str,
    body: &str,
    attempt: i64,
) -> Result<(), String> {
    let response = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(&webhook.secret, body.as_bytes()))
        .header(ALERT_ID_HEADER, alert_id)
        .header(ATTEMPT_HEADER, attempt.to_string())
        .body(body.to_owned())
        .send()
        .await
        .map_err(|error| format!("POST {}: {}", webhook.url, error_chain(&error)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(format!("POST {} answered {status}", webhook.url))
}

/// An error with its causes (reqwest's own message is only the outermost one).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Whether `url` may be a webhook endpoint: absolute http or https with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("url {url:?} is not a URL: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "url must be an http:// or https:// address with a host, not {url:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_http_addresses_with_a_host_are_endpoints() {
        assert!(check_url("https://hooks.example.com/packetpulse").is_ok());
        assert!(check_url("http://127.0.0.1:9000/x").is_ok());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("not a url").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
    }
}
