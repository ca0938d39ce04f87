//! The audit trail (V050) and rollback against a real PostgreSQL: every
//! operation's change is recorded in its own transaction under its action,
//! with the ids, the database user and the note; a change made by hand is
//! recorded as `manual` with the old and new row; a rollback restores the
//! PRIMARY its current one replaced and announces itself like a promotion.

mod common;

use std::time::Duration;

use common::*;
use model_api::{InputKey, Role, VersionLabel};
use registry_store::{
    Action, AuditEntry, Edge, NewVersion, Operation, RolledBack, StoreError, add_model,
    add_version, archive, depend, history, noted, promote, rollback, set_enabled, undepend,
};
use test_support::TestDb;
use tokio_postgres::AsyncMessage;

fn new_version(model: &str, version: &str, role: Role, activate: bool) -> NewVersion {
    NewVersion {
        model: id(model),
        version: VersionLabel::new(version).unwrap(),
        role,
        params: good(),
        activate,
        timeout_ms: None,
        implementation: None,
        allow_unknown: false,
    }
}

/// `(action, operation, table, model, version id, note)` of each entry.
type Line = (
    Action,
    Operation,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn lines(entries: &[AuditEntry]) -> Vec<Line> {
    entries
        .iter()
        .map(|e| {
            (
                e.action,
                e.operation,
                e.table.clone(),
                e.model_id.clone(),
                e.version_id,
                e.note.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_change_is_recorded_with_its_action_ids_user_and_note() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let catalog = catalog(["a", "b"]);
    let user: String = c
        .query_one("SELECT session_user::text", &[])
        .await
        .unwrap()
        .get(0);

    add_model(&mut c, &id("a"), None).await.unwrap();
    add_model(&mut c, &id("b"), Some("upstream")).await.unwrap();
    let edge = Edge {
        model: id("a"),
        upstream: id("b"),
        input_key: InputKey::new("in").unwrap(),
    };
    depend(&mut c, &edge).await.unwrap();
    let v1 = add_version(
        &mut c,
        &catalog,
        &new_version("a", "1", Role::Primary, true),
    )
    .await
    .unwrap()
    .id;
    let v2 = add_version(&mut c, &catalog, &new_version("a", "2", Role::Shadow, true))
        .await
        .unwrap()
        .id;
    {
        let mut tx = noted(&mut c, Some("shadow agrees over a day"))
            .await
            .unwrap();
        promote(&mut tx, &catalog, v2).await.unwrap();
        tx.commit().await.unwrap();
    }
    archive(&mut c, v1).await.unwrap();
    set_enabled(&mut c, &id("b"), false).await.unwrap();
    set_enabled(&mut c, &id("b"), true).await.unwrap();
    undepend(&mut c, &edge).await.unwrap();

    // A refused change and one rolled back leave no trace.
    assert!(add_model(&mut c, &id("a"), None).await.is_err());
    {
        let mut tx = noted(&mut c, Some("never mind")).await.unwrap();
        add_model(&mut tx, &id("gone"), None).await.unwrap();
        tx.rollback().await.unwrap();
    }
    // By hand, as in psql: no action named, a note given.
    c.batch_execute(
        "BEGIN;
         SELECT set_config('kcg.audit_note', 'fixing a typo', true);
         UPDATE kcg.detection_models SET description = 'the upstream' WHERE model_id = 'b';
         COMMIT;",
    )
    .await
    .unwrap();

    let all = history(&c, None, 100).await.unwrap();
    let s = |x: &str| Some(x.to_owned());
    let (models, versions, deps) = (
        "detection_models".to_owned(),
        "detection_model_versions".to_owned(),
        "detection_model_dependencies".to_owned(),
    );
    let note = s("shadow agrees over a day");
    assert_eq!(
        lines(&all),
        vec![
            (
                Action::AddModel,
                Operation::Insert,
                models.clone(),
                s("a"),
                None,
                None
            ),
            (
                Action::AddModel,
                Operation::Insert,
                models.clone(),
                s("b"),
                None,
                None
            ),
            (
                Action::Depend,
                Operation::Insert,
                deps.clone(),
                s("a"),
                None,
                None
            ),
            (
                Action::AddVersion,
                Operation::Insert,
                versions.clone(),
                s("a"),
                Some(v1),
                None
            ),
            (
                Action::AddVersion,
                Operation::Insert,
                versions.clone(),
                s("a"),
                Some(v2),
                None
            ),
            // The old PRIMARY archived, then the SHADOW made PRIMARY.
            (
                Action::Promote,
                Operation::Update,
                versions.clone(),
                s("a"),
                Some(v1),
                note.clone()
            ),
            (
                Action::Promote,
                Operation::Update,
                versions.clone(),
                s("a"),
                Some(v2),
                note.clone()
            ),
            // v1 is archived already: nothing changed, nothing recorded.
            (
                Action::Disable,
                Operation::Update,
                models.clone(),
                s("b"),
                None,
                None
            ),
            (
                Action::Enable,
                Operation::Update,
                models.clone(),
                s("b"),
                None,
                None
            ),
            (
                Action::Undepend,
                Operation::Delete,
                deps,
                s("a"),
                None,
                None
            ),
            (
                Action::Manual,
                Operation::Update,
                models,
                s("b"),
                None,
                s("fixing a typo")
            ),
        ]
    );
    assert!(all.iter().all(|e| e.db_user == user), "{all:#?}");
    // The rows of one change share its transaction and time.
    assert_eq!(all[5].txid, all[6].txid);
    assert_eq!(all[5].changed_at, all[6].changed_at);
    assert_ne!(all[4].txid, all[5].txid);

    let summaries: Vec<String> = all.iter().map(AuditEntry::summary).collect();
    assert_eq!(
        summaries,
        vec![
            "added model",
            "added model",
            "depends on b as in",
            "added version 1 (PRIMARY, ACTIVE)",
            "added version 2 (SHADOW, ACTIVE)",
            "version 1: PRIMARY ACTIVE -> PRIMARY ARCHIVED",
            "version 2: SHADOW ACTIVE -> PRIMARY ACTIVE",
            "enabled -> disabled",
            "disabled -> enabled",
            "no longer depends on b as in",
            "description changed",
        ]
    );
    let manual = all.last().unwrap();
    assert_eq!(manual.old_row.as_ref().unwrap()["description"], "upstream");
    assert_eq!(
        manual.new_row.as_ref().unwrap()["description"],
        "the upstream"
    );

    // By model, newest entries only, still oldest first.
    let b = history(&c, Some(&id("b")), 2).await.unwrap();
    assert_eq!(
        b.iter().map(|e| e.action).collect::<Vec<_>>(),
        vec![Action::Enable, Action::Manual]
    );
}

#[tokio::test]
async fn an_operations_name_ends_with_it_and_an_outer_one_wins() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let catalog = catalog(["m"]);
    let mut tx = c.transaction().await.unwrap();
    add_model(&mut tx, &id("m"), None).await.unwrap();
    // Still in the same transaction, by hand: not recorded as add_model.
    tx.batch_execute("UPDATE kcg.detection_models SET description = 'x'")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let v1 = add_version(
        &mut c,
        &catalog,
        &new_version("m", "1", Role::Primary, true),
    )
    .await
    .unwrap()
    .id;
    let v2 = add_version(
        &mut c,
        &catalog,
        &new_version("m", "2", Role::Challenger, true),
    )
    .await
    .unwrap()
    .id;
    promote(&mut c, &catalog, v2).await.unwrap();
    // The rollback promotes v1 again; its rows are the rollback's.
    rollback(&mut c, &catalog, &id("m")).await.unwrap();
    let actions: Vec<(Action, Option<i64>)> = history(&c, None, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.action, e.version_id))
        .collect();
    assert_eq!(
        actions,
        vec![
            (Action::AddModel, None),
            (Action::Manual, None),
            (Action::AddVersion, Some(v1)),
            (Action::AddVersion, Some(v2)),
            (Action::Promote, Some(v1)),
            (Action::Promote, Some(v2)),
            (Action::Rollback, Some(v2)),
            (Action::Rollback, Some(v1)),
        ]
    );
}

#[tokio::test]
async fn a_rollback_restores_the_replaced_primary_and_a_second_one_undoes_it() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let catalog = catalog(["m", "first"]);
    add_model(&mut c, &id("m"), None).await.unwrap();
    assert!(matches!(
        rollback(&mut c, &catalog, &id("m")).await,
        Err(StoreError::NoPrimaryToRollBack { model }) if model == "m"
    ));
    let v1 = add_version(
        &mut c,
        &catalog,
        &new_version("m", "1.0", Role::Primary, true),
    )
    .await
    .unwrap()
    .id;
    let refused = rollback(&mut c, &catalog, &id("m")).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::NothingToRollBack { id, .. } if *id == v1),
        "{refused}"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "model m's ACTIVE PRIMARY, version 1.0 (id {v1}), did not replace a previous PRIMARY, \
             so there is none to restore; nothing was changed"
        )
    );
    assert!(matches!(
        rollback(&mut c, &catalog, &id("ghost")).await,
        Err(StoreError::UnknownModel { model }) if model == "ghost"
    ));
    let v2 = add_version(
        &mut c,
        &catalog,
        &new_version("m", "2.0", Role::Shadow, true),
    )
    .await
    .unwrap()
    .id;
    // A SHADOW archived later is not what the promotion replaced.
    let v3 = add_version(
        &mut c,
        &catalog,
        &new_version("m", "3.0", Role::Shadow, true),
    )
    .await
    .unwrap()
    .id;
    promote(&mut c, &catalog, v2).await.unwrap();
    archive(&mut c, v3).await.unwrap();

    let (listener, mut connection) = db.config().connect(tokio_postgres::NoTls).await.unwrap();
    let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    listener
        .batch_execute("LISTEN kcg_model_registry")
        .await
        .unwrap();

    let back = rollback(&mut c, &catalog, &id("m")).await.unwrap();
    assert_eq!(
        back,
        RolledBack {
            model: "m".into(),
            restored: (v1, "1.0".into()),
            archived: (v2, "2.0".into()),
        }
    );
    assert_eq!(status(&c, v1).await, ("PRIMARY".into(), "ACTIVE".into()));
    assert_eq!(status(&c, v2).await, ("PRIMARY".into(), "ARCHIVED".into()));
    assert_eq!(status(&c, v3).await, ("SHADOW".into(), "ARCHIVED".into()));
    let payload = tokio::time::timeout(Duration::from_secs(30), notes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payload, "detection_model_versions");

    // The rollback replaced v2: rolling back again restores it.
    let again = rollback(&mut c, &catalog, &id("m")).await.unwrap();
    assert_eq!(again.restored, (v2, "2.0".into()));
    assert_eq!(again.archived, (v1, "1.0".into()));

    // Inside a caller's transaction it is one change: rolled back, nothing.
    let mut tx = c.transaction().await.unwrap();
    rollback(&mut tx, &catalog, &id("m")).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(status(&c, v2).await, ("PRIMARY".into(), "ACTIVE".into()));
    // A previous PRIMARY whose params the code now refuses stays archived.
    c.execute(
        "UPDATE kcg.detection_model_versions SET params = '{}' WHERE id = $1",
        &[&v1],
    )
    .await
    .unwrap();
    assert!(matches!(
        rollback(&mut c, &catalog, &id("m")).await,
        Err(StoreError::ParamsRefused { .. })
    ));
    assert_eq!(status(&c, v2).await, ("PRIMARY".into(), "ACTIVE".into()));
}
