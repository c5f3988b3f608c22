//! `--events-log`: one line per acknowledged event, `event_id session_id seq acked_at_ms latency_us`, so tests
//! and operators can reconcile what Mars sent with what arrived downstream, and see when each was acknowledged
//! (wall clock, epoch ms) and how long its frame waited for the reply (µs) — the chaos run's latency figures.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;
use crate::fleet::OutgoingEvent;

/// The log file, shared by all connections.
pub struct EventsLog {
    writer: Mutex<BufWriter<File>>,
}

impl EventsLog {
    /// Creates (truncates) the file.
    pub fn create(path: &Path) -> Result<Self, Error> {
        let file = File::create(path).map_err(|e| Error::EventsLog(format!("{}: {e}", path.display())))?;
        Ok(Self {
            writer: Mutex::new(BufWriter::new(file)),
        })
    }

    /// Appends events acknowledged now, whose frame waited `latency` for its reply.
    pub fn record<'a>(
        &self,
        events: impl IntoIterator<Item = &'a OutgoingEvent>,
        latency: Duration,
    ) -> Result<(), Error> {
        let acked_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let latency_us = latency.as_micros();
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            writeln!(
                writer,
                "{} {} {} {acked_at_ms} {latency_us}",
                event.event_id, event.session_id, event.seq
            )
            .map_err(|e| Error::EventsLog(e.to_string()))?;
        }
        Ok(())
    }

    /// Writes everything buffered to the file.
    pub fn flush(&self) -> Result<(), Error> {
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flush()
            .map_err(|e| Error::EventsLog(e.to_string()))
    }
}
