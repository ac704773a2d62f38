//! One step of a rolling-out or rolling-back pipeline: at most one side effect, then
//! the event that says what happened (the controller persists it before the next).
//!
//! Rolling out, in order of precedence: an operator request; the pending traffic write
//! (push, then Argo CD, then applied); a pause; the analysis interval; an analysis
//! (collect → regression policy → rollout policy). Rolling back: push the revert, await
//! Argo CD, then record the version as rejected.

use std::time::Instant;

use crate::controller::phase::{Event, PipelineState, RunRef};
use crate::controller::pipeline::ArgoProgress;
use crate::controller::step::{Notices, Retry, Step, ask, push_change, retry};
use crate::controller::{Context, Pipeline};
use crate::decision::{
    ModelReport, Regression, RegressionContext, Rollout, RolloutContext, RolloutDecision, Verdict,
};
use crate::failpoint;
use crate::gitops::Change;
use crate::metrics::names;
use crate::metrics_source::QueryValues;
use crate::notify::Kind;
use crate::store::{RolloutAction, RunStatus};
use crate::traffic::TrafficState;

use super::RolloutPlan;
use super::analysis::{collect, window};
use super::state::{Action, Next, Operator, Progress, Rollback, RolloutEvent, Write};

fn moved(e: RolloutEvent) -> Result<Step, Retry> {
    Ok(Step::Moved(Event::Rollout(e)))
}

/// The stable version a rollout compares against.
fn stable_of(state: &PipelineState) -> Result<&ModelReport, Retry> {
    state.production.as_ref().ok_or_else(|| {
        Retry("a rollout is in progress but no stable version is recorded; run `sluice rollout abort` or `promote`".into())
    })
}

/// One step while the candidate rolls out.
///
/// # Errors
/// A transient failure (git, database, Argo CD): retried after a backoff.
#[allow(clippy::too_many_arguments)]
pub async fn rolling_out(
    ctx: &Context,
    p: &Pipeline,
    plan: &RolloutPlan,
    state: &PipelineState,
    run: &RunRef,
    progress: &Progress,
    now_ms: u64,
    notices: &mut Notices,
) -> Result<Step, Retry> {
    let stable = stable_of(state)?.version.clone();
    if let Some(step) = operator_request(ctx, p, run, progress, now_ms).await? {
        return Ok(step);
    }
    if let Some(w) = &progress.pending {
        let (change, cluster, failpoint_name) = match w.action {
            Action::Shift { weight } => {
                let state = TrafficState {
                    stable: &stable,
                    candidate: &run.version,
                    weight,
                };
                let change = plan.traffic.shift(&p.repo, &p.name, state);
                (change, state, "after-traffic-push")
            }
            Action::Complete => (
                plan.traffic
                    .complete(&p.repo, &p.name, &run.version, &stable),
                TrafficState::at_rest(&run.version),
                "after-complete-push",
            ),
        };
        let step = write_step(
            ctx,
            p,
            plan,
            w,
            cluster,
            change,
            now_ms,
            notices,
            failpoint_name,
        )
        .await?;
        match &step {
            Step::Moved(Event::Rollout(RolloutEvent::Applied { .. })) => {
                on_applied(ctx, p, run, &stable, w.action, now_ms).await?;
            }
            Step::Moved(Event::Rollout(RolloutEvent::WriteFailed { reason, .. })) => {
                ctx.note(&p.name, &format!("{reason}; rolling back"));
            }
            _ => {}
        }
        return Ok(step);
    }
    if let Some(by) = &progress.paused {
        return Ok(Step::Wait(format!(
            "rollout of {} paused at {}% ({by}); `sluice rollout resume {}` continues",
            run.version, progress.weight, p.name
        )));
    }
    let interval_ms = u64::try_from(plan.interval.as_millis()).unwrap_or(u64::MAX);
    if let Some(last) = progress.last_analysis_ms
        && now_ms < last.saturating_add(interval_ms)
    {
        return Ok(Step::Wait(format!(
            "{} at {}%; next analysis in {}s",
            run.version,
            progress.weight,
            (last.saturating_add(interval_ms) - now_ms).div_ceil(1000)
        )));
    }
    analyse(ctx, p, plan, run, &stable, progress, now_ms).await
}

/// Collects the metrics (once the candidate has traffic), asks the regression policy
/// for a verdict and the rollout policy for the next move.
async fn analyse(
    ctx: &Context,
    p: &Pipeline,
    plan: &RolloutPlan,
    run: &RunRef,
    stable: &str,
    progress: &Progress,
    now_ms: u64,
) -> Result<Step, Retry> {
    let started = Instant::now();
    let (verdict, error) = if progress.weight == 0 {
        // No traffic on the candidate yet: nothing to compare.
        (None, None)
    } else {
        let values = QueryValues {
            stable,
            candidate: &run.version,
            weight: progress.weight,
            window: window(progress.step_started_ms, now_ms, plan.window),
        };
        match collect(&plan.metrics, values, plan.max_samples).await {
            Ok(collected) => {
                if !collected.truncated.is_empty() {
                    ctx.note(
                        &p.name,
                        &format!(
                            "analysis read only the first {} samples of: {}",
                            plan.max_samples,
                            collected.truncated.join(", ")
                        ),
                    );
                }
                let c = RegressionContext {
                    pipeline: p.name.clone(),
                    params: Vec::new(),
                    metrics: collected.windows,
                };
                let eval =
                    ask::<Regression>(ctx, p, &plan.regression, c, now_ms, Some(&run.id)).await?;
                ctx.note(
                    &p.name,
                    &format!(
                        "regression policy at {}%: {} — {}",
                        progress.weight,
                        eval.decision.overall.as_str(),
                        eval.decision.reason
                    ),
                );
                (Some(eval.decision.overall), None)
            }
            Err(e) => {
                let why = e.to_string();
                ctx.note(
                    &p.name,
                    &format!("no verdict at {}%: {why}", progress.weight),
                );
                (None, Some(why))
            }
        }
    };
    ctx.metrics.inc(
        names::VERDICTS,
        &[
            ("pipeline", &p.name),
            ("verdict", verdict.map_or("none", Verdict::as_str)),
        ],
    );
    let c = RolloutContext {
        pipeline: p.name.clone(),
        params: Vec::new(),
        stable_version: stable.to_owned(),
        candidate_version: run.version.clone(),
        current_weight: progress.weight,
        step_index: progress.step_index,
        seconds_at_step: now_ms.saturating_sub(progress.step_started_ms) / 1000,
        holds_at_step: progress.holds,
        verdict,
    };
    let eval = ask::<Rollout>(ctx, p, &plan.rollout, c, now_ms, Some(&run.id)).await?;
    ctx.metrics.add_seconds(
        names::ANALYSIS_SECONDS,
        &[("pipeline", &p.name)],
        started.elapsed(),
    );
    failpoint::hit("after-rollout-decision");
    let next = match eval.decision {
        RolloutDecision::Advance { weight, reason } => Next::Advance(weight, reason),
        RolloutDecision::Hold { reason } => Next::Hold(reason),
        RolloutDecision::Complete { reason } => Next::Complete(reason),
        RolloutDecision::Rollback { reason } => Next::Rollback(reason),
    };
    let (word, reason) = match &next {
        Next::Advance(w, r) => (format!("advance to {w}%"), r),
        Next::Hold(r) => ("hold".to_owned(), r),
        Next::Complete(r) => ("complete".to_owned(), r),
        Next::Rollback(r) => ("roll back".to_owned(), r),
    };
    ctx.note(
        &p.name,
        &format!("rollout policy at {}%: {word} — {reason}", progress.weight),
    );
    if let Next::Rollback(_) = next {
        failpoint::hit("after-rollback-decision");
    }
    moved(RolloutEvent::Analysed {
        verdict,
        error,
        next,
        now_ms,
    })
}

/// Acts on the oldest operator request for this rollout that has not been acted on.
async fn operator_request(
    ctx: &Context,
    p: &Pipeline,
    run: &RunRef,
    progress: &Progress,
    now_ms: u64,
) -> Result<Option<Step>, Retry> {
    let Some(request) = ctx
        .store
        .next_rollout_request(&p.name, &run.id, progress.last_request)
        .await
        .map_err(retry)?
    else {
        return Ok(None);
    };
    let said = format!("{}: {}", request.who, request.reason);
    let (act, outcome) = match request.action {
        // A write in flight finishes first; the request waits for it.
        RolloutAction::Promote if progress.pending.is_some() => return Ok(None),
        RolloutAction::Promote => (Operator::Promote(said.clone()), "complete"),
        RolloutAction::Abort => (Operator::Abort(said.clone(), now_ms), "rollback"),
        RolloutAction::Pause if progress.paused.is_none() => {
            (Operator::Pause(said.clone()), "pause")
        }
        RolloutAction::Resume if progress.paused.is_some() => (Operator::Resume, "resume"),
        RolloutAction::Pause | RolloutAction::Resume => (Operator::Nothing, "nothing"),
    };
    ctx.store
        .record_operator_action(&p.name, &run.id, &request, outcome, now_ms)
        .await
        .map_err(retry)?;
    ctx.note(
        &p.name,
        &format!(
            "operator {} ({said}) at {}%",
            request.action.as_str(),
            progress.weight
        ),
    );
    Ok(Some(Step::Moved(Event::Rollout(RolloutEvent::Operator {
        request: request.id,
        act,
    }))))
}

/// Writes `cluster` to the cluster objects (with a Kubernetes actuator) and pushes
/// `change` for the write `w`, then awaits Argo CD, then reports it applied.
#[allow(clippy::too_many_arguments)]
async fn write_step(
    ctx: &Context,
    p: &Pipeline,
    plan: &RolloutPlan,
    w: &Write,
    cluster: TrafficState<'_>,
    change: Change,
    now_ms: u64,
    notices: &mut Notices,
    failpoint_name: &str,
) -> Result<Step, Retry> {
    let Some(commit) = &w.commit else {
        if let Some(kube) = &plan.kube {
            kube.set(cluster).await.map_err(retry)?;
        }
        let done = push_change(ctx, p, change, failpoint_name, notices)
            .await?
            .map_err(retry)?;
        return moved(RolloutEvent::Pushed {
            commit: done.commit,
            now_ms,
        });
    };
    let Some(argo) = &p.argo else {
        return moved(RolloutEvent::Applied { now_ms });
    };
    match argo
        .progress(
            commit,
            w.pushed_ms.unwrap_or(now_ms),
            w.sync_requested,
            now_ms,
        )
        .await
        .map_err(retry)?
    {
        ArgoProgress::TimedOut(reason) => moved(RolloutEvent::WriteFailed { reason, now_ms }),
        ArgoProgress::Requested => moved(RolloutEvent::SyncRequested),
        ArgoProgress::Done(_) => moved(RolloutEvent::Applied { now_ms }),
        ArgoProgress::Waiting(summary) => Ok(Step::Wait(format!("waiting for Argo CD {summary}"))),
    }
}

/// What finishing a traffic write means beyond the state: the weight gauge, the run's
/// record and the narration. Called before the `Applied` event is returned.
async fn on_applied(
    ctx: &Context,
    p: &Pipeline,
    run: &RunRef,
    stable: &str,
    action: Action,
    now_ms: u64,
) -> Result<(), Retry> {
    match action {
        Action::Shift { weight } => {
            ctx.metrics.set(
                names::ROLLOUT_WEIGHT,
                &[("pipeline", &p.name)],
                i64::from(weight),
            );
            let text = format!(
                "{} now serves {weight}% of traffic ({stable} {}%)",
                run.version,
                100 - weight
            );
            ctx.note(&p.name, &text);
            p.notify(Kind::Step, &run.version, Some(weight), None, text);
        }
        Action::Complete => {
            ctx.metrics
                .set(names::ROLLOUT_WEIGHT, &[("pipeline", &p.name)], 0);
            ctx.store
                .set_run_status(
                    &run.id,
                    RunStatus::Promoted,
                    Some("rolled out"),
                    None,
                    now_ms,
                )
                .await
                .map_err(retry)?;
            ctx.metrics.inc(names::PROMOTIONS, &[("pipeline", &p.name)]);
            ctx.metrics.inc(
                names::RUNS,
                &[("pipeline", &p.name), ("outcome", "promoted")],
            );
            let text = format!(
                "rollout complete: {} is stable and serves all traffic",
                run.version
            );
            ctx.note(&p.name, &text);
            p.notify(Kind::Completed, &run.version, Some(100), None, text);
        }
    }
    Ok(())
}

/// One step while the candidate is rolled back.
///
/// # Errors
/// A transient failure: retried after a backoff. The revert is pushed whatever it
/// takes; `sluice status` shows why it has not been yet.
#[allow(clippy::too_many_arguments)]
pub async fn rolling_back(
    ctx: &Context,
    p: &Pipeline,
    plan: &RolloutPlan,
    state: &PipelineState,
    run: &RunRef,
    rollback: &Rollback,
    now_ms: u64,
    notices: &mut Notices,
) -> Result<Step, Retry> {
    let stable = stable_of(state)?.version.clone();
    if let Some(kube) = &plan.kube
        && !rollback.cut
    {
        // The fast path first: the candidate loses its traffic in the cluster now;
        // Git and Argo CD follow.
        let started = Instant::now();
        kube.set(TrafficState::without_traffic(&stable, &run.version))
            .await
            .map_err(retry)?;
        failpoint::hit("after-traffic-cut");
        ctx.note(
            &p.name,
            &format!(
                "cut {}'s traffic in the cluster ({} ms); {stable} serves everything",
                run.version,
                started.elapsed().as_millis()
            ),
        );
        return moved(RolloutEvent::Cut);
    }
    let change = plan
        .traffic
        .revert(&p.repo, &p.name, &stable, &run.version, &rollback.reason);
    let step = match write_step(
        ctx,
        p,
        plan,
        &rollback.revert,
        TrafficState::at_rest(&stable),
        change,
        now_ms,
        notices,
        "after-revert-push",
    )
    .await?
    {
        // Git holds the stable version; Argo CD not converging does not undo that.
        Step::Moved(Event::Rollout(RolloutEvent::WriteFailed { reason, .. })) => {
            ctx.note(&p.name, &format!("{reason}; the revert stays in Git"));
            Step::Moved(Event::Rollout(RolloutEvent::Applied { now_ms }))
        }
        other => other,
    };
    if let Step::Moved(Event::Rollout(RolloutEvent::Applied { .. })) = step {
        let reason = format!(
            "rolled back at {}%: {}",
            rollback.from_weight, rollback.reason
        );
        ctx.store
            .reject_run(&p.name, run, &reason, now_ms)
            .await
            .map_err(retry)?;
        ctx.metrics
            .set(names::ROLLOUT_WEIGHT, &[("pipeline", &p.name)], 0);
        ctx.metrics.inc(names::ROLLBACKS, &[("pipeline", &p.name)]);
        ctx.metrics.inc(
            names::RUNS,
            &[("pipeline", &p.name), ("outcome", "rolled-back")],
        );
        let text = format!(
            "rolled back: {stable} serves all traffic again; {} is rejected and never promoted automatically",
            run.version
        );
        ctx.note(&p.name, &text);
        p.notify(
            Kind::RolledBack,
            &run.version,
            Some(0),
            Some(&rollback.reason),
            text,
        );
    }
    Ok(step)
}
