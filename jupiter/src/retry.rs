//! Waiting out ClickHouse trouble: the one policy the sink's inserts and the lifecycle lookups share. Each call
//! has `CLICKHOUSE_TIMEOUT`; a failure is logged and retried with back-off (100 ms doubling to 5 s) until
//! shutdown, and after a few failures in a row `/health` reports the problem until a call succeeds again.

use std::time::Duration;

use packetpulse_ops::Health;
use tokio_util::sync::CancellationToken;

use crate::Error;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Failures in a row after which `/health` reports them.
const UNHEALTHY_AFTER_FAILURES: u32 = 3;

/// The retry state of one kind of call.
pub struct Backoff {
    /// The part of Jupiter `/health` names (one problem per part).
    part: &'static str,
    /// What is failing, for `/health`: "inserting into ClickHouse".
    doing: &'static str,
    health: Health,
    shutdown: CancellationToken,
    /// How long one call may take.
    pub timeout: Duration,
    failures_in_a_row: u32,
    delay: Duration,
}

impl Backoff {
    /// A fresh state for calls that `doing` describes, reported to `health` under `part`.
    pub fn new(
        part: &'static str,
        doing: &'static str,
        health: Health,
        shutdown: CancellationToken,
        timeout: Duration,
    ) -> Self {
        Self {
            part,
            doing,
            health,
            shutdown,
            timeout,
            failures_in_a_row: 0,
            delay: FIRST_DELAY,
        }
    }

    /// The problem of a call that did not answer within the timeout.
    pub fn no_answer(&self) -> String {
        format!(
            "no answer within {} (CLICKHOUSE_TIMEOUT)",
            humantime::format_duration(self.timeout)
        )
    }

    /// A call succeeded: the trouble, if any, is over.
    pub fn succeeded(&mut self) {
        if self.failures_in_a_row > 0 {
            tracing::info!(after = self.failures_in_a_row, "{} again", self.doing);
        }
        self.failures_in_a_row = 0;
        self.delay = FIRST_DELAY;
        self.health.healthy(self.part);
    }

    /// Runs `call` until it succeeds within the timeout, waiting out failures as [`Backoff::failed`] does.
    pub async fn retry<T, F: Future<Output = Result<T, Error>>>(
        &mut self,
        mut call: impl FnMut() -> F,
    ) -> Result<T, Error> {
        loop {
            let problem = match tokio::time::timeout(self.timeout, call()).await {
                Ok(Ok(value)) => {
                    self.succeeded();
                    return Ok(value);
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => self.no_answer(),
            };
            self.failed(&problem, Error::ShutdownBeforeInsert { rows: 0 })
                .await?;
        }
    }

    /// A call failed with `problem`: logs it, reports it once it repeats, and waits before the next try. Fails
    /// only when shutdown comes first (with `on_shutdown`).
    pub async fn failed(&mut self, problem: &str, on_shutdown: Error) -> Result<(), Error> {
        self.failures_in_a_row += 1;
        tracing::warn!(%problem, retry_in = ?self.delay, "{} failed; retrying", self.doing);
        if self.failures_in_a_row >= UNHEALTHY_AFTER_FAILURES {
            self.health.unhealthy(
                self.part,
                format!(
                    "{} has failed {} times in a row (reading from Kafka is paused): {problem}",
                    self.doing, self.failures_in_a_row
                ),
            );
        }
        tokio::select! {
            () = tokio::time::sleep(self.delay) => {}
            () = self.shutdown.cancelled() => return Err(on_shutdown),
        }
        self.delay = (self.delay * 2).min(MAX_DELAY);
        Ok(())
    }
}
