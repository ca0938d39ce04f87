//! The TTL cache in front of [`registry_store::load`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::{CacheError, RegistrySnapshot};

/// How long a loaded snapshot is served before the next caller reloads it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A snapshot and when and under which invalidation generation it was
/// loaded.
#[derive(Debug, Clone)]
struct Entry {
    snapshot: Arc<RegistrySnapshot>,
    /// When the query was *sent*: the snapshot is at least this fresh.
    loaded_at: Instant,
    /// The value of `ParamsCache::generation` when the query was sent. A
    /// load that raced with [`ParamsCache::invalidate`] is stored already
    /// stale, so an invalidation can never be lost.
    generation: u64,
}

/// A process-wide, single-flight TTL cache of the model registry.
///
/// Create one per process and share it (e.g. in an `Arc`). Every method
/// that may load takes the caller's connection, so a prediction cycle that
/// checked out one pooled connection does all its work, this load included,
/// on that one connection.
///
/// - [`get`](Self::get) serves the cached snapshot while it is younger than
///   the TTL; otherwise it loads. When many callers find the cache stale at
///   once, exactly one of them queries; the others wait for that result.
/// - [`invalidate`](Self::invalidate) makes the next `get` reload (operators'
///   promote/archive, a `NOTIFY` on [`NOTIFY_CHANNEL`](crate::NOTIFY_CHANNEL)).
/// - [`force_reload`](Self::force_reload) loads now (sharing a load that
///   started after the call, if one is in flight).
#[derive(Debug)]
pub struct ParamsCache {
    ttl: Duration,
    current: RwLock<Option<Entry>>,
    /// Held while a load is in flight: the single-flight gate.
    loading: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    loads: AtomicU64,
}

impl Default for ParamsCache {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

impl ParamsCache {
    /// An empty cache whose snapshots live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            current: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            loads: AtomicU64::new(0),
        }
    }

    /// The time-to-live of a loaded snapshot.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The current snapshot: the cached one while fresh, else loaded through
    /// `client` (once, however many callers ask at the same time).
    pub async fn get(&self, client: &Client) -> Result<Arc<RegistrySnapshot>, CacheError> {
        if let Some(snapshot) = self.fresh() {
            return Ok(snapshot);
        }
        let _gate = self.loading.lock().await;
        // Whoever held the gate before us may have just loaded.
        if let Some(snapshot) = self.fresh() {
            return Ok(snapshot);
        }
        self.load_locked(client).await
    }

    /// Loads now through `client`, whatever the age of the cached snapshot.
    /// The result is at least as new as this call.
    pub async fn force_reload(&self, client: &Client) -> Result<Arc<RegistrySnapshot>, CacheError> {
        self.invalidate();
        self.get(client).await
    }

    /// Marks the cached snapshot stale: the next [`get`](Self::get) reloads.
    /// A load in flight while this is called is returned to the caller that
    /// started it but not kept: callers queued behind it load again. Never
    /// blocks and does no I/O.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// How many times this cache has queried the database.
    pub fn load_count(&self) -> u64 {
        self.loads.load(Ordering::Acquire)
    }

    /// The cached snapshot if it is fresh.
    fn fresh(&self) -> Option<Arc<RegistrySnapshot>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let entry = current.as_ref()?;
        let fresh = entry.generation == self.generation.load(Ordering::Acquire)
            && entry.loaded_at.elapsed() < self.ttl;
        fresh.then(|| Arc::clone(&entry.snapshot))
    }

    /// Loads and stores; the caller holds the `loading` gate.
    async fn load_locked(&self, client: &Client) -> Result<Arc<RegistrySnapshot>, CacheError> {
        let generation = self.generation.load(Ordering::Acquire);
        let loaded_at = Instant::now();
        self.loads.fetch_add(1, Ordering::AcqRel);
        let snapshot = Arc::new(registry_store::load(client).await?);
        tracing::debug!(
            versions = snapshot.versions.len(),
            edges = snapshot.edges.len(),
            elapsed_ms = loaded_at.elapsed().as_secs_f64() * 1e3,
            "model registry loaded"
        );
        let entry = Entry {
            snapshot: Arc::clone(&snapshot),
            loaded_at,
            generation,
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(entry);
        Ok(snapshot)
    }
}
