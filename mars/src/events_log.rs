//! `--events-log`: one line per acknowledged event, `event_id session_id seq`, so tests and operators can
//! reconcile what Mars sent with what arrived downstream.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

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

    /// Appends acknowledged events.
    pub fn record<'a>(&self, events: impl IntoIterator<Item = &'a OutgoingEvent>) -> Result<(), Error> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            writeln!(writer, "{} {} {}", event.event_id, event.session_id, event.seq)
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
