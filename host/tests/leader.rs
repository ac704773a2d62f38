//! Two hosts, one writer: the store refuses pipeline-state writes from a lease term
//! older than the last writer's (fencing), on SQLite and PostgreSQL.

mod common;

use sluice::controller::PipelineState;
use sluice::store::{Fence, Store, StoreError};

async fn fencing_refuses_an_older_term(url: &str) {
    let old_leader = Store::open(url).await.expect("store");
    let new_leader = Store::open(url).await.expect("store");
    let state = PipelineState::new(None);
    old_leader.set_fence(Fence {
        holder: "pod-a".into(),
        term: 1,
    });
    old_leader
        .save_state("fraud", &state, 1)
        .await
        .expect("the leader writes");
    new_leader.set_fence(Fence {
        holder: "pod-b".into(),
        term: 2,
    });
    new_leader
        .save_state("fraud", &state, 2)
        .await
        .expect("the new leader writes");
    let refused = old_leader
        .save_state("fraud", &state, 3)
        .await
        .expect_err("the deposed leader is fenced off");
    assert!(
        matches!(&refused, StoreError::Fenced { pipeline, term: 1 } if pipeline == "fraud"),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("no longer the leader"),
        "{refused}"
    );
    // A run's first write is fenced too, and leaves no run row behind.
    let run = sluice::controller::RunRef {
        id: "r1".into(),
        job: "fraud-r1".into(),
        version: "v2".into(),
    };
    assert!(
        old_leader
            .begin_run("fraud", &run, &state, 4)
            .await
            .is_err()
    );
    assert!(
        new_leader
            .runs(Some("fraud"), 10)
            .await
            .expect("runs")
            .is_empty(),
        "the refused run was not recorded"
    );
    // The same term (the new leader again) and new pipelines write as before.
    new_leader
        .save_state("fraud", &state, 5)
        .await
        .expect("same term");
    old_leader
        .save_state("churn", &state, 6)
        .await
        .expect("a pipeline no newer term wrote");
}

#[tokio::test]
async fn a_deposed_leader_cannot_write_state_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    fencing_refuses_an_older_term(&format!("sqlite:{}", dir.path().join("s.db").display())).await;
}

#[tokio::test]
async fn a_deposed_leader_cannot_write_state_on_postgres() {
    fencing_refuses_an_older_term(&common::services::pg_database().await).await;
}
