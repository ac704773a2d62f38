//! The fake Kubernetes API server's custom resources, Leases and Events answer kube's
//! own client as the real server does: create/get/list/watch/patch/delete, the
//! `status` subresource (a CRD's `subresources: {status: {}}`), `generation` bumped by
//! spec changes only, `resourceVersion` preconditions (409 Conflict). ModelPipeline
//! resources, leader election and Kubernetes Events (issue 16) are tested against it,
//! so it is held to the API server's semantics here first.

mod common;

use common::fake_kube::FakeKube;
use futures_util::StreamExt as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

const NS: &str = "ml";

async fn client(fake: &FakeKube) -> kube::Client {
    let dir = tempfile::tempdir().expect("tempdir");
    fake.write_kubeconfig(&dir.path().join("kc"), NS);
    let kc = kube::config::Kubeconfig::read_from(dir.path().join("kc")).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

fn pipelines(client: kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("sluice.dev", "v1alpha1", "ModelPipeline");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "modelpipelines");
    Api::namespaced_with(client, NS, &resource)
}

fn pipeline(name: &str, interval: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1",
        "kind": "ModelPipeline",
        "metadata": { "name": name, "labels": { "team": "fraud" } },
        "spec": { "interval": interval },
        "status": { "phase": "set-by-the-client" },
    }))
    .expect("object")
}

fn generation(o: &DynamicObject) -> Option<i64> {
    o.metadata.generation
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_resources_keep_generation_and_the_status_subresource_as_the_api_server_does() {
    let fake = FakeKube::start().await;
    fake.serve_status("sluice.dev/v1alpha1", "modelpipelines");
    let api = pipelines(client(&fake).await);

    // Create: server metadata set, status dropped (it has its own subresource).
    let created = api
        .create(&PostParams::default(), &pipeline("fraud", "30s"))
        .await
        .expect("create");
    assert_eq!(generation(&created), Some(1));
    assert!(created.metadata.uid.is_some());
    assert!(created.data.get("status").is_none(), "{:?}", created.data);
    let again = api
        .create(&PostParams::default(), &pipeline("fraud", "30s"))
        .await
        .expect_err("exists");
    assert!(
        matches!(&again, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{again:?}"
    );

    // A status write changes status only: no new generation, spec untouched.
    let status = api
        .patch_status(
            "fraud",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "interval": "1h" }, "status": { "phase": "Idle", "observedGeneration": 1 } })),
        )
        .await
        .expect("status");
    assert_eq!(generation(&status), Some(1));
    assert_eq!(status.data["spec"]["interval"], "30s");
    assert_eq!(status.data["status"]["phase"], "Idle");

    // A spec change bumps generation; status in an object write is ignored.
    let edited = api
        .patch(
            "fraud",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "interval": "5m" }, "status": { "phase": "Hacked" } })),
        )
        .await
        .expect("patch");
    assert_eq!(generation(&edited), Some(2));
    assert_eq!(edited.data["spec"]["interval"], "5m");
    assert_eq!(edited.data["status"]["phase"], "Idle");
    // A label change is no spec change.
    let labelled = api
        .patch(
            "fraud",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "tier": "gold" } } })),
        )
        .await
        .expect("labels");
    assert_eq!(generation(&labelled), Some(2));

    // A stale resourceVersion is a conflict.
    let mut stale = created.clone();
    stale.data["spec"]["interval"] = json!("2m");
    let conflict = api
        .replace("fraud", &PostParams::default(), &stale)
        .await
        .expect_err("stale");
    assert!(
        matches!(&conflict, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"),
        "{conflict:?}"
    );

    // List with a selector; get; delete; 404 after.
    api.create(&PostParams::default(), &pipeline("churn", "1m"))
        .await
        .expect("create");
    let all = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(all.items.len(), 2);
    assert!(all.metadata.resource_version.is_some());
    let gold = api
        .list(&ListParams::default().labels("tier=gold"))
        .await
        .expect("list");
    let names: Vec<_> = gold
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    assert_eq!(names, ["fraud"]);
    api.delete("churn", &DeleteParams::default())
        .await
        .expect("delete");
    let gone = api.get("churn").await.expect_err("deleted");
    assert!(
        matches!(&gone, kube::Error::Api(s) if s.code == 404),
        "{gone:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_on_custom_resources_sees_them_added_modified_and_deleted() {
    let fake = FakeKube::start().await;
    fake.serve_status("sluice.dev/v1alpha1", "modelpipelines");
    let api = pipelines(client(&fake).await);
    api.create(&PostParams::default(), &pipeline("fraud", "30s"))
        .await
        .expect("create");
    let mut events = api
        .watch(&WatchParams::default().timeout(10), "0")
        .await
        .expect("watch")
        .boxed();
    let next = async |events: &mut futures_util::stream::BoxStream<'_, _>| match events.next().await
    {
        Some(Ok(e)) => e,
        other => panic!("watch ended: {other:?}"),
    };
    let seen = next(&mut events).await;
    assert!(
        matches!(&seen, WatchEvent::Added(o) if o.metadata.name.as_deref() == Some("fraud")),
        "{seen:?}"
    );
    api.patch(
        "fraud",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "interval": "5m" } })),
    )
    .await
    .expect("patch");
    let seen = next(&mut events).await;
    assert!(
        matches!(&seen, WatchEvent::Modified(o) if o.data["spec"]["interval"] == "5m" && o.metadata.generation == Some(2)),
        "{seen:?}"
    );
    api.patch_status(
        "fraud",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "phase": "Idle" } })),
    )
    .await
    .expect("status");
    let seen = next(&mut events).await;
    assert!(
        matches!(&seen, WatchEvent::Modified(o) if o.data["status"]["phase"] == "Idle"),
        "{seen:?}"
    );
    api.delete("fraud", &DeleteParams::default())
        .await
        .expect("delete");
    let seen = next(&mut events).await;
    assert!(matches!(&seen, WatchEvent::Deleted(_)), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_refuse_a_stale_holder_and_events_are_recorded() {
    let fake = FakeKube::start().await;
    let client = client(&fake).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let lease: Lease = serde_json::from_value(json!({
        "metadata": { "name": "sluice-leader" },
        "spec": { "holderIdentity": "pod-a", "leaseDurationSeconds": 15, "leaseTransitions": 0 },
    }))
    .expect("lease");
    let held = leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create");
    // pod-b takes over with the version it read; pod-a's renewal on its old read fails.
    let mut taken = held.clone();
    if let Some(spec) = taken.spec.as_mut() {
        spec.holder_identity = Some("pod-b".into());
        spec.lease_transitions = Some(1);
    }
    let taken = leases
        .replace("sluice-leader", &PostParams::default(), &taken)
        .await
        .expect("take over");
    assert_ne!(
        taken.metadata.resource_version,
        held.metadata.resource_version
    );
    let renewal = leases
        .replace("sluice-leader", &PostParams::default(), &held)
        .await
        .expect_err("stale renewal");
    assert!(
        matches!(&renewal, kube::Error::Api(s) if s.code == 409),
        "{renewal:?}"
    );
    let now = leases.get("sluice-leader").await.expect("get");
    assert_eq!(
        now.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("pod-b")
    );

    let events: Api<Event> = Api::namespaced(client, NS);
    let event: Event = serde_json::from_value(json!({
        "metadata": { "name": "fraud.1" },
        "eventTime": "2026-12-02T10:00:00.000000Z",
        "reportingController": "sluice.dev/host",
        "reportingInstance": "pod-b",
        "action": "Promote",
        "reason": "Promoted",
        "type": "Normal",
        "note": "v8 promoted",
        "regarding": { "apiVersion": "sluice.dev/v1alpha1", "kind": "ModelPipeline", "name": "fraud", "namespace": NS },
    }))
    .expect("event");
    events
        .create(&PostParams::default(), &event)
        .await
        .expect("record");
    let listed = events.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].note.as_deref(), Some("v8 promoted"));
}

/// Server-side apply as leader election uses it: a second manager applying a field the
/// first owns with another value is refused (409 Conflict); a field set to null by a
/// strategic merge patch is owned by no one, so the next apply takes it.
#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_refuses_a_field_another_manager_owns() {
    let fake = FakeKube::start().await;
    let leases: Api<Lease> = Api::namespaced(client(&fake).await, NS);
    leases
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": "l" }, "spec": {} }))
                .expect("lease"),
        )
        .await
        .expect("create");
    let hold = |who: &str| {
        json!({ "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "spec": { "holderIdentity": who, "leaseDurationSeconds": 15 } })
    };
    leases
        .patch("l", &PatchParams::apply("mgr-a"), &Patch::Apply(hold("a")))
        .await
        .expect("a takes the free lease");
    let refused = leases
        .patch("l", &PatchParams::apply("mgr-b"), &Patch::Apply(hold("b")))
        .await
        .expect_err("b may not take a's field");
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"
            && s.message.contains("mgr-a") && s.message.contains(".spec.holderIdentity")),
        "{refused:?}"
    );
    // The same value is shared ownership, not a conflict; a forced apply takes it.
    let mut same = hold("a");
    same["spec"]["leaseDurationSeconds"] = json!(15);
    leases
        .patch("l", &PatchParams::apply("mgr-c"), &Patch::Apply(same))
        .await
        .expect("same values do not conflict");
    leases
        .patch(
            "l",
            &PatchParams::apply("mgr-b").force(),
            &Patch::Apply(hold("b")),
        )
        .await
        .expect("a forced apply takes the field");
    // Released with nulls (strategic merge): free for the next apply.
    let release = json!({ "spec": { "holderIdentity": null, "leaseDurationSeconds": null } });
    leases
        .patch("l", &PatchParams::default(), &Patch::Strategic(release))
        .await
        .expect("release");
    let now = leases.get("l").await.expect("get");
    assert_eq!(
        now.spec.as_ref().and_then(|s| s.holder_identity.clone()),
        None
    );
    leases
        .patch("l", &PatchParams::apply("mgr-a"), &Patch::Apply(hold("a")))
        .await
        .expect("the released field is free");
}

/// kube-lease-manager, the crate sluice elects its leader with, against the fake: of
/// two contenders exactly one leads; when it releases, the other takes over.
#[tokio::test(flavor = "multi_thread")]
async fn two_lease_managers_elect_one_leader_and_hand_over() {
    let fake = FakeKube::start().await;
    let manager = |id: &str, c: kube::Client| {
        kube_lease_manager::LeaseManagerBuilder::new(c, "sluice")
            .with_namespace(NS)
            .with_identity(id)
            .with_duration(3)
            .with_grace(1)
            .build()
    };
    let a = manager("pod-a", client(&fake).await).await.expect("a");
    let b = manager("pod-b", client(&fake).await).await.expect("b");
    let (a_leads, a_task) = a.watch().await;
    let (b_leads, b_task) = b.watch().await;
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(*a_leads.borrow() || *b_leads.borrow()) {
        assert!(std::time::Instant::now() < end, "nobody leads");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(*a_leads.borrow() != *b_leads.borrow(), "exactly one leads");
    // The leader steps down (its channel closed: the manager releases the lease).
    let (mut standby, other_task) = if *a_leads.borrow() {
        drop(a_leads);
        let _ = a_task.await;
        (b_leads, b_task)
    } else {
        drop(b_leads);
        let _ = b_task.await;
        (a_leads, a_task)
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while !*standby.borrow() {
            standby.changed().await.expect("manager runs");
        }
    })
    .await
    .expect("the standby takes over");
    drop(standby);
    let _ = other_task.await;
}
