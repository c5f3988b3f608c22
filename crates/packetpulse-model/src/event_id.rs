//! Deterministic event ids for senders that do not send one.
//!
//! A vehicle that retransmits an unacknowledged event sends the same content again; deriving the id from that
//! content (UUIDv5) makes the retransmission a duplicate every layer can drop, instead of a second event.

use uuid::{Uuid, uuid};

use crate::event::{DeliveryEvent, WireEvent};

/// The UUIDv5 namespace of PacketPulse event ids. Never change it: every stored id depends on it.
pub const EVENT_ID_NAMESPACE: Uuid = uuid!("5f0c2a55-6f1d-4a8e-9c47-3d2b8e51a7c4");

/// The id of an event that came without one: UUIDv5 in [`EVENT_ID_NAMESPACE`] over the name
/// `"{session_id}\n{status}\n{timestamp as Unix microseconds}\n{current_lat}\n{current_lon}"`, the coordinates in
/// Rust's shortest round-trip decimal form (`37.9838`, `-0` written as `0`). Ids cannot contain a newline
/// (validation rejects control characters), so the name is unambiguous.
pub fn derive_event_id(event: &DeliveryEvent) -> Uuid {
    use sha1::Digest;
    use std::fmt::Write;

    let mut name = String::with_capacity(event.session_id.len() + 64);
    // Adding 0.0 turns -0.0 into 0.0, so the two spellings of zero give one id.
    write!(
        name,
        "{}\n{}\n{}\n{}\n{}",
        event.session_id,
        event.status.as_str(),
        event.timestamp.timestamp_micros(),
        event.current_lat + 0.0,
        event.current_lon + 0.0,
    )
    .expect("writing to a String cannot fail");
    // UUIDv5 (RFC 9562 §5.5) as `Uuid::new_v5` computes it, with a SHA-1 that uses the CPU's SHA instructions
    // where present: ids are derived for every event a sender sends without one.
    let digest = sha1::Sha1::new()
        .chain_update(EVENT_ID_NAMESPACE.as_bytes())
        .chain_update(name.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

impl WireEvent {
    /// The id this event is published under: the sender's, or the one derived from its content, so that a
    /// retransmission of the same event gets the same id.
    pub fn effective_event_id(&self) -> Uuid {
        self.event_id.unwrap_or_else(|| derive_event_id(&self.event))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::DeliveryStatus;

    proptest! {
        /// The hand-assembled UUIDv5 equals the uuid crate's own for any name.
        #[test]
        fn same_id_as_uuid_new_v5(
            session in "[a-z0-9-]{1,40}",
            lat in -90.0f64..90.0,
            lon in -180.0f64..180.0,
            micros in 0i64..4_102_444_800_000_000,
        ) {
            let event = DeliveryEvent {
                session_id: session.clone(),
                status: DeliveryStatus::EnRoute,
                timestamp: chrono::DateTime::from_timestamp_micros(micros).unwrap(),
                current_lat: lat,
                current_lon: lon,
                ..crate::testing::event()
            };
            let name = format!("{session}\nen_route\n{micros}\n{}\n{}", lat + 0.0, lon + 0.0);
            prop_assert_eq!(derive_event_id(&event), Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes()));
        }
    }
}
