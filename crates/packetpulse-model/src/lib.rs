//! The PacketPulse event contract, shared by every planet.
//!
//! A vehicle sends a [`WireEvent`] (JSON, see `docs/ARCHITECTURE.md`); [`parse_frame`] and [`parse_event`] turn the bytes
//! of a WebSocket frame into validated events or into a precise list of [`FieldError`]s; Venus then stamps each
//! valid event into a [`PublishedEvent`] (event id filled in, `received_at` added) and publishes it to
//! [`topics::SESSIONS`]. Everything downstream reads `PublishedEvent`. The crate does no I/O.

pub mod alert_rules;
pub mod alerts;
mod dead_letter;
pub mod devices;
mod event;
mod event_id;
pub mod geo;
pub mod names;
mod parse;
mod payload;
pub mod protocol;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod timestamp;
mod validate;

pub use alert_rules::RuleThresholds;
pub use alerts::{Alert, AlertKind, Geofence, GeofenceShape, alert_id};
pub use dead_letter::DeadLetter;
pub use event::{DeliveryEvent, DeliveryStatus, PublishedEvent, WireEvent};
pub use event_id::{EVENT_ID_NAMESPACE, derive_event_id};
pub use geo::GeoPoint;
pub use names::{bronze, clickhouse, columns, topics};
pub use parse::{FrameError, FrameEvent, RejectedEvent, parse_event, parse_frame};
pub use protocol::{AuthenticationFrame, AuthenticationReply, AuthenticationStatus, FrameReply};
pub use validate::{FieldError, REQUIRED_FIELDS, ValidationErrors, limits};
