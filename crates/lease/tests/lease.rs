//! The lease against a real PostgreSQL: who may take it, when, and what the
//! fence guarantees.

use std::time::Duration;

use lease::{LeaseError, Token};
use test_support::TestDb;

const NAME: &str = "serve";

async fn expire(client: &tokio_postgres::Client) {
    client
        .execute(
            "UPDATE kcg.runner_lease SET expires_at = clock_timestamp() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn one_holder_at_a_time_and_a_takeover_only_after_expiry() {
    let db = TestDb::new().await;
    let c = db.client().await;
    let hour = Duration::from_secs(3600);
    let a = lease::acquire(&c, NAME, "a", hour).await.unwrap().unwrap();
    assert_eq!(a.epoch, 1);
    assert_eq!(lease::acquire(&c, NAME, "b", hour).await.unwrap(), None);
    assert!(lease::renew(&c, &a, hour).await.unwrap());
    lease::fence(&c, &a).await.unwrap();

    // a stops renewing: once expired, b takes over in a new epoch.
    expire(&c).await;
    let b = lease::acquire(&c, NAME, "b", hour).await.unwrap().unwrap();
    assert_eq!(b.epoch, 2);
    // a's token is worthless from now on: no renewal, no fence.
    assert!(!lease::renew(&c, &a, hour).await.unwrap());
    let lost = lease::fence(&c, &a).await.unwrap_err();
    assert!(
        matches!(&lost, LeaseError::Lost { epoch: 1, holder, .. } if holder == "a"),
        "{lost:?}"
    );
    assert_eq!(
        lost.to_string(),
        "the lease \"serve\" (epoch 1) is no longer held by a"
    );
    lease::fence(&c, &b).await.unwrap();

    // An expired lease nobody took over is renewed in the same epoch (no
    // one else led in between), but fails the fence until it is.
    expire(&c).await;
    assert!(lease::fence(&c, &b).await.is_err());
    assert!(lease::renew(&c, &b, hour).await.unwrap());
    lease::fence(&c, &b).await.unwrap();

    // Released: the next one takes it at once.
    assert!(lease::release(&c, &b).await.unwrap());
    let a2 = lease::acquire(&c, NAME, "a", hour).await.unwrap().unwrap();
    assert_eq!(a2.epoch, 3);
    assert!(!lease::release(&c, &b).await.unwrap());
}

#[tokio::test]
async fn a_takeover_waits_for_a_commit_that_passed_the_fence() {
    let db = TestDb::new().await;
    let mut writer = db.client().await;
    let other = db.client().await;
    let observer = db.client().await;
    let ttl = Duration::from_millis(300);
    let a: Token = lease::acquire(&writer, NAME, "a", ttl)
        .await
        .unwrap()
        .unwrap();
    let tx = writer.transaction().await.unwrap();
    lease::fence(&tx, &a).await.unwrap();
    // The lease expires while the writer is between its fence and COMMIT
    // (an UPDATE would wait for the writer, as the takeover below does).
    tokio::time::sleep(ttl * 2).await;
    let takeover_pid: i32 = other
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let takeover =
        tokio::spawn(
            async move { lease::acquire(&other, NAME, "b", Duration::from_secs(3600)).await },
        );
    // The takeover is blocked on the writer's row lock...
    let mut waiting = false;
    for _ in 0..200 {
        let row = observer
            .query_one(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                &[&takeover_pid],
            )
            .await
            .unwrap();
        if row.get::<_, Option<String>>(0).as_deref() == Some("Lock") {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(waiting, "the takeover did not wait for the fenced writer");
    assert!(!takeover.is_finished());
    // ...until the writer commits; then it goes through, in a new epoch.
    tx.commit().await.unwrap();
    let b = takeover.await.unwrap().unwrap().unwrap();
    assert_eq!(b.epoch, 2);
    assert!(lease::fence(&writer, &a).await.is_err());
}
