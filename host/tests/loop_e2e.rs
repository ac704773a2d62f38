//! The loop end to end on real servers: PostgreSQL (store and annotations), git over
//! ssh (through a proxy that can be cut), a local trainer. Faults: git unreachable then
//! back, the database down for a tick, a failing trainer, a rejected candidate.

mod common;

use common::harness::{Harness, Options};
use common::services::{KUSTOMIZATION, commit_to_remote, verify_with_git_cli};
use sluice::controller::{Phase, TickOutcome};
use sluice::decision::TrainingOutcome;

fn promoted_file(v: &str) -> String {
    KUSTOMIZATION.replace("newTag: v1        #", &format!("newTag: {v}        #"))
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_nine_rows_wait_fifty_train_once_and_promote_through_git() {
    let h = Harness::new(Options {
        rows: 49,
        trainer: format!("sleep 2; {}", common::harness::GOOD_TRAINER),
        ..Options::default()
    })
    .await;
    let out = h.tick().await.expect("tick");
    assert!(
        matches!(&out, TickOutcome::Waiting(w) if w.contains("49 new")),
        "{out:?}"
    );
    assert_eq!(h.state().await.phase, Phase::Idle);
    assert_eq!(h.job_dirs(), 0);

    h.add_rows(1).await;
    h.tick().await.expect("tick");
    h.tick().await.expect("a second tick at once");
    let s = h.state().await;
    assert!(
        matches!(
            s.phase,
            Phase::Training {
                dispatched: true,
                ..
            }
        ),
        "{:?}",
        s.phase
    );
    assert_eq!(h.job_dirs(), 1, "exactly one job");
    assert_eq!(
        h.ctx
            .store
            .runs(Some("fraud"), 10)
            .await
            .expect("runs")
            .len(),
        1
    );
    let run_id = s.phase.run().expect("run").id.clone();
    assert_eq!(
        h.count(&format!(
            "SELECT COUNT(*) FROM annotations WHERE training_run = '{run_id}'"
        ))
        .await,
        50,
        "the 50 rows are claimed by this run"
    );
    // Rows verified while the job trains stay for the next run.
    h.add_rows(3).await;

    let s = h
        .tick_until("promoted", |s| {
            s.last_outcome == Some(TrainingOutcome::Promoted)
        })
        .await;
    assert_eq!(
        s.production.as_ref().map(|p| p.version.as_str()),
        Some("v2")
    );
    assert_eq!(h.job_dirs(), 1, "still exactly one job");
    assert_eq!(
        h.count("SELECT COUNT(*) FROM annotations WHERE verified AND NOT used_for_training")
            .await,
        3
    );
    let (log, file) = verify_with_git_cli(&h.bare);
    assert_eq!(log, ["chore: promote model to v2|sluice", "initial|test"]);
    assert_eq!(file, promoted_file("v2"), "only the tag's bytes changed");

    let decisions = h
        .ctx
        .store
        .decisions(Some("fraud"), 50)
        .await
        .expect("audit");
    let promotion = decisions
        .iter()
        .find(|d| d.point == "promotion")
        .expect("a promotion decision");
    assert_eq!(promotion.outcome, "promote");
    assert_eq!(promotion.module_sha256.len(), 64);
    assert!(
        promotion.input.contains("\"candidate\""),
        "{}",
        promotion.input
    );
    assert!(promotion.fuel_used > 0);
    assert_eq!(
        promotion.code_tier, "optimized",
        "start-up loads optimized code"
    );
    let runs = h.ctx.store.runs(Some("fraud"), 10).await.expect("runs");
    assert_eq!(runs[0].status, "promoted");
    assert_eq!(runs[0].claimed_rows, 50);
    assert!(runs[0].commit_id.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_candidate_leaves_git_untouched_and_is_remembered() {
    let h = Harness::new(Options {
        trainer: r#"echo "{\"version\":\"$MODEL_VERSION\",\"metrics\":{\"accuracy\":0.71}}""#
            .into(),
        ..Options::default()
    })
    .await;
    let s = h
        .tick_until("rejected", |s| {
            s.last_outcome == Some(TrainingOutcome::Rejected)
        })
        .await;
    assert_eq!(
        s.production.as_ref().map(|p| p.version.as_str()),
        Some("v1")
    );
    assert_eq!(verify_with_git_cli(&h.bare).0.len(), 1, "no commit");
    let why = h.ctx.store.rejection("fraud", "v2").await.expect("q");
    assert!(why.is_some_and(|w| w.contains("accuracy")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_releases_exactly_its_rows() {
    let h = Harness::new(Options {
        trainer: "echo 'CUDA out of memory' >&2; exit 1".into(),
        ..Options::default()
    })
    .await;
    h.tick_until("failed", |s| {
        s.last_outcome == Some(TrainingOutcome::Failed)
    })
    .await;
    let runs = h.ctx.store.runs(Some("fraud"), 10).await.expect("runs");
    assert_eq!(
        runs.len(),
        1,
        "a run ends its tick; the next run waits for the next tick"
    );
    assert_eq!(
        h.count(
            "SELECT COUNT(*) FROM annotations WHERE used_for_training OR training_run IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(runs[0].status, "failed");
    assert!(
        runs[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("CUDA out of memory")),
        "{:?}",
        runs[0].reason
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn git_unreachable_then_back_retries_and_promotes_once() {
    let h = Harness::new(Options {
        trainer: format!("sleep 1; {}", common::harness::GOOD_TRAINER),
        ..Options::default()
    })
    .await;
    h.tick_until_dispatched().await;
    h.git_proxy.set_down(true).await;
    let s = h
        .tick_until("a git failure shows", |s| s.last_error.is_some())
        .await;
    assert!(matches!(s.phase, Phase::Promoting { .. }), "{:?}", s.phase);
    assert!(
        s.last_error.as_deref().is_some_and(|e| e.contains("git")),
        "{:?}",
        s.last_error
    );
    h.git_proxy.set_down(false).await;
    let s = h
        .tick_until("promoted", |s| {
            s.last_outcome == Some(TrainingOutcome::Promoted)
        })
        .await;
    assert_eq!(s.last_error, None);
    assert_eq!(
        verify_with_git_cli(&h.bare).0.len(),
        2,
        "exactly one promotion commit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_down_for_a_tick_loses_nothing() {
    let h = Harness::new(Options {
        db_proxy: true,
        trainer: format!("sleep 2; {}", common::harness::GOOD_TRAINER),
        ..Options::default()
    })
    .await;
    h.tick().await.expect("tick");
    let before = h.state().await;
    assert!(matches!(before.phase, Phase::Training { .. }));
    let proxy = h.db_proxy.as_ref().expect("proxy");
    proxy.set_down(true).await;
    let down = h.tick().await;
    assert!(
        down.is_err() || matches!(down, Ok(TickOutcome::Failed(_))),
        "{down:?}"
    );
    proxy.set_down(false).await;
    let s = h
        .tick_until("promoted", |s| {
            s.last_outcome == Some(TrainingOutcome::Promoted)
        })
        .await;
    assert_eq!(
        s.production.as_ref().map(|p| p.version.as_str()),
        Some("v2")
    );
    assert_eq!(h.job_dirs(), 1);
    assert_eq!(verify_with_git_cli(&h.bare).0.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn await_approval_waits_for_an_operator_then_promotes() {
    let h = Harness::new(Options::default()).await;
    // Require approval: rewrite the promotion params and rebuild from the config.
    let text = std::fs::read_to_string(&h.config_path).expect("read");
    std::fs::write(
        &h.config_path,
        text.replace(
            r#"params: { rules: ["accuracy higher min 0.90"] }"#,
            r#"params: { rules: ["accuracy higher min 0.90"], require_approval: true }"#,
        ),
    )
    .expect("write");
    let loaded = sluice::config::load(&h.config_path, &common::engine()).expect("config");
    let lp = sluice::daemon::build(&loaded, common::engine(), None)
        .await
        .expect("build");
    let tick = || sluice::controller::tick(&lp.ctx, &lp.pipelines[0]);
    for _ in 0..100 {
        let _ = tick().await;
        if matches!(h.state().await.phase, Phase::AwaitingApproval { .. }) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let s = h.state().await;
    assert!(
        matches!(s.phase, Phase::AwaitingApproval { .. }),
        "{:?}",
        s.phase
    );
    let out = tick().await.expect("tick");
    assert!(
        matches!(&out, TickOutcome::Waiting(w) if w.contains("sluice approve")),
        "{out:?}"
    );
    assert_eq!(
        verify_with_git_cli(&h.bare).0.len(),
        1,
        "nothing pushed while waiting"
    );
    let status = sluice::cli::ops::status(&lp.ctx.store, false)
        .await
        .expect("status");
    assert!(status.contains("awaiting-approval"), "{status}");
    let msg = sluice::cli::ops::approve(&lp.ctx.store, "fraud", false)
        .await
        .expect("approve");
    assert!(msg.contains("v2 approved"), "{msg}");
    assert!(
        sluice::cli::ops::approve(&lp.ctx.store, "fraud", false)
            .await
            .is_err()
    );
    tick().await.expect("tick");
    let s = h.state().await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Promoted));
    assert_eq!(verify_with_git_cli(&h.bare).0.len(), 2);
}

/// Hosts started at the same moment against one empty PostgreSQL store (a second
/// replica, a rolling update) all come up; the schema is migrated once.
#[tokio::test(flavor = "multi_thread")]
async fn hosts_starting_at_once_on_an_empty_postgres_store_all_migrate_it() {
    let url = common::services::pg_database().await;
    let opens: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { sluice::store::Store::open(&url).await })
        })
        .collect();
    for open in opens {
        let store = open
            .await
            .expect("task")
            .map_err(|e| sluice::error_chain(&e));
        assert!(store.is_ok(), "a host failed to start: {store:?}");
    }
    let (pool, _) = sluice::store::pool(&url, 1).await.expect("pool");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM sluice_schema_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .expect("versions");
    assert_eq!(
        applied,
        [1, 2, 3, 4, 5, 6],
        "each migration applied exactly once"
    );
}

/// Training needs a deploy repo that can take the promotion: while it cannot be
/// reached, nothing is trained (and the retrain decision is retried with backoff).
#[tokio::test(flavor = "multi_thread")]
async fn git_unreachable_before_training_trains_nothing_until_it_is_back() {
    let h = Harness::new(Options::default()).await;
    h.git_proxy.set_down(true).await;
    let s = h
        .tick_until("the check fails", |s| s.last_error.is_some())
        .await;
    assert_eq!(s.phase, Phase::Idle);
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot check the deploy repo before training")),
        "{:?}",
        s.last_error
    );
    assert_eq!(h.job_dirs(), 0, "nothing trained while git is down");
    h.git_proxy.set_down(false).await;
    h.tick_until("promoted", |s| {
        s.last_outcome == Some(TrainingOutcome::Promoted)
    })
    .await;
    assert_eq!(h.job_dirs(), 1);
}

/// A target that matches nothing is found before training, not after: the pipeline
/// stops (no training, however often it ticks) and says why in `sluice status`; when
/// the deploy repo is fixed it resumes, trains once and promotes.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_matching_nothing_stops_training_until_the_repo_is_fixed() {
    let h = Harness::new(Options::default()).await;
    let broken = KUSTOMIZATION.replace("- name: inference", "- name: server");
    commit_to_remote(&h.bare, &broken, "rename the image");
    let s = h.tick_until("stopped", |s| s.stopped.is_some()).await;
    let reason = s
        .stopped
        .as_ref()
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    assert!(
        reason.contains("images[name=inference].newTag") && reason.contains("matches nothing"),
        "{reason}"
    );
    for _ in 0..5 {
        let out = h.tick().await.expect("tick");
        assert!(
            matches!(&out, TickOutcome::Waiting(w) if w.contains("stopped, no training")),
            "{out:?}"
        );
    }
    assert_eq!(h.job_dirs(), 0, "no model trained for nothing");
    let status = sluice::cli::ops::status(&h.ctx.store, false)
        .await
        .expect("status");
    assert!(
        status.contains("STOPPED") && status.contains("matches nothing"),
        "{status}"
    );

    commit_to_remote(&h.bare, KUSTOMIZATION, "restore the image name");
    let s = h
        .tick_until("promoted", |s| {
            s.last_outcome == Some(TrainingOutcome::Promoted)
        })
        .await;
    assert_eq!(s.stopped, None);
    assert_eq!(h.job_dirs(), 1, "trained exactly once");
    assert_eq!(
        verify_with_git_cli(&h.bare).1,
        promoted_file("v2"),
        "promoted into the fixed file"
    );
}

/// The repo breaks while a model trains: the promotion fails for a reason retrying
/// cannot fix, so the run fails, its rows are released and the pipeline stops instead
/// of training again after `min_interval`.
#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_that_cannot_succeed_stops_the_pipeline_instead_of_retraining() {
    let h = Harness::new(Options {
        trainer: format!("sleep 1; {}", common::harness::GOOD_TRAINER),
        ..Options::default()
    })
    .await;
    h.tick_until_dispatched().await;
    let broken = KUSTOMIZATION.replace("- name: inference", "- name: server");
    commit_to_remote(&h.bare, &broken, "rename the image");
    let s = h
        .tick_until("the run fails", |s| {
            s.last_outcome == Some(TrainingOutcome::Failed)
        })
        .await;
    assert!(s.stopped.is_some(), "{s:?}");
    assert_eq!(
        h.count("SELECT COUNT(*) FROM annotations WHERE used_for_training")
            .await,
        0,
        "rows released"
    );
    for _ in 0..5 {
        h.tick().await.expect("tick");
    }
    assert_eq!(h.job_dirs(), 1, "no second training");
    assert_eq!(h.state().await.phase, Phase::Idle);
}

/// At start-up the deploy repo is checked before anything trains: a broken target
/// stops the pipeline at once and shows in status; once fixed, the next start-up
/// check resumes it.
#[tokio::test(flavor = "multi_thread")]
async fn the_start_up_check_finds_a_broken_target_before_any_tick() {
    let h = Harness::new(Options::default()).await;
    let broken = KUSTOMIZATION.replace("newTag: v1        #", "newTag:           #");
    commit_to_remote(&h.bare, &broken, "empty the tag");
    sluice::controller::check_at_start(&h.ctx, &h.pipeline)
        .await
        .expect("check");
    let s = h.state().await;
    let reason = s.stopped.map(|s| s.reason).unwrap_or_default();
    assert!(reason.contains("has no value"), "{reason}");
    commit_to_remote(&h.bare, KUSTOMIZATION, "restore");
    sluice::controller::check_at_start(&h.ctx, &h.pipeline)
        .await
        .expect("check");
    assert_eq!(h.state().await.stopped, None);
    assert_eq!(h.job_dirs(), 0);
}

/// A lock file left in the kept clone (a host killed inside libgit2's ref update) no
/// longer blocks promotions: the clone is cloned again and status says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lock_in_the_kept_clone_heals_and_shows_in_status() {
    let h = Harness::new(Options::default()).await;
    h.tick_until("promoted", |s| {
        s.last_outcome == Some(TrainingOutcome::Promoted)
    })
    .await;
    let clone = h.dir.path().join("state/repos/fraud");
    std::fs::write(clone.join("refs/remotes/origin/main.lock"), "").expect("lock");
    h.add_rows(50).await;
    let s = h
        .tick_until("promoted again", |s| {
            s.production.as_ref().is_some_and(|p| p.version == "v3")
        })
        .await;
    let notice = s.notice.map(|n| n.text).unwrap_or_default();
    assert!(
        notice.contains("discarded and cloned again") && notice.contains("main.lock"),
        "{notice}"
    );
    let status = sluice::cli::ops::status(&h.ctx.store, false)
        .await
        .expect("status");
    assert!(status.contains("notice     the kept clone"), "{status}");
    assert_eq!(verify_with_git_cli(&h.bare).0.len(), 3, "two promotions");
}
