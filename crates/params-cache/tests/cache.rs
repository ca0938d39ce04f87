//! params-cache against a real PostgreSQL: the TTL, invalidation and
//! single-flight (counted loads). What one load reads, and in which order,
//! is `registry-store`'s (its `tests/load.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use model_api::{ModelId, Role, VersionLabel};
use params_cache::{CacheError, NOTIFY_CHANNEL, ParamsCache};
use registry::Catalog;
use registry_store::{NewVersion, StoreError};
use test_support::TestDb;
use tokio_postgres::Client;

/// Registers `id` through the library, as an operator would.
async fn model(client: &mut Client, id: &str) {
    registry_store::add_model(client, &ModelId::new(id).unwrap(), None)
        .await
        .unwrap();
}

/// An ACTIVE version of `model` with empty params.
async fn version(client: &mut Client, model: &str, version: &str, role: Role) {
    let new = NewVersion {
        model: ModelId::new(model).unwrap(),
        version: VersionLabel::new(version).unwrap(),
        role,
        params: Default::default(),
        activate: true,
        timeout_ms: None,
        implementation: None,
        // The cache's tests need rows, not code: no catalog knows these models.
        allow_unknown: true,
    };
    registry_store::add_version(client, &Catalog::new(), &new)
        .await
        .unwrap();
}

/// Number of sessions of this test's database waiting for a lock.
async fn lock_waiters(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

async fn wait_for_lock_waiters(client: &Client, at_least: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while lock_waiters(client).await < at_least {
        assert!(
            Instant::now() < deadline,
            "no session ever waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_callers_on_a_stale_cache_cause_one_query() {
    let db = TestDb::new().await;
    let mut setup = db.client().await;
    model(&mut setup, "m").await;
    version(&mut setup, "m", "1", Role::Primary).await;

    // Hold the registry locked so the first load stays in flight while every
    // other caller arrives.
    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE kcg.detection_model_versions IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    const CALLERS: usize = 8;
    let cache = Arc::new(ParamsCache::default());
    let entered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let client = db.client().await;
        let cache = Arc::clone(&cache);
        let entered = Arc::clone(&entered);
        tasks.push(tokio::spawn(async move {
            entered.fetch_add(1, Ordering::SeqCst);
            cache.get(&client).await
        }));
    }
    wait_for_lock_waiters(&setup, 1).await;
    while entered.load(Ordering::SeqCst) < CALLERS {
        tokio::task::yield_now().await;
    }
    // Give every caller the chance to reach the database if it were going to.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        lock_waiters(&setup).await,
        1,
        "more than one load reached the database"
    );
    locker.batch_execute("COMMIT").await.unwrap();

    let mut snapshots = Vec::new();
    for t in tasks {
        snapshots.push(t.await.unwrap().unwrap());
    }
    assert_eq!(cache.load_count(), 1);
    assert!(
        snapshots.iter().all(|s| Arc::ptr_eq(s, &snapshots[0])),
        "callers got different loads"
    );
    assert_eq!(snapshots[0].versions.len(), 1);
}

#[tokio::test]
async fn a_fresh_snapshot_is_served_without_a_query_and_expires_after_the_ttl() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    model(&mut c, "m").await;
    version(&mut c, "m", "1", Role::Primary).await;

    let long = ParamsCache::default();
    assert_eq!(long.ttl(), Duration::from_secs(300));
    let first = long.get(&c).await.unwrap();
    version(&mut c, "m", "2", Role::Shadow).await;
    let second = long.get(&c).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "a fresh snapshot must be served from the cache"
    );
    assert_eq!(
        second.versions.len(),
        1,
        "served the cached snapshot, not the new row"
    );
    assert_eq!(long.load_count(), 1);

    let short = ParamsCache::new(Duration::from_millis(50));
    assert_eq!(short.get(&c).await.unwrap().versions.len(), 2);
    version(&mut c, "m", "3", Role::Shadow).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        short.get(&c).await.unwrap().versions.len(),
        3,
        "expired snapshot was not reloaded"
    );
    assert_eq!(short.load_count(), 2);
}

#[tokio::test]
async fn invalidate_and_force_reload_make_changes_visible_at_once() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    model(&mut c, "m").await;
    version(&mut c, "m", "1", Role::Primary).await;
    let cache = ParamsCache::default();
    assert_eq!(cache.get(&c).await.unwrap().versions.len(), 1);

    version(&mut c, "m", "2", Role::Shadow).await;
    assert_eq!(cache.get(&c).await.unwrap().versions.len(), 1);
    cache.invalidate();
    assert_eq!(cache.get(&c).await.unwrap().versions.len(), 2);
    assert_eq!(cache.load_count(), 2);

    version(&mut c, "m", "3", Role::Shadow).await;
    assert_eq!(cache.force_reload(&c).await.unwrap().versions.len(), 3);
    assert_eq!(cache.get(&c).await.unwrap().versions.len(), 3);
    assert_eq!(cache.load_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_a_load_is_not_lost() {
    let db = TestDb::new().await;
    let mut setup = db.client().await;
    model(&mut setup, "m").await;
    version(&mut setup, "m", "1", Role::Primary).await;

    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE kcg.detection_model_versions IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let cache = Arc::new(ParamsCache::default());
    let loader = {
        let cache = Arc::clone(&cache);
        let client = db.client().await;
        tokio::spawn(async move { cache.get(&client).await.map(|s| s.versions.len()) })
    };
    wait_for_lock_waiters(&setup, 1).await;
    // A promotion lands while the load is in flight (its snapshot was taken
    // before): the in-flight result is handed out but must not be kept.
    cache.invalidate();
    locker.batch_execute("COMMIT").await.unwrap();
    assert_eq!(loader.await.unwrap().unwrap(), 1);
    cache.get(&setup).await.unwrap();
    assert_eq!(
        cache.load_count(),
        2,
        "the load that raced with invalidate() was cached"
    );
}

#[tokio::test]
async fn a_failed_load_is_an_error_naming_the_tables_and_is_not_cached() {
    let db = TestDb::empty().await;
    let c = db.client().await;
    let cache = ParamsCache::default();
    let err = cache.get(&c).await.unwrap_err();
    assert!(
        matches!(err, CacheError::Load(StoreError::Db { .. })),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("kcg.detection_model_versions"),
        "{message}"
    );
    // The server's reason is the cause, not repeated in the message.
    let mut chain = message.clone();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain = format!("{chain}: {c}");
        cause = c.source();
    }
    assert!(!message.contains("does not exist"), "{message}");
    assert!(chain.contains("does not exist"), "{chain}");
    assert!(cache.get(&c).await.is_err());
    assert_eq!(cache.load_count(), 2);
}

#[tokio::test]
async fn every_registry_change_is_announced_on_the_notify_channel() {
    let db = TestDb::new().await;
    let (listener, mut connection) = db.config().connect(tokio_postgres::NoTls).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut stream).await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = tx.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    listener
        .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await
        .unwrap();
    let mut c = db.client().await;
    model(&mut c, "m").await;
    let (channel, payload) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(channel, NOTIFY_CHANNEL);
    assert_eq!(payload, "detection_models");
}
