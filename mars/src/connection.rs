//! One WebSocket connection to Venus and the vehicles multiplexed over it: ticks the vehicles, batches their
//! events into frames, pipelines up to `max_frames_in_flight` frames, and keeps every event until Venus
//! acknowledges it. On a disconnect or a retryable reply the unacknowledged events go back to the front of the
//! queue and are resent, in order and with the same event ids, after reconnecting with exponential back-off.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use packetpulse_model::{AuthenticationFrame, AuthenticationReply, FrameReply};
use tokio::net::TcpStream;
use tokio::time::{MissedTickBehavior, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::events_log::EventsLog;
use crate::fleet::{Driving, OutgoingEvent, Vehicle};
use crate::metrics::Metrics;
use crate::routes::Route;
use crate::{Config, Error};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// After shutdown is requested, how long to keep waiting for acknowledgements of what was already produced.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// What every connection shares.
pub struct Shared {
    /// The run's configuration.
    pub config: Config,
    /// Routes to drive.
    pub routes: Vec<Arc<Route>>,
    /// Vehicle behaviour.
    pub driving: Driving,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// `--events-log`, if set.
    pub events_log: Option<EventsLog>,
    /// Simulated time of tick 0.
    pub sim_start: DateTime<Utc>,
}

/// A frame sent and not yet answered.
struct SentFrame {
    events: Vec<OutgoingEvent>,
    sent_at: Instant,
}

struct Connection {
    shared: Arc<Shared>,
    vehicles: Vec<Vehicle>,
    outbox: VecDeque<OutgoingEvent>,
    in_flight: VecDeque<SentFrame>,
    in_flight_events: usize,
    socket: Option<(SplitSink<Socket, Message>, SplitStream<Socket>)>,
    backoff: Duration,
    next_attempt: tokio::time::Instant,
    /// After a retryable reply, sending pauses until then (back-off), so an outage is not met with a flood of
    /// resends that each leave a copy queued in Venus.
    resend_pause_until: Option<tokio::time::Instant>,
    resend_backoff: Duration,
    attempts: u64,
    ticks: u64,
}

/// Drives `vehicles` over one connection until they are all done and acknowledged (or, in continuous mode,
/// until shutdown).
pub async fn drive(
    shared: Arc<Shared>,
    vehicles: Vec<Vehicle>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let mut connection = Connection {
        shared,
        vehicles,
        outbox: VecDeque::new(),
        in_flight: VecDeque::new(),
        in_flight_events: 0,
        socket: None,
        backoff: MIN_BACKOFF,
        next_attempt: tokio::time::Instant::now(),
        resend_pause_until: None,
        resend_backoff: MIN_BACKOFF,
        attempts: 0,
        ticks: 0,
    };
    let result = connection.run(shutdown).await;
    connection.disconnect(false);
    result
}

impl Connection {
    async fn run(&mut self, shutdown: CancellationToken) -> Result<(), Error> {
        let config = self.shared.config.clone();
        let mut ticker = tokio::time::interval(config.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut dropper = config.drop_connection_every.map(|every| {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        loop {
            let stopping = drain_deadline.is_some();
            let all_done = stopping || self.vehicles.iter().all(Vehicle::is_done);
            if all_done && self.outbox.is_empty() && self.in_flight.is_empty() {
                return Ok(());
            }
            if drain_deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
                let unacked = self.outbox.len() + self.in_flight_events;
                tracing::warn!(unacked, "stopping with events Venus has not acknowledged");
                return Ok(());
            }
            if self.socket.is_none() && tokio::time::Instant::now() >= self.next_attempt {
                self.connect().await?;
            }
            self.send_frames().await;

            let buffered = self.outbox.len() + self.in_flight_events;
            let may_tick = !all_done && buffered < config.max_buffered_events;
            let connected = self.socket.is_some();
            let far_future = tokio::time::Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                biased;
                () = shutdown.cancelled(), if !stopping => {
                    // Vehicles stop; what they already produced still gets its acknowledgement, for a while.
                    drain_deadline = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                }
                message = next_message(&mut self.socket), if connected => self.on_message(message),
                _ = ticker.tick(), if may_tick => self.tick(),
                _ = async { dropper.as_mut().expect("guarded").tick().await }, if dropper.is_some() && connected => {
                    tracing::info!("fault injection: dropping the connection");
                    self.disconnect(true);
                }
                () = sleep_until(self.next_attempt), if !connected => {}
                () = sleep_until(self.resend_pause_until.unwrap_or(far_future)), if self.resend_pause_until.is_some() => {
                    self.resend_pause_until = None;
                }
                () = sleep_until(drain_deadline.unwrap_or(far_future)), if stopping => {}
            }
        }
    }

    fn tick(&mut self) {
        let step = chrono::Duration::from_std(
            self.shared.driving.step * u32::try_from(self.ticks).unwrap_or(u32::MAX),
        )
        .unwrap_or_else(|_| chrono::Duration::zero());
        let now = self.shared.sim_start + step;
        self.ticks += 1;
        let mut produced = Vec::new();
        let metrics = &self.shared.metrics;
        for vehicle in &mut self.vehicles {
            if vehicle.tick(now, &self.shared.routes, &self.shared.driving, &mut produced) {
                metrics.sessions_started.inc();
            }
        }
        metrics.events_generated.inc_by(produced.len() as u64);
        self.outbox.extend(produced);
    }

    /// Connects and authenticates; a refused credential is fatal, anything else schedules a retry.
    async fn connect(&mut self) -> Result<(), Error> {
        self.attempts += 1;
        if self.attempts > 1 {
            self.shared.metrics.reconnects.inc();
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, open(&self.shared.config)).await {
            Ok(Ok(socket)) => {
                self.socket = Some(socket.split());
                self.backoff = MIN_BACKOFF;
                self.shared.metrics.connections_up.inc();
                Ok(())
            }
            Ok(Err(OpenError::Refused(message))) => Err(Error::Authentication {
                url: self.shared.config.venus_url.clone(),
                message,
            }),
            Ok(Err(OpenError::Unavailable(reason))) => {
                self.schedule_retry(&reason);
                Ok(())
            }
            Err(_) => {
                self.schedule_retry("timed out");
                Ok(())
            }
        }
    }

    fn schedule_retry(&mut self, reason: &str) {
        // Jitter spreads the reconnects of many connections after an outage.
        let jitter = Duration::from_millis(u64::from(rand::random::<u16>() % 100));
        tracing::warn!(url = %self.shared.config.venus_url, %reason, retry_in_ms = self.backoff.as_millis() as u64,
            "cannot reach Venus");
        self.next_attempt = tokio::time::Instant::now() + self.backoff + jitter;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Sends frames while there are events and room in the pipeline.
    async fn send_frames(&mut self) {
        if self.resend_pause_until.is_some() {
            return;
        }
        let config = &self.shared.config;
        while !self.outbox.is_empty() && self.in_flight.len() < config.max_frames_in_flight {
            let Some((sink, _)) = &mut self.socket else { return };
            let take = self.outbox.len().min(config.batch_size);
            let events: Vec<OutgoingEvent> = self.outbox.drain(..take).collect();
            let mut frame = String::with_capacity(events.iter().map(|e| e.json.len() + 1).sum::<usize>() + 2);
            frame.push('[');
            for (i, event) in events.iter().enumerate() {
                if i > 0 {
                    frame.push(',');
                }
                frame.push_str(&event.json);
            }
            frame.push(']');
            let count = events.len();
            self.in_flight_events += count;
            self.in_flight.push_back(SentFrame {
                events,
                sent_at: Instant::now(),
            });
            self.shared.metrics.events_sent.inc_by(count as u64);
            if sink.send(Message::Text(frame.into())).await.is_err() {
                self.disconnect(true);
                return;
            }
        }
    }

    fn on_message(&mut self, message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) {
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return,
            Some(Ok(Message::Close(frame))) => {
                tracing::info!(?frame, "Venus closed the connection");
                self.disconnect(true);
                return;
            }
            Some(Ok(Message::Binary(_))) | Some(Err(_)) | None => {
                self.disconnect(true);
                return;
            }
        };
        let Some(frame) = self.in_flight.pop_front() else {
            tracing::warn!(%text, "reply without a frame in flight; reconnecting");
            self.disconnect(true);
            return;
        };
        self.in_flight_events -= frame.events.len();
        let metrics = self.shared.metrics.clone();
        let latency = frame.sent_at.elapsed();
        metrics.record_ack_latency(latency);
        let reply: FrameReply = match serde_json::from_str(&text) {
            Ok(reply) => reply,
            Err(_) => {
                tracing::warn!(%text, "unreadable reply; resending the frame");
                self.requeue(frame.events);
                self.disconnect(true);
                return;
            }
        };
        if reply.success {
            self.resend_backoff = MIN_BACKOFF;
            self.acknowledge(&frame.events, latency);
            return;
        }
        if !reply.rejected.is_empty() {
            tracing::warn!(message = %reply.message, "Venus rejected events");
        }
        let mut acked = Vec::with_capacity(frame.events.len());
        let mut resend = Vec::new();
        for (index, event) in frame.events.into_iter().enumerate() {
            if reply.rejected.contains(&index) {
                metrics.events_rejected.inc();
            } else if reply.must_resend(index) {
                resend.push(event);
            } else {
                acked.push(event);
            }
        }
        self.acknowledge(&acked, latency);
        if !resend.is_empty() {
            self.resend_pause_until = Some(tokio::time::Instant::now() + self.resend_backoff);
            self.resend_backoff = (self.resend_backoff * 2).min(MAX_BACKOFF);
        }
        self.requeue(resend);
    }

    fn acknowledge(&self, events: &[OutgoingEvent], latency: Duration) {
        let metrics = &self.shared.metrics;
        metrics.events_acked.inc_by(events.len() as u64);
        let completed = events
            .iter()
            .filter(|e| e.completes_session && !e.duplicate)
            .count();
        metrics.sessions_completed.inc_by(completed as u64);
        if let Some(log) = &self.shared.events_log
            && let Err(error) = log.record(events, latency)
        {
            tracing::error!(%error, "cannot write the events log");
        }
    }

    /// Puts events back at the front of the queue, in their original order.
    fn requeue(&mut self, events: Vec<OutgoingEvent>) {
        self.shared.metrics.events_resent.inc_by(events.len() as u64);
        for event in events.into_iter().rev() {
            self.outbox.push_front(event);
        }
    }

    /// Drops the socket; with `resend`, every unacknowledged frame goes back to the queue and a reconnect is
    /// scheduled.
    fn disconnect(&mut self, resend: bool) {
        if self.socket.take().is_some() {
            self.shared.metrics.connections_up.dec();
        }
        if resend {
            let frames: Vec<SentFrame> = self.in_flight.drain(..).collect();
            self.in_flight_events = 0;
            for frame in frames.into_iter().rev() {
                self.requeue(frame.events);
            }
            self.schedule_retry("connection lost");
        }
    }
}

async fn next_message(
    socket: &mut Option<(SplitSink<Socket, Message>, SplitStream<Socket>)>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match socket {
        Some((_, stream)) => stream.next().await,
        None => std::future::pending().await,
    }
}

enum OpenError {
    /// Venus answered and refused the credentials.
    Refused(String),
    /// Venus could not be reached (or went away mid-handshake): try again later.
    Unavailable(String),
}

/// Opens a connection and authenticates: with the JWT as a bearer header, or with the API key frame.
async fn open(config: &Config) -> Result<Socket, OpenError> {
    let mut request = config
        .venus_url
        .as_str()
        .into_client_request()
        .map_err(|e| OpenError::Refused(format!("bad URL: {e}")))?;
    if let Some(jwt) = &config.jwt {
        let value = format!("Bearer {jwt}")
            .parse()
            .map_err(|_| OpenError::Refused("JWT is not a header".into()))?;
        request.headers_mut().insert("authorization", value);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(response) if response.status() == 401 => {
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default()
                    .into_owned();
                OpenError::Refused(body)
            }
            other => OpenError::Unavailable(other.to_string()),
        })?;
    if config.jwt.is_some() {
        return Ok(socket);
    }
    let frame = serde_json::to_string(&AuthenticationFrame::api_key(&config.api_key))
        .expect("an authentication frame always serialises");
    socket
        .send(Message::Text(frame.into()))
        .await
        .map_err(|e| OpenError::Unavailable(e.to_string()))?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return match serde_json::from_str::<AuthenticationReply>(&text) {
                    Ok(reply) if reply.is_authenticated() => Ok(socket),
                    Ok(reply) => Err(OpenError::Refused(reply.message)),
                    Err(_) => Err(OpenError::Refused(text.to_string())),
                };
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => {
                return Err(OpenError::Unavailable(format!(
                    "no authentication reply: {other:?}"
                )));
            }
        }
    }
}
