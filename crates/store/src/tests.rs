//! Store behaviour against a real SQLite file.
#![allow(clippy::cloned_ref_to_slice_refs)]

use linkplane_model::{ID_RANDOM_BYTES, Name, Organization, ResourceId, ResourceKind, Role};
use serde_json::json;

use crate::*;

fn rid(kind: ResourceKind, n: u8) -> ResourceId {
    ResourceId::generate(kind, [n; ID_RANDOM_BYTES])
}

fn now() -> Timestamp {
    Utc::now()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    org: ResourceId,
    other: ResourceId,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let org = rid(ResourceKind::Organization, 1);
    let other = rid(ResourceKind::Organization, 2);
    for id in [&org, &other] {
        store
            .create_organization(&Organization {
                id: id.clone(),
                name: Name::parse("acme").unwrap(),
                created_at: now(),
            })
            .await
            .unwrap();
    }
    Fixture {
        _dir: dir,
        store,
        org,
        other,
    }
}

fn new_doc(
    kind: ResourceKind,
    n: u8,
    org: &ResourceId,
    parent: Option<&ResourceId>,
) -> NewDocument {
    NewDocument {
        kind,
        id: rid(kind, n),
        org_id: org.clone(),
        parent_id: parent.cloned(),
        unique_key: None,
        system: false,
        spec: json!({"name": format!("n{n}")}),
        status: json!({"status": "PENDING"}),
        secret: None,
        created_at: now(),
    }
}

#[tokio::test]
async fn create_get_and_other_organization_is_not_found() {
    let f = fixture().await;
    let d = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    let created = f
        .store
        .create_documents(&[d.clone()], None, None)
        .await
        .unwrap();
    assert_eq!(created[0].generation, 1);
    assert_eq!(created[0].observed_generation, 0);
    let got = f
        .store
        .get_document(ResourceKind::Cluster, &f.org, &d.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.spec, d.spec);
    assert_eq!(got, created[0].clone());
    assert_eq!(got.etag(), format!("\"{}-g1\"", d.id));
    assert!(
        f.store
            .get_document(ResourceKind::Cluster, &f.other, &d.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.store
            .get_document(ResourceKind::Deployment, &f.org, &d.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn conditional_update_bumps_generation_and_rejects_stale_etags() {
    let f = fixture().await;
    let d = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    f.store
        .create_documents(&[d.clone()], None, None)
        .await
        .unwrap();
    let u = f
        .store
        .update_document(
            ResourceKind::Cluster,
            &f.org,
            &d.id,
            Some(1),
            &json!({"name":"x"}),
            None,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(u.generation, 2);
    assert_eq!(u.status, d.status, "status untouched when not given");
    let stale = f
        .store
        .update_document(
            ResourceKind::Cluster,
            &f.org,
            &d.id,
            Some(1),
            &json!({"name":"y"}),
            None,
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::PreconditionFailed { current: 2 }),
        "{stale:?}"
    );
    let other = f
        .store
        .update_document(
            ResourceKind::Cluster,
            &f.other,
            &d.id,
            None,
            &json!({}),
            None,
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(other, StoreError::NotFound { .. }));
    assert_eq!(
        parse_if_match(&u.etag(), &d.id),
        Some(IfMatch::Generation(2))
    );
    assert_eq!(parse_if_match("*", &d.id), Some(IfMatch::Any));
    assert_eq!(parse_if_match("garbage", &d.id), None);
    assert_eq!(
        parse_if_match("\"othr-g2\"", &d.id),
        Some(IfMatch::Generation(-1))
    );
}

#[tokio::test]
async fn status_writes_record_observed_generation_without_bumping_generation() {
    let f = fixture().await;
    let d = new_doc(ResourceKind::VpcPeeringConnection, 1, &f.org, None);
    f.store
        .create_documents(&[d.clone()], None, None)
        .await
        .unwrap();
    let pending = f
        .store
        .list_unobserved(ResourceKind::VpcPeeringConnection)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    let w = f
        .store
        .write_status(&d.id, &json!({"status":"PENDING_ACTIVATION"}), 1, now())
        .await
        .unwrap();
    assert_eq!((w.generation, w.observed_generation), (1, 1));
    assert!(
        f.store
            .list_unobserved(ResourceKind::VpcPeeringConnection)
            .await
            .unwrap()
            .is_empty()
    );
    let e = f
        .store
        .write_status(&d.id, &json!({}), 5, now())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
    assert_eq!(
        f.store
            .list_kind(ResourceKind::VpcPeeringConnection)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn pagination_with_opaque_cursors() {
    let f = fixture().await;
    let docs: Vec<NewDocument> = (1..=7)
        .map(|n| new_doc(ResourceKind::Cluster, n, &f.org, None))
        .collect();
    f.store.create_documents(&docs, None, None).await.unwrap();
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let page = PageRequest::parse(Some(3), cursor.as_deref()).unwrap();
        let p = f
            .store
            .list_documents(ResourceKind::Cluster, &f.org, None, &page)
            .await
            .unwrap();
        assert!(p.items.len() <= 3);
        seen.extend(p.items.into_iter().map(|d| d.id));
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, docs.iter().map(|d| d.id.clone()).collect::<Vec<_>>());
    let other = f
        .store
        .list_documents(
            ResourceKind::Cluster,
            &f.other,
            None,
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(other.items.is_empty());
    assert_eq!(PageRequest::parse(Some(0), None).unwrap_err().0, "limit");
    assert_eq!(PageRequest::parse(Some(501), None).unwrap_err().0, "limit");
    assert_eq!(
        PageRequest::parse(None, Some("bm9wZQ")).unwrap_err().0,
        "cursor"
    );
    assert_eq!(
        PageRequest::parse(None, Some("' OR 1=1 --")).unwrap_err().0,
        "cursor"
    );
}

#[tokio::test]
async fn parent_guard_and_child_version() {
    let f = fixture().await;
    let cl = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    f.store
        .create_documents(&[cl.clone()], None, None)
        .await
        .unwrap();
    let guard = |v| ParentGuard {
        kind: ResourceKind::Cluster,
        id: cl.id.clone(),
        child_version: v,
    };
    let a = new_doc(ResourceKind::VpcPeeringConnection, 1, &f.org, Some(&cl.id));
    f.store
        .create_documents(&[a], Some(&guard(Some(0))), None)
        .await
        .unwrap();
    // A second writer that validated against child_version 0 must re-validate.
    let b = new_doc(ResourceKind::VpcPeeringConnection, 2, &f.org, Some(&cl.id));
    let e = f
        .store
        .create_documents(&[b.clone()], Some(&guard(Some(0))), None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    f.store
        .create_documents(&[b], Some(&guard(Some(1))), None)
        .await
        .unwrap();
    // The parent must be in the same organization.
    let c = new_doc(
        ResourceKind::VpcPeeringConnection,
        3,
        &f.other,
        Some(&cl.id),
    );
    let e = f
        .store
        .create_documents(&[c], Some(&guard(None)), None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    assert_eq!(
        f.store.list_children(&f.org, &cl.id).await.unwrap().len(),
        2
    );
    // By kind: only those kinds, in creation order; another organization sees none.
    let r = new_doc(ResourceKind::Route, 4, &f.org, Some(&cl.id));
    f.store
        .create_documents(&[r.clone()], Some(&guard(None)), None)
        .await
        .unwrap();
    let kinds = [ResourceKind::Route, ResourceKind::VpcPeeringConnection];
    let got: Vec<ResourceKind> = f
        .store
        .list_children_of_kinds(&f.org, &cl.id, &kinds)
        .await
        .unwrap()
        .iter()
        .map(|d| d.kind)
        .collect();
    assert_eq!(
        got,
        [
            ResourceKind::VpcPeeringConnection,
            ResourceKind::VpcPeeringConnection,
            ResourceKind::Route
        ]
    );
    let routes = f
        .store
        .list_children_of_kinds(&f.org, &cl.id, &[ResourceKind::Route])
        .await
        .unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].id, r.id);
    assert!(
        f.store
            .list_children_of_kinds(&f.other, &cl.id, &kinds)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn unique_keys_and_atomic_multi_create() {
    let f = fixture().await;
    let mut a = new_doc(ResourceKind::PrivateLink, 1, &f.org, None);
    a.unique_key = Some("cl1".into());
    let mut b = new_doc(ResourceKind::PrivateLink, 2, &f.org, None);
    b.unique_key = Some("cl1".into());
    f.store.create_documents(&[a], None, None).await.unwrap();
    let c = new_doc(ResourceKind::Route, 9, &f.org, None);
    let e = f
        .store
        .create_documents(&[c.clone(), b], None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists(_)), "{e:?}");
    // The whole batch rolled back.
    assert!(
        f.store
            .get_document(ResourceKind::Route, &f.org, &c.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn delete_blocks_on_children_cascades_system_ones_and_honours_finalizers() {
    let f = fixture().await;
    let cl = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    let mut sys = new_doc(ResourceKind::OutboundEndpoint, 1, &f.org, Some(&cl.id));
    sys.system = true;
    let dep = new_doc(ResourceKind::Deployment, 1, &f.org, Some(&cl.id));
    f.store
        .create_documents(&[cl.clone(), sys.clone(), dep.clone()], None, None)
        .await
        .unwrap();
    let blocking = [ResourceKind::Deployment, ResourceKind::OutboundEndpoint];
    let e = f
        .store
        .delete_document(
            ResourceKind::Cluster,
            &f.org,
            &cl.id,
            None,
            &blocking,
            now(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1 deployment(s)"), "{e}");
    assert!(
        !e.to_string().contains("outbound"),
        "system children do not block: {e}"
    );
    let e = f
        .store
        .delete_document(
            ResourceKind::Deployment,
            &f.org,
            &dep.id,
            Some(7),
            &[],
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::PreconditionFailed { .. }));
    assert_eq!(
        f.store
            .delete_document(
                ResourceKind::Deployment,
                &f.org,
                &dep.id,
                Some(1),
                &[],
                now()
            )
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    // With a finalizer the cluster is only marked, and its system child is cascaded.
    f.store.add_finalizer(&cl.id, "localcloud").await.unwrap();
    let out = f
        .store
        .delete_document(
            ResourceKind::Cluster,
            &f.org,
            &cl.id,
            None,
            &blocking,
            now(),
        )
        .await
        .unwrap();
    let DeleteOutcome::Marked(m) = out else {
        panic!("expected marked")
    };
    assert!(m.deletion_requested_at.is_some());
    assert_eq!(m.generation, 2);
    assert!(f.store.get_document_by_id(&sys.id).await.unwrap().is_none());
    let e = f
        .store
        .update_document(
            ResourceKind::Cluster,
            &f.org,
            &cl.id,
            None,
            &json!({}),
            None,
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
    assert!(
        f.store
            .remove_finalizer(&cl.id, "localcloud")
            .await
            .unwrap()
            .is_none()
    );
    assert!(f.store.get_document_by_id(&cl.id).await.unwrap().is_none());
}

fn token(f: &Fixture, n: u8, scope: Option<&ResourceId>, secret: &str) -> NewToken {
    NewToken {
        id: rid(ResourceKind::AgentToken, n),
        kind: TokenKind::Agent,
        org_id: f.org.clone(),
        scope_id: scope.cloned(),
        name: format!("t{n}"),
        role: None,
        token_hash: hash_token(secret),
        created_at: now(),
    }
}

#[tokio::test]
async fn tokens_are_found_by_hash_limited_and_revoked() {
    let f = fixture().await;
    let dep = rid(ResourceKind::Deployment, 1);
    for n in 0..3 {
        f.store
            .create_token(
                &token(&f, n, Some(&dep), &format!("secret{n}")),
                Some(3),
                None,
            )
            .await
            .unwrap();
    }
    let e = f
        .store
        .create_token(&token(&f, 9, Some(&dep), "secret9"), Some(3), None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::LimitReached(_)));
    let found = f
        .store
        .token_by_hash(&hash_token("secret1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, rid(ResourceKind::AgentToken, 1));
    assert!(
        f.store
            .token_by_hash(&hash_token("nope"))
            .await
            .unwrap()
            .is_none()
    );
    let r = f
        .store
        .revoke_token(&f.org, TokenKind::Agent, &found.id, now())
        .await
        .unwrap();
    let first = r.revoked_at.unwrap();
    let again = f
        .store
        .revoke_token(&f.org, TokenKind::Agent, &found.id, now())
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(first), "revocation time is kept");
    // A revoked token frees a slot.
    f.store
        .create_token(&token(&f, 9, Some(&dep), "secret9"), Some(3), None)
        .await
        .unwrap();
    let e = f
        .store
        .revoke_token(&f.other, TokenKind::Agent, &found.id, now())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }));
    let api = NewToken {
        id: rid(ResourceKind::ApiToken, 1),
        kind: TokenKind::Api,
        role: Some(Role::OrganizationOwner),
        ..token(&f, 50, None, "owner")
    };
    f.store.create_token(&api, None, None).await.unwrap();
    let listed = f
        .store
        .list_tokens(
            &f.org,
            TokenKind::Agent,
            Some(&dep),
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 4);
    let t = f
        .store
        .token_by_hash(&hash_token("owner"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.role, Some(Role::OrganizationOwner));
    f.store.touch_token(&t.id, now()).await.unwrap();
    let t = f
        .store
        .get_token(&f.org, TokenKind::Api, &t.id)
        .await
        .unwrap()
        .unwrap();
    assert!(t.last_used_at.is_some());
}

#[tokio::test]
async fn idempotency_record_commits_with_the_create_and_only_once() {
    let f = fixture().await;
    let rec = IdempotencyRecord {
        org_id: f.org.clone(),
        route: "POST /clusters".into(),
        key: "k1".into(),
        request_hash: hash_body(b"{}"),
        status: 201,
        body: "{\"id\":1}".into(),
        created_at: now(),
    };
    let a = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    f.store
        .create_documents(&[a], None, Some(&rec))
        .await
        .unwrap();
    let b = new_doc(ResourceKind::Cluster, 2, &f.org, None);
    let e = f
        .store
        .create_documents(&[b.clone()], None, Some(&rec))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::IdempotencyKeyTaken), "{e:?}");
    assert!(
        f.store.get_document_by_id(&b.id).await.unwrap().is_none(),
        "rolled back"
    );
    let got = f
        .store
        .get_idempotency(&f.org, "POST /clusters", "k1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.body, rec.body);
    assert!(
        f.store
            .get_idempotency(&f.other, "POST /clusters", "k1")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn idempotency_records_expire_after_24_hours() {
    let f = fixture().await;
    let rec = |key: &str, age: chrono::TimeDelta| IdempotencyRecord {
        org_id: f.org.clone(),
        route: "POST /clusters".into(),
        key: key.into(),
        request_hash: hash_body(b"{}"),
        status: 201,
        body: format!("{{\"key\":\"{key}\"}}"),
        created_at: now() - age,
    };
    let day = IDEMPOTENCY_TTL;
    assert_eq!(day, chrono::TimeDelta::hours(24));
    let old = rec("k-old", day + chrono::TimeDelta::minutes(1));
    let fresh = rec("k-fresh", day - chrono::TimeDelta::minutes(1));
    for (n, r) in [(1, &old), (2, &fresh)] {
        let d = new_doc(ResourceKind::Cluster, n, &f.org, None);
        f.store.create_documents(&[d], None, Some(r)).await.unwrap();
    }
    let get = |key: &'static str| f.store.get_idempotency(&f.org, "POST /clusters", key);
    assert!(
        get("k-old").await.unwrap().is_none(),
        "over 24 h: forgotten"
    );
    assert_eq!(get("k-fresh").await.unwrap().unwrap().body, fresh.body);
    // The expired key creates again (a remembered one would be IdempotencyKeyTaken), and the
    // new record is the one replayed.
    let again = rec("k-old", chrono::TimeDelta::zero());
    let d = new_doc(ResourceKind::Cluster, 3, &f.org, None);
    f.store
        .create_documents(&[d], None, Some(&again))
        .await
        .unwrap();
    assert_eq!(
        get("k-old").await.unwrap().unwrap().created_at,
        again.created_at.trunc_subsecs(6)
    );
    // Expired rows are purged, not only hidden: one row per key, none older than a day.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, created_at FROM idempotency_keys ORDER BY key")
            .fetch_all(&f.store.pool)
            .await
            .unwrap();
    assert_eq!(
        rows.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["k-fresh", "k-old"]
    );
    assert!(
        rows.iter()
            .all(|(_, t)| parse_time(t).unwrap() > now() - day)
    );
    // A remembered key is still refused.
    let d = new_doc(ResourceKind::Cluster, 4, &f.org, None);
    let e = f
        .store
        .create_documents(&[d], None, Some(&rec("k-fresh", chrono::TimeDelta::zero())))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::IdempotencyKeyTaken), "{e:?}");
}

#[tokio::test]
async fn data_survives_reopen_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let org = rid(ResourceKind::Organization, 1);
    {
        let s = SqliteStore::open(dir.path()).await.unwrap();
        s.create_organization(&Organization {
            id: org.clone(),
            name: Name::parse("acme").unwrap(),
            created_at: now(),
        })
        .await
        .unwrap();
        s.close().await;
    }
    let s = SqliteStore::open(dir.path()).await.unwrap();
    assert!(s.get_organization(&org).await.unwrap().is_some());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(dir.path().join(sqlite::DB_FILE).exists());
}

#[tokio::test]
async fn deleting_a_connection_takes_its_routes_in_the_same_transaction() {
    // Issue 7: routes are "removed with their connection".
    let f = fixture().await;
    let cl = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    f.store
        .create_documents(&[cl.clone()], None, None)
        .await
        .unwrap();
    let pcx = new_doc(ResourceKind::VpcPeeringConnection, 1, &f.org, Some(&cl.id));
    let other_pcx = new_doc(ResourceKind::VpcPeeringConnection, 2, &f.org, Some(&cl.id));
    let route = |n: u8, target: &ResourceId| NewDocument {
        spec: json!({"name": format!("r{n}"), "destinationCidr": "10.9.0.0/24",
                     "targetId": target.as_str()}),
        ..new_doc(ResourceKind::Route, n, &f.org, Some(&cl.id))
    };
    let (r1, r2, r3) = (
        route(1, &pcx.id),
        route(2, &pcx.id),
        route(3, &other_pcx.id),
    );
    f.store
        .create_documents(
            &[
                pcx.clone(),
                other_pcx.clone(),
                r1.clone(),
                r2.clone(),
                r3.clone(),
            ],
            None,
            None,
        )
        .await
        .unwrap();
    // r2 is held by its reconciler: marked, not purged.
    f.store.add_finalizer(&r2.id, "local-route").await.unwrap();
    let out = f
        .store
        .delete_document(
            ResourceKind::VpcPeeringConnection,
            &f.org,
            &pcx.id,
            None,
            &[],
            now(),
        )
        .await
        .unwrap();
    assert!(matches!(out, DeleteOutcome::Deleted), "{out:?}");
    assert!(f.store.get_document_by_id(&r1.id).await.unwrap().is_none());
    let held = f.store.get_document_by_id(&r2.id).await.unwrap().unwrap();
    assert!(held.deletion_requested_at.is_some());
    // A route through another connection is untouched.
    let kept = f.store.get_document_by_id(&r3.id).await.unwrap().unwrap();
    assert!(kept.deletion_requested_at.is_none());
}

#[tokio::test]
async fn watchers_see_each_change_once_and_are_woken_by_writes() {
    let f = fixture().await;
    let mut woken = f.store.subscribe();
    let k = ResourceKind::Cluster;
    let (a, b) = (new_doc(k, 1, &f.org, None), new_doc(k, 2, &f.org, None));
    f.store
        .create_documents(&[a.clone(), b.clone()], None, None)
        .await
        .unwrap();
    assert!(woken.has_changed().unwrap(), "a create wakes watchers");
    woken.borrow_and_update();
    let (docs, rev) = f.store.list_changed_unobserved(k, -1).await.unwrap();
    let ids: Vec<_> = docs.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids, [a.id.clone(), b.id.clone()]);
    // Nothing changed since: nothing, although both are still unobserved.
    let (docs, same) = f.store.list_changed_unobserved(k, rev).await.unwrap();
    assert!(docs.is_empty());
    assert_eq!(same, rev);
    // Observing one does not make it "changed"; a client's update does.
    f.store
        .write_status(&a.id, &json!({"status": "CREATED"}), 1, now())
        .await
        .unwrap();
    assert!(
        !woken.has_changed().unwrap(),
        "a status write is not a client change"
    );
    f.store
        .update_document(k, &f.org, &b.id, None, &json!({"name": "b2"}), None, now())
        .await
        .unwrap();
    assert!(woken.has_changed().unwrap());
    let (docs, rev2) = f.store.list_changed_unobserved(k, rev).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!((docs[0].id.clone(), docs[0].generation), (b.id.clone(), 2));
    assert!(rev2 > rev);
    // A deletion request of an observed, finalized document is a change too.
    f.store.add_finalizer(&a.id, "x").await.unwrap();
    f.store
        .delete_document(k, &f.org, &a.id, None, &[], now())
        .await
        .unwrap();
    let (docs, _) = f.store.list_changed_unobserved(k, rev2).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].id, a.id);
    assert!(docs[0].deletion_requested_at.is_some());
}

async fn child_version(f: &Fixture, id: &ResourceId) -> i64 {
    f.store
        .get_document_by_id(id)
        .await
        .unwrap()
        .unwrap()
        .child_version
}

#[tokio::test]
async fn a_childs_update_or_deletion_moves_the_parents_child_version() {
    let f = fixture().await;
    let cl = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    f.store
        .create_documents(&[cl.clone()], None, None)
        .await
        .unwrap();
    let a = new_doc(
        ResourceKind::TransitGatewayAttachment,
        1,
        &f.org,
        Some(&cl.id),
    );
    f.store
        .create_documents(
            &[a.clone()],
            Some(&ParentGuard {
                kind: ResourceKind::Cluster,
                id: cl.id.clone(),
                child_version: None,
            }),
            None,
        )
        .await
        .unwrap();
    let v1 = child_version(&f, &cl.id).await;
    f.store
        .update_document(
            a.kind,
            &f.org,
            &a.id,
            None,
            &json!({"name": "a2"}),
            None,
            now(),
        )
        .await
        .unwrap();
    let v2 = child_version(&f, &cl.id).await;
    assert!(v2 > v1, "{v1} -> {v2}");
    f.store
        .delete_document(a.kind, &f.org, &a.id, None, &[], now())
        .await
        .unwrap();
    assert!(child_version(&f, &cl.id).await > v2);
}

#[tokio::test]
async fn a_status_is_written_only_for_the_generation_read() {
    // A client's change since the read (here a decision kept in the status, as an accepted
    // endpoint connection is) must not be written over by a reconciler's older view.
    let f = fixture().await;
    let d = new_doc(ResourceKind::EndpointConnection, 1, &f.org, None);
    f.store
        .create_documents(&[d.clone()], None, None)
        .await
        .unwrap();
    let read = f.store.get_document_by_id(&d.id).await.unwrap().unwrap();
    f.store
        .update_document(
            d.kind,
            &f.org,
            &d.id,
            None,
            &d.spec,
            Some(&json!({"status": "AVAILABLE"})),
            now(),
        )
        .await
        .unwrap();
    let e = f
        .store
        .write_status(&d.id, &json!({"status": "PENDING"}), read.generation, now())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    let now_doc = f.store.get_document_by_id(&d.id).await.unwrap().unwrap();
    assert_eq!(now_doc.status, json!({"status": "AVAILABLE"}));
    f.store
        .write_status(
            &d.id,
            &json!({"status": "AVAILABLE"}),
            now_doc.generation,
            now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_kinds_watchers_are_woken_by_creates_of_that_kind_and_by_every_update() {
    let f = fixture().await;
    let mut routes = f.store.subscribe_kind(ResourceKind::Route);
    let mut clusters = f.store.subscribe_kind(ResourceKind::Cluster);
    let c = new_doc(ResourceKind::Cluster, 1, &f.org, None);
    f.store
        .create_documents(std::slice::from_ref(&c), None, None)
        .await
        .unwrap();
    assert!(
        clusters.has_changed().unwrap(),
        "a cluster create wakes the cluster watcher"
    );
    assert!(
        !routes.has_changed().unwrap(),
        "a cluster create does not wake the route watcher"
    );
    clusters.borrow_and_update();
    let r = new_doc(ResourceKind::Route, 1, &f.org, Some(&c.id));
    f.store
        .create_documents(std::slice::from_ref(&r), None, None)
        .await
        .unwrap();
    assert!(
        routes.has_changed().unwrap(),
        "a route create wakes the route watcher"
    );
    assert!(!clusters.has_changed().unwrap());
    routes.borrow_and_update();
    // An update may reach dependents of other kinds in its transaction: every kind wakes.
    f.store
        .update_document(
            ResourceKind::Cluster,
            &f.org,
            &c.id,
            None,
            &json!({"name": "c2"}),
            None,
            now(),
        )
        .await
        .unwrap();
    assert!(clusters.has_changed().unwrap());
    assert!(routes.has_changed().unwrap());
}

// --------------------------------------------------------------------------- secrets at rest

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

async fn vpn_with_secret(f: &Fixture, n: u8, secret: &str) -> ResourceId {
    let mut d = new_doc(ResourceKind::VpnConnection, n, &f.org, None);
    d.secret = Some(SecretString::from(secret));
    f.store
        .create_documents(&[d.clone()], None, None)
        .await
        .unwrap();
    d.id
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_read_back_in_plaintext() {
    const PSK: &str = "Distinctive_psk_at_rest_4242";
    let f = fixture().await;
    let id = vpn_with_secret(&f, 1, PSK).await;
    let got = f.store.get_secret(&f.org, &id).await.unwrap().unwrap();
    assert_eq!(got.expose_secret(), PSK);
    assert!(!format!("{got:?}").contains(PSK));
    assert!(f.store.get_secret(&f.other, &id).await.unwrap().is_none());
    let stored: String = sqlx::query_scalar("SELECT secret FROM documents WHERE id = ?")
        .bind(id.as_str())
        .fetch_one(&f.store.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("v1."), "{stored}");
    let dir = f._dir.path();
    assert!(files_containing(dir, PSK).is_empty(), "while open");
    f.store.close().await;
    assert!(files_containing(dir, PSK).is_empty(), "after close");
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(&dir.join(SECRETS_KEY_FILE)), 0o600);
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(DB_FILE)
        {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_does_not_decrypt() {
    const PSK: &str = "Moved_psk_123456";
    let f = fixture().await;
    let a = vpn_with_secret(&f, 1, PSK).await;
    let b = vpn_with_secret(&f, 2, "Other_psk_654321").await;
    sqlx::query(
        "UPDATE documents SET secret = (SELECT secret FROM documents WHERE id = ?) WHERE id = ?",
    )
    .bind(a.as_str())
    .bind(b.as_str())
    .execute(&f.store.pool)
    .await
    .unwrap();
    let err = f.store.get_secret(&f.org, &b).await.unwrap_err();
    assert!(matches!(err, StoreError::Secret(_)), "{err:?}");
    assert!(!err.to_string().contains(PSK));
    assert!(!format!("{err:?}").contains(PSK));
}

#[tokio::test]
async fn a_missing_key_file_with_sealed_secrets_is_a_startup_error() {
    let f = fixture().await;
    vpn_with_secret(&f, 1, "Some_psk_1234567").await;
    f.store.close().await;
    let dir = f._dir.path();
    std::fs::remove_file(dir.join(SECRETS_KEY_FILE)).unwrap();
    let err = SqliteStore::open(dir).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SecretsKey(SecretsKeyError::Missing { rows: 1, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("secrets.key"), "{err}");
    assert!(
        !dir.join(SECRETS_KEY_FILE).exists(),
        "never a silent new key"
    );
    // A wrong key is refused when reading, never silently accepted.
    SecretsKey::create(&dir.join(SECRETS_KEY_FILE)).unwrap();
    let s = SqliteStore::open(dir).await.unwrap();
    let id = rid(ResourceKind::VpnConnection, 1);
    assert!(matches!(
        s.get_secret(&f.org, &id).await,
        Err(StoreError::Secret(_))
    ));
}

#[tokio::test]
async fn plaintext_secrets_of_an_older_database_are_sealed_on_first_start() {
    const PSK: &str = "Legacy_plaintext_psk_77";
    let f = fixture().await;
    let d = new_doc(ResourceKind::VpnConnection, 1, &f.org, None);
    f.store
        .create_documents(&[d.clone()], None, None)
        .await
        .unwrap();
    f.store.close().await;
    let dir = f._dir.path();
    // What an older version left: the secret in plaintext, no key file.
    std::fs::remove_file(dir.join(SECRETS_KEY_FILE)).unwrap();
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join(DB_FILE));
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        sqlx::query("UPDATE documents SET secret = ?, secret_version = 0 WHERE id = ?")
            .bind(PSK)
            .bind(d.id.as_str())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    assert!(
        !files_containing(dir, PSK).is_empty(),
        "the old database holds it"
    );
    let s = SqliteStore::open(dir).await.unwrap();
    assert_eq!(
        s.get_secret(&f.org, &d.id)
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        PSK
    );
    s.close().await;
    assert!(
        files_containing(dir, PSK).is_empty(),
        "{:?}",
        files_containing(dir, PSK)
    );
    let s = SqliteStore::open(dir).await.unwrap();
    assert_eq!(
        s.get_secret(&f.org, &d.id)
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        PSK
    );
}
