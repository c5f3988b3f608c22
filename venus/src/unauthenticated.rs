//! Sockets that have not authenticated yet, per source address. A client that opens sockets and never
//! authenticates would otherwise hold connection slots until the authentication deadline: beyond
//! `VENUS_MAX_UNAUTHENTICATED_PER_IP` waiting sockets from one address, the one waiting longest is closed. The
//! newest is kept because a real device authenticates in its first frame (milliseconds) — so a flood from one
//! address evicts itself, while a vehicle behind the same address (a carrier NAT) still gets in.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::IntGauge;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The waiting sockets of every address.
pub struct Unauthenticated {
    per_address: usize,
    waiting: Mutex<HashMap<IpAddr, VecDeque<(u64, CancellationToken)>>>,
    next_id: AtomicU64,
    gauge: IntGauge,
}

/// One socket's place in the queue of its address; leaves it when dropped (authenticated, refused or gone).
pub struct Waiting {
    registry: Arc<Unauthenticated>,
    address: IpAddr,
    id: u64,
    evicted: CancellationToken,
}

impl Unauthenticated {
    /// At most `per_address` (≥ 1) waiting sockets per address; `gauge` counts them all.
    pub fn new(per_address: usize, gauge: IntGauge) -> Arc<Self> {
        Arc::new(Self {
            per_address: per_address.max(1),
            waiting: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            gauge,
        })
    }

    /// Queues a new socket from `address`, evicting the longest-waiting one of that address beyond the cap.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Waiting {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evicted = CancellationToken::new();
        let mut waiting = self.lock();
        let queue = waiting.entry(address).or_default();
        queue.push_back((id, evicted.clone()));
        self.gauge.inc();
        if queue.len() > self.per_address
            && let Some((_, oldest)) = queue.pop_front()
        {
            self.gauge.dec();
            oldest.cancel();
        }
        Waiting {
            registry: self.clone(),
            address,
            id,
            evicted,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<(u64, CancellationToken)>>> {
        // Every update is complete before anything can panic, so a poisoned map is still consistent.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Waiting {
    /// Completes when a newer socket from the same address took this one's place.
    pub fn evicted(&self) -> WaitForCancellationFutureOwned {
        self.evicted.clone().cancelled_owned()
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut waiting = self.registry.lock();
        let Some(queue) = waiting.get_mut(&self.address) else {
            return;
        };
        if let Some(position) = queue.iter().position(|(id, _)| *id == self.id) {
            queue.remove(position);
            self.registry.gauge.dec();
        }
        if queue.is_empty() {
            waiting.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(per_address: usize) -> Arc<Unauthenticated> {
        Unauthenticated::new(per_address, IntGauge::new("waiting", "test").unwrap())
    }

    #[test]
    fn beyond_the_cap_the_longest_waiting_socket_of_that_address_is_evicted() {
        let registry = registry(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = registry.admit(a);
        let second = registry.admit(a);
        let other = registry.admit(b);
        assert!(!first.evicted.is_cancelled());
        let third = registry.admit(a);
        assert!(first.evicted.is_cancelled());
        assert!(!second.evicted.is_cancelled() && !third.evicted.is_cancelled());
        assert!(!other.evicted.is_cancelled(), "other addresses are unaffected");
        assert_eq!(registry.gauge.get(), 3);
        drop(first);
        assert_eq!(
            registry.gauge.get(),
            3,
            "an evicted socket was already counted out"
        );
    }

    #[test]
    fn a_socket_that_leaves_frees_its_place_and_empty_addresses_are_forgotten() {
        let registry = registry(1);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = registry.admit(a);
        drop(first);
        assert_eq!(registry.gauge.get(), 0);
        assert!(registry.lock().is_empty());
        let second = registry.admit(a);
        assert!(!second.evicted.is_cancelled());
    }
}
