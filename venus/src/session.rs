//! One WebSocket connection: authentication, then data frames in and exactly one reply per frame out, in frame
//! order, each sent only after Kafka acknowledged everything in its frame.
//!
//! Frames are enqueued to Kafka in arrival order (so a session's events keep their order) and their replies
//! awaited concurrently (so a client may pipeline). Reading stops while the connection has
//! `max_frames_in_flight` unanswered frames or while the producer has no room (see `publish`): that is the
//! back-pressure a slow broker exerts on clients.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::stream::{FuturesOrdered, SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::time::timeout;

use packetpulse_model::{AuthenticationFrame, AuthenticationReply, FrameReply};

use crate::auth::{AuthError, Identity};
use crate::frame::{self, FrameLimits, FramePlan};
use crate::publish::{FrameDelivery, Reservation, Verdict};
use crate::state::AppState;

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;
type PendingReply = Pin<Box<dyn Future<Output = FrameReply> + Send>>;

/// Serves one upgraded connection until the client leaves, idles out, or Venus shuts down.
pub async fn serve(socket: WebSocket, state: Arc<AppState>, identity: Option<Identity>) {
    state.metrics.connections.inc();
    let (mut sink, mut stream) = socket.split();
    let identity = match identity {
        Some(identity) => Some(identity),
        None => authenticate(&mut sink, &mut stream, &state).await,
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

/// Waits for the authentication frame; on failure answers, closes with 1008 and returns `None`.
async fn authenticate(sink: &mut Sink, stream: &mut Stream, state: &AppState) -> Option<Identity> {
    let outcome = match timeout(state.config.idle_timeout, stream.next()).await {
        Err(_) => Err(format!(
            "not authenticated within {:?}",
            state.config.idle_timeout
        )),
        Ok(None | Some(Err(_))) => return None,
        Ok(Some(Ok(Message::Text(text)))) => check_authentication_frame(&text, state),
        Ok(Some(Ok(_))) => {
            Err("not authenticated: the first frame must be a JSON text authentication frame".into())
        }
    };
    match outcome {
        Ok(identity) => {
            let reply = AuthenticationReply::authenticated(&identity.name);
            send_json(sink, &reply).await.ok()?;
            Some(identity)
        }
        Err(message) => {
            tracing::info!(%message, "authentication failed");
            state
                .metrics
                .connections_refused
                .with_label_values(&["auth"])
                .inc();
            let _ = send_json(sink, &AuthenticationReply::error(&message)).await;
            let _ = close(sink, close_code::POLICY, "authentication failed").await;
            None
        }
    }
}

fn check_authentication_frame(text: &str, state: &AppState) -> Result<Identity, String> {
    const EXPECTED: &str = r#"not authenticated: send {"type":"authentication","api_key":"…"} or {"type":"authentication","token":"…"} first"#;
    let frame: AuthenticationFrame = serde_json::from_str(text).map_err(|_| EXPECTED.to_string())?;
    if frame.kind != AuthenticationFrame::TYPE {
        return Err(EXPECTED.into());
    }
    let result = match (frame.api_key, frame.token) {
        (Some(key), None) => state.auth.api_key(&key),
        (None, Some(token)) => state.token(&token),
        _ => return Err("authentication frame needs exactly one of api_key or token".into()),
    };
    result.map_err(|e: AuthError| e.to_string())
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
            let deadline = self.state.config.delivery_timeout + std::time::Duration::from_secs(1);
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
                    match self.reserve(plan.message_count()).await {
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
        };
        frame::plan_text_frame(text.as_str(), limits, &self.identity)
    }

    /// Waits for producer room for `messages` messages, answering finished frames meanwhile (their acks are what
    /// frees the room). Fails only when Venus shuts down or the client is gone.
    async fn reserve(&mut self, messages: usize) -> Result<Reservation, End> {
        let state = self.state.clone();
        let reservation = state.publisher.reserve(messages);
        tokio::pin!(reservation);
        loop {
            tokio::select! {
                biased;
                reservation = &mut reservation => return Ok(reservation),
                Some(reply) = self.pending.next(), if !self.pending.is_empty() => {
                    if self.reply(reply).await.is_err() {
                        return Err(End::ClientGone);
                    }
                }
                () = state.shutdown.cancelled() => return Err(End::Shutdown),
            }
        }
    }

    /// Enqueues the plan's messages now (preserving frame order in Kafka) and returns the future of its reply.
    fn execute(&self, plan: FramePlan, reservation: Reservation) -> PendingReply {
        let publisher = &self.state.publisher;
        let started = Instant::now();
        // Slots: the events first, then the dead letters.
        let delivery = FrameDelivery::new(plan.message_count());
        let mut payload = Vec::with_capacity(1024);
        for (slot, (_, event)) in plan.events.iter().enumerate() {
            publisher.publish(event, &delivery, slot, &mut payload);
        }
        for (n, letter) in plan.dead_letters.iter().enumerate() {
            publisher.dead_letter(letter, &delivery, plan.events.len() + n);
        }
        let metrics = self.state.metrics.clone();
        let deadline = tokio::time::Instant::from_std(started) + self.state.config.delivery_timeout;
        Box::pin(async move {
            let verdicts = delivery.verdicts_by(deadline, reservation).await;
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

    async fn reply(&mut self, reply: FrameReply) -> Result<(), axum::Error> {
        self.state.metrics.frames_in_flight.dec();
        send_json(&mut self.sink, &reply).await
    }
}

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

async fn close(sink: &mut Sink, code: u16, reason: &str) -> Result<(), axum::Error> {
    sink.send(Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    })))
    .await
}
