//! Store tests against SQLite (PostgreSQL is covered by the end-to-end tests in
//! `host/tests/loop_e2e.rs` and `kube_e2e.rs`, which run on a real server).

use super::*;
use crate::controller::phase::{Event, RunRef, apply};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    let store = Store::open(&url).await.expect("open");
    (dir, store)
}

#[tokio::test]
async fn migrations_are_idempotent_and_state_round_trips() {
    let (dir, store) = store().await;
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    Store::open(&url)
        .await
        .expect("reopen applies nothing twice");
    assert_eq!(store.load_state("fraud").await.expect("load"), None);
    let s = PipelineState::new(None);
    store.save_state("fraud", &s, 1).await.expect("save");
    let run = RunRef {
        id: "r1".into(),
        job: "fraud-training-1".into(),
        version: "v1".into(),
    };
    let s2 = apply(
        &s,
        Event::RunAllocated {
            run: run.clone(),
            seq: 1,
            args: vec![],
            now_ms: 2,
        },
    )
    .expect("apply");
    store.begin_run("fraud", &run, &s2, 2).await.expect("begin");
    store
        .begin_run("fraud", &run, &s2, 2)
        .await
        .expect("begin is idempotent");
    assert_eq!(store.load_state("fraud").await.expect("load"), Some(s2));
    store.add_claimed("r1", 7).await.expect("claimed");
    store
        .set_run_status("r1", RunStatus::Failed, Some("oom"), None, 3)
        .await
        .expect("status");
    let runs = store.runs(Some("fraud"), 10).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            runs[0].status.as_str(),
            runs[0].claimed_rows,
            runs[0].finished_ms
        ),
        ("failed", 7, Some(3))
    );
    assert!(
        store
            .runs(Some("other"), 10)
            .await
            .expect("runs")
            .is_empty()
    );
    assert_eq!(store.all_states().await.expect("all").len(), 1);
}

#[tokio::test]
async fn rejected_versions_are_remembered() {
    let (_dir, store) = store().await;
    assert_eq!(store.rejection("fraud", "v3").await.expect("q"), None);
    let run = RunRef {
        id: "fraud-training-9".into(),
        job: "fraud-training-9".into(),
        version: "v3".into(),
    };
    let state = PipelineState::new(None);
    store
        .begin_run("fraud", &run, &state, 1)
        .await
        .expect("run");
    store
        .reject_run("fraud", &run, "accuracy 0.7 < 0.8", 1)
        .await
        .expect("reject");
    store
        .reject_run("fraud", &run, "again", 2)
        .await
        .expect("idempotent");
    assert_eq!(
        store.rejection("fraud", "v3").await.expect("q").as_deref(),
        Some("accuracy 0.7 < 0.8")
    );
    let runs = store.runs(Some("fraud"), 1).await.expect("runs");
    assert_eq!(
        (runs[0].status.as_str(), runs[0].reason.as_deref()),
        ("rejected", Some("again")),
        "the run shows the latest reason; the version keeps its first"
    );
}

#[tokio::test]
async fn a_bad_url_says_what_is_supported() {
    let e = Store::open("mysql://u:pw@h/db")
        .await
        .expect_err("unsupported");
    let text = e.to_string();
    assert!(
        text.contains("mysql://u:***@h/db") && text.contains("sqlite:"),
        "{text}"
    );
}

#[tokio::test]
async fn an_audit_log_from_before_tiering_upgrades_and_reads_as_optimized() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("old.db").display());
    // A database as the previous release left it: only migration 1, one decision.
    let (pool, _) = pool(&url, 1).await.expect("pool");
    sqlx::raw_sql(include_str!("../../migrations/sqlite/0001_init.sql"))
        .execute(&pool)
        .await
        .expect("0001");
    sqlx::raw_sql(
        "CREATE TABLE sluice_schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL); \
         INSERT INTO sluice_schema_migrations VALUES (1, '0001_init.sql', 0); \
         INSERT INTO sluice_decisions (pipeline, point, outcome, policy, policy_version, module_sha256, \
         input, output, logs, fuel_used, wall_micros, decided_ms) \
         VALUES ('fraud', 'retrain', 'wait', 'p', '1', 'abc', '{}', '{}', '[]', 1, 2, 3)",
    )
    .execute(&pool)
    .await
    .expect("old rows");
    pool.close().await;

    let store = Store::open(&url).await.expect("migrates");
    let old = store.decisions(Some("fraud"), 10).await.expect("read");
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].code_tier, "optimized");
}

#[tokio::test]
async fn a_description_is_stored_once_per_digest_and_refusals_are_listed_until_cleared() {
    use crate::decision::{DecisionPoint, Description};
    let (_dir, store) = store().await;
    let d = Description {
        name: "gate".into(),
        version: "1.0.0".into(),
        summary: "s".into(),
        params: vec![],
    };
    for _ in 0..3 {
        store
            .remember_module("abc", DecisionPoint::Promotion, &d, 5)
            .await
            .expect("remember");
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sluice_policy_modules")
        .fetch_one(&store.pool)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    assert_eq!(
        store.module_description("abc").await.expect("read"),
        Some(d)
    );
    let refusal = StoredRefusal {
        module: "gate".into(),
        sha256: "def".into(),
        reason: "trial".into(),
        message: "the trial decision failed".into(),
        refused_ms: 9,
    };
    store.record_refusal(&refusal).await.expect("record");
    store
        .record_refusal(&refusal)
        .await
        .expect("again: one row per module");
    assert_eq!(store.refusals().await.expect("list"), [refusal]);
    store.clear_refusal("gate").await.expect("clear");
    assert!(store.refusals().await.expect("list").is_empty());
}
