//! Sending one alert to one user by email, over SMTP (lettre). `MERCURY_SMTP_URL` names the server the way lettre
//! reads it: `smtp://host:25` (plain, for a relay on the same network), `smtp://user:password@host:587?tls=required`
//! (STARTTLS) or `smtps://user:password@host` (TLS from the start). The Message-ID is derived from the alert and
//! the user, so a mail client that sees an at-least-once repeat can fold it.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use packetpulse_model::Alert;

/// The SMTP transport (a connection per mail, closed after it: an attempt cut off by the timeout leaves nothing
/// half-spoken behind) and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl Mailer {
    /// A mailer for `smtp_url` sending as `from`; links in the mails start with `public_url` (may be empty).
    /// Nothing is connected yet.
    pub fn new(smtp_url: &str, from: &str, public_url: &str, timeout: Duration) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|error| format!("MERCURY_SMTP_URL is not an SMTP address lettre reads: {error}"))?
            .timeout(Some(timeout))
            .build();
        let from = from
            .parse()
            .map_err(|error| format!("MERCURY_SMTP_FROM {from:?} is not an address: {error}"))?;
        Ok(Self {
            transport,
            from,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Mails `alert` to `to` (user `user_id`).
    pub async fn send(&self, to: &str, user_id: i64, alert: &Alert) -> Result<(), String> {
        let recipient: Mailbox = to
            .parse()
            .map_err(|error| format!("{to:?} is not an email address: {error}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(subject(alert))
            .message_id(Some(format!("<{}.{user_id}@packetpulse>", alert.alert_id)))
            .header(ContentType::TEXT_PLAIN)
            .body(self.body(alert))
            .map_err(|error| format!("building the mail: {error}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| format!("SMTP: {error}"))
    }

    fn body(&self, alert: &Alert) -> String {
        let link = format!(
            "{}/alerts?vehicle={}",
            self.public_url,
            crate::url::encode(&alert.vehicle_id)
        );
        format!(
            "{message}\n\nWhen: {at}\nVehicle: {vehicle}\nSession: {session}\nWhere: {lat:.5}, {lon:.5}\n\n\
             Open the alerts: {link}\n\nAlert id: {id}\n",
            message = alert.message,
            at = alert.at.format("%Y-%m-%d %H:%M:%S UTC"),
            vehicle = alert.vehicle_id,
            session = alert.session_id,
            lat = alert.position.lat,
            lon = alert.position.lon,
            id = alert.alert_id,
        )
    }
}

/// `[PacketPulse] overspeed: van-7`.
fn subject(alert: &Alert) -> String {
    format!(
        "[PacketPulse] {}: {}",
        alert.kind.as_str().replace('_', " "),
        alert.vehicle_id
    )
}
