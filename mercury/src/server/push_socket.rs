//! The one loop every server-push WebSocket runs (the live map, alerts, the overview, a tracking link): send what
//! the feed yields until the browser leaves, the feed ends or the dashboard shuts down. Browsers send nothing
//! but pings and the close, so what they send needs no answer.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

/// What a feed gives its socket next.
pub enum Push {
    /// A text frame (JSON).
    Text(Arc<str>),
    /// The last frame: close with this reason (the feed has nothing more to say).
    Close(CloseFrame),
}

/// Serves `socket` from `feed`. The feed is a stream rather than a function called per message so that work in
/// progress (a query after a tick) survives a frame from the browser arriving meanwhile: polling a stream again
/// resumes it, where a select over a fresh future would drop it.
pub async fn serve(mut socket: WebSocket, shutdown: &CancellationToken, feed: impl Stream<Item = Push>) {
    let mut feed = std::pin::pin!(feed);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame { code: 1001, reason: "the dashboard is shutting down".into() })))
                    .await;
                return;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            next = feed.next() => match next {
                Some(Push::Text(text)) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Some(Push::Close(frame)) => {
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    return;
                }
                None => return,
            },
        }
    }
}
