//! Deterministic event ids for senders that do not send one.
//!
//! A vehicle that retransmits an unacknowledged event sends the same content again; deriving the id from that
//! content (UUIDv5) makes the retransmission a duplicate every layer can drop, instead of a second event.

use uuid::{Uuid, uuid};

use crate::event::DeliveryEvent;

/// The UUIDv5 namespace of PacketPulse event ids. Never change it: every stored id depends on it.
pub const EVENT_ID_NAMESPACE: Uuid = uuid!("5f0c2a55-6f1d-4a8e-9c47-3d2b8e51a7c4");

/// The id of an event that came without one: UUIDv5 in [`EVENT_ID_NAMESPACE`] over the name
/// `"{session_id}\n{status}\n{timestamp as Unix microseconds}\n{current_lat}\n{current_lon}"`, the coordinates in
/// Rust's shortest round-trip decimal form (`37.9838`, `-0` written as `0`). Ids cannot contain a newline
/// (validation rejects control characters), so the name is unambiguous.
pub fn derive_event_id(event: &DeliveryEvent) -> Uuid {
    // Adding 0.0 turns -0.0 into 0.0, so the two spellings of zero give one id.
    let name = format!(
        "{}\n{}\n{}\n{}\n{}",
        event.session_id,
        event.status.as_str(),
        event.timestamp.timestamp_micros(),
        event.current_lat + 0.0,
        event.current_lon + 0.0,
    );
    Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes())
}
