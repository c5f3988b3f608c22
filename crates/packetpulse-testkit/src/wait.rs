//! Waiting with a deadline: tests and start-up poll a condition instead of sleeping a guessed time.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::Error;

/// Time between two polls.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Ok(Some(value))`, or fails with the last problem once `timeout` has passed.
/// `check` returns `Ok(None)` (or an `Err` message) for "not yet".
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_problem = String::from("condition not met yet");
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(problem) => last_problem = problem,
        }
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                what: what.into(),
                timeout,
                last_problem,
                log_tail: String::new(),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The status code of `GET path` over plain HTTP/1.1 with `Connection: close` (chromedriver refuses HTTP/1.0);
/// enough to probe a server's readiness without a client library (the probe must work before any runtime
/// exists).
pub(crate) fn http_status(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let timeout = Duration::from_secs(2);
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut head = [0_u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            format!(
                "{addr} answered something that is not HTTP: {:?}",
                String::from_utf8_lossy(&head)
            )
        })
}

/// A port on 127.0.0.1 that was free a moment ago (the OS picks it; servers bind it right after).
pub fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(Error::io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(Error::io("finding a free port"))?
        .port())
}
