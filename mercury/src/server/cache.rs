//! A one-second cache in front of the dashboard-wide queries (overview, active sessions, analytics): every
//! browser polls the same few answers, so under load ClickHouse answers each once a second instead of once per
//! request, and concurrent requests for an expired entry wait for one query (moka's `try_get_with`). Gold
//! refreshes every 10 s and silver within a second, so the data is no staler for it.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::model::{ActiveSession, Analytics, Overview, Tracking};

/// How long an answer is reused.
pub const TTL: Duration = Duration::from_secs(1);

/// The cached answers, by their parameters.
#[derive(Clone)]
pub struct Answers {
    /// The overview (its live-feed freshness is added per request).
    pub overview: Cache<(), Arc<Overview>>,
    /// Active sessions by (status, limit).
    pub active_sessions: Cache<(String, u32), Arc<Vec<ActiveSession>>>,
    /// Analytics by period and the overview feed's data generation (`OverviewFeed::generation`).
    pub analytics: Cache<(String, u64), Arc<Analytics>>,
    /// Public tracking by link token (none: the token opens nothing), so anonymous traffic costs ClickHouse at
    /// most one query per link per second.
    pub tracking: Cache<String, Arc<Option<Tracking>>>,
}

impl Default for Answers {
    fn default() -> Self {
        fn cache<K, V>(capacity: u64) -> Cache<K, V>
        where
            K: std::hash::Hash + Eq + Send + Sync + 'static,
            V: Clone + Send + Sync + 'static,
        {
            Cache::builder().time_to_live(TTL).max_capacity(capacity).build()
        }
        Self {
            overview: cache(1),
            active_sessions: cache(64),
            analytics: cache(16),
            tracking: cache(10_000),
        }
    }
}
