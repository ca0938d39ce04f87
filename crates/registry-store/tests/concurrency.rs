//! Concurrent writers on real connections: the invariants hold whatever the
//! interleaving (one ACTIVE PRIMARY per model, no dependency cycle), and
//! every writer gets a rule's answer, never a raw constraint violation.

mod common;

use std::sync::Arc;

use common::*;
use model_api::{InputKey, Role, VersionLabel};
use registry::{VersionStatus, dependency_path};
use registry_store::{
    ArchiveOutcome, Edge, NewVersion, PromoteOutcome, StoreError, add_model, add_version, archive,
    depend, load, promote,
};
use test_support::TestDb;
use tokio::sync::Barrier;
use tokio_postgres::Client;

const WRITERS: usize = 8;
const ROUNDS: usize = 5;

async fn active_primaries(c: &Client, model: &str) -> Vec<i64> {
    c.query(
        "SELECT id FROM kcg.detection_model_versions \
          WHERE model_id = $1 AND role = 'PRIMARY' AND status = 'ACTIVE' ORDER BY id",
        &[&model],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn draft(model: &str, version: String) -> NewVersion {
    NewVersion {
        model: id(model),
        version: VersionLabel::new(version).unwrap(),
        role: Role::Shadow,
        params: good(),
        activate: false,
        timeout_ms: None,
        implementation: None,
        allow_unknown: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_promotes_and_archives_leave_at_most_one_active_primary() {
    let db = TestDb::new().await;
    let mut setup = db.client().await;
    add_model(&mut setup, &id("m"), None).await.unwrap();
    let catalog = Arc::new(catalog(["m"]));
    for round in 0..ROUNDS {
        let mut ids = Vec::new();
        for w in 0..WRITERS {
            let v = add_version(&mut setup, &catalog, &draft("m", format!("{round}.{w}")))
                .await
                .unwrap();
            ids.push(v.id);
        }
        let current = active_primaries(&setup, "m").await;
        let barrier = Arc::new(Barrier::new(WRITERS + 1));
        let mut tasks = Vec::new();
        for (w, version_id) in ids.iter().copied().enumerate() {
            let mut client = db.client().await;
            let catalog = Arc::clone(&catalog);
            let barrier = Arc::clone(&barrier);
            // Every third writer archives the PRIMARY it saw instead.
            let archives = (w % 3 == 2).then(|| current.first().copied()).flatten();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                match archives {
                    Some(primary) => Err(archive(&mut client, primary).await),
                    None => Ok(promote(&mut client, &catalog, version_id).await),
                }
            }));
        }
        barrier.wait().await;
        let mut promoted = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(Ok(PromoteOutcome::Promoted(p))) => promoted.push(p),
                Ok(other) => panic!("a promote of a DRAFT must promote: {other:?}"),
                Err(Ok(ArchiveOutcome::Archived(_) | ArchiveOutcome::AlreadyArchived(_))) => {}
                Err(Err(e)) => panic!("an archive failed: {}", chain(&e)),
            }
        }
        let now = active_primaries(&setup, "m").await;
        assert_eq!(now.len(), 1, "round {round}: ACTIVE PRIMARYs {now:?}");
        // Each promotion archived the one before it: exactly one promoted
        // version archived nobody's successor, and it is the PRIMARY now.
        let archived: Vec<i64> = promoted
            .iter()
            .filter_map(|p| p.archived.as_ref().map(|(id, _)| *id))
            .collect();
        let last: Vec<i64> = promoted
            .iter()
            .map(|p| p.id)
            .filter(|id| !archived.contains(id))
            .collect();
        assert_eq!(last, now, "round {round}: {promoted:#?}");
        let mut distinct = archived.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            archived.len(),
            "a PRIMARY was archived twice"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_activations_of_a_primary_exactly_one_wins() {
    let db = TestDb::new().await;
    let mut setup = db.client().await;
    // Code for every model: an ACTIVE version needs code in the build.
    let catalog = Arc::new(catalog((0..ROUNDS).map(|round| format!("m{round}"))));
    for round in 0..ROUNDS {
        let model = format!("m{round}");
        add_model(&mut setup, &id(&model), None).await.unwrap();
        let barrier = Arc::new(Barrier::new(WRITERS + 1));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let mut client = db.client().await;
            let (catalog, barrier) = (Arc::clone(&catalog), Arc::clone(&barrier));
            let mut v = draft(&model, format!("1.{w}"));
            v.role = Role::Primary;
            v.activate = true;
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                add_version(&mut client, &catalog, &v).await
            }));
        }
        barrier.wait().await;
        let mut won = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(v) => {
                    assert_eq!(v.status, VersionStatus::Active);
                    won.push(v.id);
                }
                Err(StoreError::SecondActivePrimary {
                    existing: Some(_), ..
                }) => {}
                Err(e) => panic!("not the rule's answer: {}", chain(&e)),
            }
        }
        assert_eq!(won.len(), 1, "round {round}");
        assert_eq!(active_primaries(&setup, &model).await, won);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_depends_never_close_a_cycle() {
    let db = TestDb::new().await;
    let mut setup = db.client().await;
    for round in 0..ROUNDS {
        // A ring: any WRITERS - 1 of its edges are a chain, all of them a
        // cycle. Each writer adds one edge at the same moment.
        let name = |i: usize| format!("r{round}_{}", i % WRITERS);
        for i in 0..WRITERS {
            add_model(&mut setup, &id(&name(i)), None).await.unwrap();
        }
        let barrier = Arc::new(Barrier::new(WRITERS + 1));
        let mut tasks = Vec::new();
        for i in 0..WRITERS {
            let mut client = db.client().await;
            let barrier = Arc::clone(&barrier);
            let edge = Edge {
                model: id(&name(i)),
                upstream: id(&name(i + 1)),
                input_key: InputKey::new("next").unwrap(),
            };
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                depend(&mut client, &edge).await
            }));
        }
        barrier.wait().await;
        let mut refused = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => {}
                Err(StoreError::WouldCloseCycle { cycle, .. }) => refused.push(cycle),
                Err(e) => panic!("not the rule's answer: {}", chain(&e)),
            }
        }
        assert_eq!(refused.len(), 1, "round {round}: {refused:?}");
        assert_eq!(refused[0].len(), WRITERS + 1, "{refused:?}");
        let edges = load(&setup).await.unwrap().edges;
        let prefix = format!("r{round}_");
        let ring = edges
            .iter()
            .filter(|e| e.model_id.starts_with(&prefix))
            .count();
        assert_eq!(ring, WRITERS - 1, "round {round}");
        for i in 0..WRITERS {
            assert_eq!(
                dependency_path(&edges, &name(i), &name(i)),
                None,
                "round {round}: a cycle through {}",
                name(i)
            );
        }
    }
}
