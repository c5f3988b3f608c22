//! One WebSocket connection: authentication, then data frames in and exactly one reply per frame out, in frame
//! order, each sent only after Kafka acknowledged everything in its frame.
//!
//! Frames are enqueued to Kafka in arrival order (so a session's events keep their order) and their replies
//! awaited concurrently (so a client may pipeline). Reading stops while the connection has
//! `max_frames_in_flight` unanswered frames or while the producer has no room (see `publish`): that is the
//! back-pressure a slow broker exerts on clients.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::stream::{FuturesOrdered, SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::time::timeout;

use packetpulse_model::{AuthenticationReply, FrameReply};

use crate::auth::Identity;
use crate::frame::{self, FrameLimits, FramePlan};
use crate::publish::{FrameDelivery, REPORT_GRACE, Reservation, Verdict};
use crate::state::AppState;

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;
type PendingReply = Pin<Box<dyn Future<Output = FrameReply> + Send>>;

/// Serves one upgraded connection from `peer` until the client leaves, idles out, or Venus shuts down.
pub async fn serve(socket: WebSocket, state: Arc<AppState>, identity: Option<Identity>, peer: IpAddr) {
    state.metrics.connections.inc();
    let (mut sink, mut stream) = socket.split();
    let identity = match identity {
        Some(identity) => Some(identity),
        None => authenticate(&mut sink, &mut stream, &state, peer).await,
    };
    if let Some(identity) = identity {
        tracing::debug!(client = %identity, "session started");
        Session {
            state: state.clone(),
            identity,
            sink,
            pending: FuturesOrdered::new(),
        }
        .run(stream)
        .await;
    }
    state.metrics.connections.dec();
}

/// Why a socket was not authenticated: the metric label, the close code and reason, the message for the client.
struct Unauthenticated {
    label: &'static str,
    code: u16,
    reason: &'static str,
    message: String,
}

impl Unauthenticated {
    fn failed(message: String) -> Self {
        Self {
            label: "auth",
            code: close_code::POLICY,
            reason: "authentication failed",
            message,
        }
    }
}

/// Waits for the authentication frame, within `VENUS_AUTH_TIMEOUT` and while no newer socket from `peer` takes
/// this one's place; on failure answers, closes and returns `None`.
async fn authenticate(
    sink: &mut Sink,
    stream: &mut Stream,
    state: &AppState,
    peer: IpAddr,
) -> Option<Identity> {
    let waiting = state.unauthenticated.admit(peer);
    let deadline = state.config.auth_timeout;
    let outcome = tokio::select! {
        () = waiting.evicted() => Err(Unauthenticated {
            label: "evicted",
            code: close_code::AGAIN,
            reason: "too many unauthenticated connections from this address",
            message: format!(
                "closed before authenticating: more than {} connections from {peer} were waiting to authenticate \
                 (VENUS_MAX_UNAUTHENTICATED_PER_IP); authenticate in the first frame",
                state.config.max_unauthenticated_per_ip
            ),
        }),
        first = timeout(deadline, stream.next()) => match first {
            Err(_) => Err(Unauthenticated {
                label: "auth_timeout",
                reason: "authentication timeout",
                ..Unauthenticated::failed(format!(
                    "not authenticated within {} (VENUS_AUTH_TIMEOUT)",
                    humantime::format_duration(deadline)
                ))
            }),
            Ok(None | Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Text(text)))) => {
                check_authentication_frame(&text, state).map_err(Unauthenticated::failed)
            }
            Ok(Some(Ok(_))) => Err(Unauthenticated::failed(
                "not authenticated: the first frame must be a JSON text authentication frame".into(),
            )),
        },
    };
    drop(waiting);
    let reply_timeout = state.config.reply_timeout;
    match outcome {
        Ok(identity) => {
            let reply = AuthenticationReply::authenticated(&identity.name);
            timeout(reply_timeout, send_json(sink, &reply)).await.ok()?.ok()?;
            Some(identity)
        }
        Err(refusal) => {
            tracing::info!(message = %refusal.message, %peer, "authentication failed");
            state
                .metrics
                .connections_refused
                .with_label_values(&[refusal.label])
                .inc();
            let _ = timeout(reply_timeout, async {
                send_json(sink, &AuthenticationReply::error(&refusal.message)).await?;
                close(sink, refusal.code, refusal.reason).await
            })
            .await;
            None
        }
    }
}

fn check_authentication_frame(text: &str, state: &AppState) -> Result<Identity, String> {
    crate::auth::check_authentication_frame(text, |key| state.auth.api_key(key), |token| state.token(token))
}

struct Session {
    state: Arc<AppState>,
    identity: Identity,
    sink: Sink,
    pending: FuturesOrdered<PendingReply>,
}

/// Why a session loop stopped.
enum End {
    /// The client closed, vanished, or a send failed: nothing more can be said.
    ClientGone,
    /// Venus is shutting down: answer what is in flight, then close with 1001.
    Shutdown,
}

impl Session {
    async fn run(mut self, mut stream: Stream) {
        let end = self.serve_frames(&mut stream).await;
        if let End::Shutdown = end {
            // Answer what is in flight, bounded by the delivery timeout Kafka itself has for each message.
            let deadline = self.state.config.delivery_timeout + REPORT_GRACE;
            let _ = timeout(deadline, async {
                while let Some(reply) = self.pending.next().await {
                    if self.reply(reply).await.is_err() {
                        break;
                    }
                }
            })
            .await;
            let _ = close(&mut self.sink, close_code::AWAY, "server shutting down").await;
        }
        // Frames never answered (the client left first) no longer count as in flight.
        self.state.metrics.frames_in_flight.sub(self.pending.len() as i64);
        tracing::debug!(client = %self.identity, "session ended");
    }

    async fn serve_frames(&mut self, stream: &mut Stream) -> End {
        let idle_timeout = self.state.config.idle_timeout;
        let idle = tokio::time::sleep(idle_timeout);
        tokio::pin!(idle);
        let shutdown = self.state.shutdown.clone();
        let mut revocations = self.state.revocations.subscribe();
        let revocable = self.identity.credential.is_some();
        loop {
            let room = self.pending.len() < self.state.config.max_frames_in_flight;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return End::Shutdown,
                Ok(()) = revocations.changed(), if revocable => {
                    if self.is_revoked() {
                        tracing::info!(client = %self.identity, "credential revoked: closing the connection");
                        self.state.metrics.connections_refused.with_label_values(&["revoked"]).inc();
                        let _ = close(&mut self.sink, close_code::POLICY, "credential revoked").await;
                        return End::ClientGone;
                    }
                }
                Some(reply) = self.pending.next(), if !self.pending.is_empty() => {
                    if self.reply(reply).await.is_err() {
                        return End::ClientGone;
                    }
                    if self.pending.is_empty() {
                        idle.as_mut().reset(tokio::time::Instant::now() + idle_timeout);
                    }
                }
                message = stream.next(), if room => {
                    idle.as_mut().reset(tokio::time::Instant::now() + idle_timeout);
                    let plan = match message {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return End::ClientGone,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Text(text))) => self.plan_text(&text),
                        Some(Ok(Message::Binary(bytes))) => frame::plan_binary_frame(&bytes, &self.identity),
                    };
                    match self.reserve(plan.message_count(), plan.estimated_bytes()).await {
                        Ok(reservation) => {
                            let reply = self.execute(plan, reservation);
                            self.push_pending(reply);
                        }
                        Err(end) => {
                            let reply = FrameReply {
                                retryable: true,
                                ..FrameReply::refused("server shutting down before this frame reached Kafka: resend it")
                            };
                            self.push_pending(Box::pin(async move { reply }));
                            return end;
                        }
                    }
                }
                () = &mut idle, if self.pending.is_empty() => {
                    let reason = format!("idle for {}s", idle_timeout.as_secs());
                    let _ = close(&mut self.sink, close_code::NORMAL, &reason).await;
                    return End::ClientGone;
                }
            }
        }
    }

    fn is_revoked(&self) -> bool {
        self.identity
            .credential
            .as_deref()
            .is_some_and(|credential| self.state.revocations.is_revoked(credential))
    }

    fn plan_text(&self, text: &Utf8Bytes) -> FramePlan {
        let limits = FrameLimits {
            max_frame_bytes: self.state.config.max_frame_bytes,
            max_events: self.state.config.max_events_per_frame,
            max_clock_skew: self.state.config.max_clock_skew,
        };
        frame::plan_text_frame(text.as_str(), limits, &self.identity)
    }

    /// Waits for producer room for `messages` messages of `bytes` bytes, answering finished frames meanwhile.
    /// Fails only when Venus shuts down or the client is gone.
    ///
    /// The session leaves the queue for room while it sends a reply: room handed to a queued session is held
    /// until it looks again, and a client that does not read could keep it there for the whole reply timeout.
    async fn reserve(&mut self, messages: usize, bytes: usize) -> Result<Reservation, End> {
        let state = self.state.clone();
        loop {
            let reply = {
                let reservation = state.publisher.reserve(messages, bytes);
                tokio::select! {
                    biased;
                    reservation = reservation => return Ok(reservation),
                    Some(reply) = self.pending.next(), if !self.pending.is_empty() => reply,
                    () = state.shutdown.cancelled() => return Err(End::Shutdown),
                }
            };
            if self.reply(reply).await.is_err() {
                return Err(End::ClientGone);
            }
        }
    }

    /// Enqueues the plan's messages now (preserving frame order in Kafka) and returns the future of its reply.
    fn execute(&self, plan: FramePlan, reservation: Reservation) -> PendingReply {
        let publisher = &self.state.publisher;
        let started = Instant::now();
        // Slots: the events first, then the dead letters.
        let delivery = FrameDelivery::new(plan.message_count(), reservation);
        let mut payload = Vec::with_capacity(1024);
        for (slot, (_, event)) in plan.events.iter().enumerate() {
            publisher.publish(event, &delivery, slot, &mut payload);
        }
        for (n, letter) in plan.dead_letters.iter().enumerate() {
            publisher.dead_letter(letter, &delivery, plan.events.len() + n);
        }
        let metrics = self.state.metrics.clone();
        // librdkafka answers every message within the delivery timeout; the grace only covers its reporting.
        let deadline =
            tokio::time::Instant::from_std(started) + self.state.config.delivery_timeout + REPORT_GRACE;
        Box::pin(async move {
            let verdicts = delivery.verdicts_by(deadline).await;
            let (event_verdicts, letter_verdicts) = verdicts.split_at(plan.events.len());
            let mut failed = Vec::new();
            let mut failure_reason = None;
            for ((index, _), verdict) in plan.events.iter().zip(event_verdicts) {
                if let Some(reason) = failure(verdict) {
                    failed.push(*index);
                    failure_reason.get_or_insert(reason);
                }
            }
            let dead_letter_error = letter_verdicts.iter().find_map(failure);
            metrics.publish_latency.observe(started.elapsed().as_secs_f64());
            metrics
                .events_accepted
                .inc_by((plan.events.len() - failed.len()) as u64);
            metrics.events_failed.inc_by(failed.len() as u64);
            for reason in &plan.rejection_reasons {
                metrics
                    .events_rejected
                    .with_label_values(&[reason.as_str()])
                    .inc();
            }
            let reply = frame::compose_reply(&plan, failed, failure_reason, dead_letter_error);
            let outcome = match (reply.success, reply.retryable) {
                (true, _) => "received",
                (false, true) => "failed",
                (false, false) => "rejected",
            };
            metrics.frames.with_label_values(&[outcome]).inc();
            reply
        })
    }

    fn push_pending(&mut self, reply: PendingReply) {
        self.state.metrics.frames_in_flight.inc();
        self.pending.push_back(reply);
    }

    /// Sends a reply; a client that does not take it within `VENUS_REPLY_TIMEOUT` (it stopped reading) is
    /// disconnected, so it holds neither this task nor anything another client waits for.
    async fn reply(&mut self, reply: FrameReply) -> Result<(), ClientGone> {
        self.state.metrics.frames_in_flight.dec();
        let reply_timeout = self.state.config.reply_timeout;
        match timeout(reply_timeout, send_json(&mut self.sink, &reply)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(ClientGone),
            Err(_) => {
                tracing::info!(client = %self.identity, "not reading replies: closing the connection");
                self.state
                    .metrics
                    .connections_refused
                    .with_label_values(&["not_reading"])
                    .inc();
                // The send buffer is full, so the close frame may not get through either (`close` tries briefly).
                let reason = format!(
                    "not reading replies: none taken within {}",
                    humantime::format_duration(reply_timeout)
                );
                let _ = close(&mut self.sink, close_code::POLICY, &reason).await;
                Err(ClientGone)
            }
        }
    }
}

/// The client cannot be answered any more (it left, or stopped reading).
struct ClientGone;

/// Why Kafka does not have a message, or `None` when it does.
fn failure(verdict: &Verdict) -> Option<String> {
    match verdict {
        Verdict::Acknowledged => None,
        Verdict::Failed(reason) => Some(reason.clone()),
        Verdict::Waiting => Some("Kafka did not acknowledge within the delivery timeout".into()),
    }
}

async fn send_json(sink: &mut Sink, value: &impl serde::Serialize) -> Result<(), axum::Error> {
    let text = serde_json::to_string(value).expect("replies always serialise");
    sink.send(Message::Text(text.into())).await
}

/// Sends a close frame, giving up after a second: a peer that reads nothing must not hold the task.
async fn close(sink: &mut Sink, code: u16, reason: &str) -> Result<(), axum::Error> {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }));
    timeout(Duration::from_secs(1), sink.send(frame))
        .await
        .map_err(axum::Error::new)?
}
