//! One step of a pipeline: look at the world for the current phase, perform at most
//! one idempotent side effect, and say which [`Event`] happened. The caller persists
//! the resulting state before the next step, so a crash between a side effect and its
//! persistence only repeats that (idempotent) side effect.

use crate::clock::from_ms;
use crate::decision::{
    Promotion, PromotionContext, PromotionDecision, Retrain, RetrainContext, RetrainDecision,
};
use crate::executor::{JobSpec, JobState, job_name, parse_report};
use crate::failpoint;
use crate::gitops::Change;
use crate::metrics::names;
use crate::notify::Kind;
use crate::policy::{Binding, Evaluation, WitPoint, decide};

use super::phase::{Event, Phase, PipelineState, RunRef};
use super::pipeline::{ArgoProgress, Context, Pipeline, PolicySlot};
use crate::store::RunStatus;

/// What a step found.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Something happened; persist it and take the next step.
    Moved(Event),
    /// Nothing to do until the next tick; the text says what is awaited.
    Wait(String),
}

/// A transient failure: the phase stays and the step is retried after a backoff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Retry(pub String);

/// A transient failure carrying `e`'s chain.
pub(crate) fn retry(e: impl std::error::Error) -> Retry {
    Retry(crate::error_chain(&e))
}

/// Things an operator should know that a step found on the way (the kept clone was
/// cloned again); the caller keeps the last one in the pipeline's state.
pub type Notices = Vec<String>;

/// Takes the step the current phase calls for.
///
/// # Errors
/// A transient failure (database, executor, git remote, Argo CD unreachable).
pub async fn step(
    ctx: &Context,
    p: &Pipeline,
    state: &PipelineState,
    now_ms: u64,
    notices: &mut Notices,
) -> Result<Step, Retry> {
    match &state.phase {
        Phase::Idle => idle(ctx, p, state, now_ms, notices).await,
        Phase::Training {
            run,
            args,
            dispatched: false,
        } => dispatch(ctx, p, run, args, now_ms).await,
        Phase::Training { run, .. } => training(ctx, p, run, now_ms).await,
        Phase::Evaluating { run, report } => {
            let c = PromotionContext {
                pipeline: p.name.clone(),
                params: Vec::new(),
                candidate: report.clone(),
                production: state.production.clone(),
            };
            let eval = ask::<Promotion>(ctx, p, &p.promotion, c, now_ms, Some(&run.id)).await?;
            let reason = eval.decision.reason().to_owned();
            failpoint::hit("after-promotion-decision");
            Ok(Step::Moved(match eval.decision {
                PromotionDecision::Promote { .. } => {
                    ctx.note(
                        &p.name,
                        &format!("promotion policy: promote {} — {reason}", run.version),
                    );
                    Event::Promote
                }
                PromotionDecision::Reject { .. } => {
                    ctx.note(
                        &p.name,
                        &format!("promotion policy: reject {} — {reason}", run.version),
                    );
                    ctx.store
                        .reject_run(&p.name, run, &reason, now_ms)
                        .await
                        .map_err(retry)?;
                    ctx.metrics.inc(
                        names::RUNS,
                        &[("pipeline", &p.name), ("outcome", "rejected")],
                    );
                    Event::Reject
                }
                PromotionDecision::AwaitApproval { .. } => {
                    ctx.note(
                        &p.name,
                        &format!(
                            "promotion policy: {} awaits approval — {reason}",
                            run.version
                        ),
                    );
                    Event::AwaitApproval(reason)
                }
            }))
        }
        Phase::AwaitingApproval { run, reason, .. } => Ok(Step::Wait(format!(
            "{} awaits approval ({reason}); run `sluice approve {}` or `sluice approve --reject {}`",
            run.version, p.name, p.name
        ))),
        Phase::Promoting { run, .. } => promoting(ctx, p, state, run, now_ms, notices).await,
        Phase::Syncing {
            run,
            commit,
            since_ms,
            requested,
            ..
        } => syncing(ctx, p, state, run, commit, *since_ms, *requested, now_ms).await,
        Phase::RollingOut { run, progress, .. } => match &p.rollout {
            Some(plan) => {
                crate::rollout::step::rolling_out(
                    ctx, p, plan, state, run, progress, now_ms, notices,
                )
                .await
            }
            None => Ok(Step::Wait(no_rollout_section(p))),
        },
        Phase::RollingBack { run, rollback, .. } => match &p.rollout {
            Some(plan) => {
                crate::rollout::step::rolling_back(
                    ctx, p, plan, state, run, rollback, now_ms, notices,
                )
                .await
            }
            None => Ok(Step::Wait(no_rollout_section(p))),
        },
    }
}

/// What status says when a rollout is in progress but the config lost its section.
fn no_rollout_section(p: &Pipeline) -> String {
    format!(
        "a rollout of pipeline `{}` is in progress but its config has no `rollout` section; restore it so the rollout can finish or roll back",
        p.name
    )
}

/// The change that promotes `version`: the promotion targets and, with a rollout, the
/// traffic targets with the candidate next to the stable version at weight 0.
fn promotion_change(p: &Pipeline, state: &PipelineState, version: &str) -> Change {
    match &p.rollout {
        Some(plan) => plan.traffic.promote(
            &p.repo,
            &p.name,
            state.production.as_ref().map(|m| m.version.as_str()),
            version,
        ),
        None => p.repo.promotion(&p.name, version),
    }
}

/// Makes the promotion of `version` in memory (fetch, every edit, no commit) to find a
/// config or repository mistake before a model is trained for nothing.
///
/// `Ok(Err(reason))`: the promotion cannot succeed until the config or the repository
/// changes. `Err`: the deploy repo could not be checked now (transient).
pub async fn check_deploy_repo(
    p: &Pipeline,
    state: &PipelineState,
    version: &str,
    notices: &mut Notices,
) -> Result<Result<(), String>, Retry> {
    let change = promotion_change(p, state, version);
    let repo = p.repo.clone();
    let result = tokio::task::spawn_blocking(move || repo.check_change(&change))
        .await
        .map_err(|e| Retry(format!("the git task failed: {e}")))?;
    match result {
        Ok(checked) => {
            notices.extend(checked.clone_reset);
            Ok(Ok(()))
        }
        Err(e) if e.is_transient() => Err(Retry(format!(
            "cannot check the deploy repo before training ({}); training waits until it can",
            crate::error_chain(&e)
        ))),
        Err(e) => Ok(Err(crate::error_chain(&e))),
    }
}

/// What `sluice status` says while a pipeline is stopped.
fn stopped_text(reason: &str) -> String {
    format!(
        "stopped, no training: the deploy repo cannot take a promotion: {reason}; fix the config or the repository (checked again every interval)"
    )
}

async fn idle(
    ctx: &Context,
    p: &Pipeline,
    state: &PipelineState,
    now_ms: u64,
    notices: &mut Notices,
) -> Result<Step, Retry> {
    if let Some(stop) = &state.stopped {
        let (_, version) = state.next_version();
        return Ok(
            match check_deploy_repo(p, state, &version, notices).await? {
                Ok(()) => {
                    ctx.note(
                        &p.name,
                        "the deploy repo can take a promotion again; training may resume",
                    );
                    Step::Moved(Event::Resume)
                }
                Err(reason) if reason != stop.reason => Step::Moved(Event::Stop { reason, now_ms }),
                Err(reason) => Step::Wait(stopped_text(&reason)),
            },
        );
    }
    let counts = p.data.counts().await.map_err(retry)?;
    let active = p.executor.active(&p.name).await.map_err(|e| {
        Retry(format!(
            "cannot tell whether a training job of `{}` is running ({}); treating it as busy",
            p.name,
            crate::error_chain(&e)
        ))
    })?;
    let c = RetrainContext {
        pipeline: p.name.clone(),
        params: Vec::new(),
        new_samples: counts.new,
        total_samples: counts.total,
        seconds_since_last_training: state
            .last_training_started_ms
            .map(|t| now_ms.saturating_sub(t) / 1000),
        last_outcome: state.last_outcome,
        run_active: !active.is_empty(),
        production: state.production.clone(),
    };
    let eval = ask::<Retrain>(ctx, p, &p.retrain, c, now_ms, None).await?;
    match eval.decision {
        RetrainDecision::Wait { reason } => Ok(Step::Wait(format!(
            "{} new verified samples; retrain policy: wait — {reason}",
            counts.new
        ))),
        RetrainDecision::Train { .. } if !active.is_empty() => Ok(Step::Wait(format!(
            "retrain policy said train, but job {} is still running; one run at a time",
            active.join(", ")
        ))),
        RetrainDecision::Train { reason, args } => {
            let (seq, version) = state.next_version();
            if let Err(why) = check_deploy_repo(p, state, &version, notices).await? {
                tracing::error!(pipeline = %p.name, reason = %why, "not training: the deploy repo cannot take the promotion");
                ctx.note(&p.name, &stopped_text(&why));
                return Ok(Step::Moved(Event::Stop {
                    reason: why,
                    now_ms,
                }));
            }
            // The run id is the job name: unique per millisecond, and short enough
            // (≤ 63) to be a Kubernetes label value.
            let job = job_name(&p.name, now_ms);
            let run = RunRef {
                id: job.clone(),
                job,
                version,
            };
            ctx.note(
                &p.name,
                &format!(
                    "{} new verified samples; retrain policy: train — {reason}",
                    counts.new
                ),
            );
            Ok(Step::Moved(Event::RunAllocated {
                run,
                seq,
                args,
                now_ms,
            }))
        }
    }
}

async fn dispatch(
    ctx: &Context,
    p: &Pipeline,
    run: &RunRef,
    args: &[String],
    now_ms: u64,
) -> Result<Step, Retry> {
    let claimed = p.data.claim(&run.id).await.map_err(retry)?;
    failpoint::hit("after-claim");
    ctx.store
        .add_claimed(&run.id, claimed)
        .await
        .map_err(retry)?;
    let spec = JobSpec {
        pipeline: p.name.clone(),
        run_id: run.id.clone(),
        job_name: run.job.clone(),
        version: run.version.clone(),
        extra_args: args.to_vec(),
    };
    if let Err(e) = p.executor.dispatch(&spec).await {
        // The rows stay claimed by this run: the retry dispatches the same run.
        return Err(retry(e));
    }
    failpoint::hit("after-dispatch");
    ctx.store
        .set_run_status(&run.id, RunStatus::Running, None, None, now_ms)
        .await
        .map_err(retry)?;
    ctx.metrics.inc(
        names::RUNS,
        &[("pipeline", &p.name), ("outcome", "started")],
    );
    let text = format!(
        "claimed {claimed} rows; training job {} started (MODEL_VERSION={})",
        run.job, run.version
    );
    ctx.note(&p.name, &text);
    if let Some(e) = &p.events {
        e.emit(super::events::PipelineEvent::dispatched(&text));
    }
    Ok(Step::Moved(Event::Dispatched))
}

async fn training(ctx: &Context, p: &Pipeline, run: &RunRef, now_ms: u64) -> Result<Step, Retry> {
    match p.executor.state(&run.job).await.map_err(retry)? {
        JobState::Running { detail } => {
            if !detail.is_empty() {
                ctx.note(&p.name, &format!("training {}: {detail}", run.job));
            }
            Ok(Step::Wait(format!(
                "training job {} running {detail}",
                run.job
            )))
        }
        JobState::Succeeded { report } => match parse_report(&report, &run.version) {
            Ok(report) => {
                ctx.store
                    .set_run_status(&run.id, RunStatus::Trained, None, None, now_ms)
                    .await
                    .map_err(retry)?;
                ctx.note(
                    &p.name,
                    &format!(
                        "training job {} succeeded: candidate {} {}",
                        run.job,
                        report.version,
                        report
                            .metrics
                            .iter()
                            .map(|m| format!("{}={}", m.name, m.value))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                );
                Ok(Step::Moved(Event::TrainingSucceeded(report)))
            }
            Err(e) => fail_run(ctx, p, run, &e.to_string(), true, now_ms).await,
        },
        JobState::Failed { reason } => fail_run(ctx, p, run, &reason, true, now_ms).await,
        JobState::Missing => {
            fail_run(
                ctx,
                p,
                run,
                &format!("training job {} no longer exists (deleted?)", run.job),
                true,
                now_ms,
            )
            .await
        }
    }
}

async fn promoting(
    ctx: &Context,
    p: &Pipeline,
    state: &PipelineState,
    run: &RunRef,
    now_ms: u64,
    notices: &mut Notices,
) -> Result<Step, Retry> {
    if let Some(why) = ctx
        .store
        .rejection(&p.name, &run.version)
        .await
        .map_err(retry)?
    {
        let reason = format!(
            "{} was rejected before ({why}); it is never promoted automatically",
            run.version
        );
        return fail_run(ctx, p, run, &reason, false, now_ms).await;
    }
    if let Some(kube) = p.rollout.as_ref().and_then(|r| r.kube.as_ref()) {
        // In the cluster as in Git (see `promotion_change`).
        let stable = state.production.as_ref().map(|m| m.version.as_str());
        kube.set(crate::traffic::TrafficState::promoted(stable, &run.version))
            .await
            .map_err(retry)?;
    }
    let change = promotion_change(p, state, &run.version);
    match push_change(ctx, p, change, "after-push", notices).await? {
        Ok(done) => {
            ctx.store
                .set_run_status(
                    &run.id,
                    RunStatus::Trained,
                    None,
                    Some(&done.commit),
                    now_ms,
                )
                .await
                .map_err(retry)?;
            if p.argo.is_some() {
                Ok(Step::Moved(Event::Pushed {
                    commit: done.commit,
                    now_ms,
                }))
            } else {
                finish_promotion(ctx, p, state, run, now_ms).await
            }
        }
        Err(e) if e.is_transient() => Err(retry(e)),
        Err(e) => {
            // Retrying cannot fix this, and training again would only fail here again:
            // the run fails and the pipeline stops until the config or repo changes.
            let reason = crate::error_chain(&e);
            record_failure(ctx, p, run, &reason, true, now_ms).await?;
            tracing::error!(pipeline = %p.name, %reason, "the promotion cannot succeed; no training until the config or the deploy repo changes");
            Ok(Step::Moved(Event::PromotionImpossible { reason, now_ms }))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn syncing(
    ctx: &Context,
    p: &Pipeline,
    state: &PipelineState,
    run: &RunRef,
    commit: &str,
    since_ms: u64,
    requested: bool,
    now_ms: u64,
) -> Result<Step, Retry> {
    let Some(argo) = &p.argo else {
        // Argo CD was removed from the config while waiting: the push is done.
        return finish_promotion(ctx, p, state, run, now_ms).await;
    };
    match argo
        .progress(commit, since_ms, requested, now_ms)
        .await
        .map_err(retry)?
    {
        ArgoProgress::TimedOut(why) => {
            let reason = format!("{why}; the commit stays in Git");
            fail_run(ctx, p, run, &reason, false, now_ms).await
        }
        ArgoProgress::Requested => {
            ctx.note(
                &p.name,
                &format!("asked Argo CD to sync `{}` to {commit}", argo.application),
            );
            Ok(Step::Moved(Event::SyncRequested))
        }
        ArgoProgress::Done(summary) => {
            ctx.note(&p.name, &format!("Argo CD: {summary}"));
            finish_promotion(ctx, p, state, run, now_ms).await
        }
        ArgoProgress::Waiting(summary) => Ok(Step::Wait(format!("waiting for Argo CD {summary}"))),
    }
}

async fn finish_promotion(
    ctx: &Context,
    p: &Pipeline,
    state: &PipelineState,
    run: &RunRef,
    now_ms: u64,
) -> Result<Step, Retry> {
    if let (Some(_), Some(stable)) = (&p.rollout, &state.production) {
        let text = format!(
            "{} is deployed next to {} with no traffic yet; the rollout begins",
            run.version, stable.version
        );
        ctx.note(&p.name, &text);
        p.notify(Kind::Promoted, &run.version, Some(0), None, text);
        return Ok(Step::Moved(Event::RolloutStarted { now_ms }));
    }
    ctx.store
        .set_run_status(&run.id, RunStatus::Promoted, Some("promoted"), None, now_ms)
        .await
        .map_err(retry)?;
    ctx.metrics.inc(names::PROMOTIONS, &[("pipeline", &p.name)]);
    ctx.metrics.inc(
        names::RUNS,
        &[("pipeline", &p.name), ("outcome", "promoted")],
    );
    let text = format!("{} is in production", run.version);
    ctx.note(&p.name, &text);
    p.notify(Kind::Promoted, &run.version, None, None, text);
    Ok(Step::Moved(Event::Promoted))
}

/// Writes `change` to the deploy repo (on a blocking thread: libgit2), hits
/// `failpoint_name` once it is pushed, and tells what it did: a re-cloned cache as a
/// notice, retries in the metrics, the commit in the narration.
///
/// `Ok(Err(_))` is the git error for the caller to judge (transient or not);
/// `Err` only when the git task itself died.
pub(crate) async fn push_change(
    ctx: &Context,
    p: &Pipeline,
    change: Change,
    failpoint_name: &str,
    notices: &mut Notices,
) -> Result<Result<crate::gitops::Promotion, crate::gitops::GitError>, Retry> {
    let repo = p.repo.clone();
    let subject = change.subject.clone();
    let result = tokio::task::spawn_blocking(move || repo.apply(&change))
        .await
        .map_err(|e| Retry(format!("the git task failed: {e}")))?;
    let Ok(done) = &result else {
        return Ok(result);
    };
    failpoint::hit(failpoint_name);
    notices.extend(done.clone_reset.clone());
    for _ in 0..done.retried + done.reapplied {
        ctx.metrics
            .inc(names::PUSH_RETRIES, &[("pipeline", &p.name)]);
    }
    ctx.note(
        &p.name,
        &if done.changed {
            format!(
                "pushed `{subject}` as {} to {} ({} retries, {} re-applied after concurrent pushes)",
                &done.commit[..12.min(done.commit.len())],
                p.repo.settings().url,
                done.retried,
                done.reapplied
            )
        } else {
            format!("the deploy repo already holds `{subject}`; nothing to commit")
        },
    );
    Ok(result)
}

/// Ends the run as failed: gives its rows back (when `release`), records why.
async fn fail_run(
    ctx: &Context,
    p: &Pipeline,
    run: &RunRef,
    reason: &str,
    release: bool,
    now_ms: u64,
) -> Result<Step, Retry> {
    record_failure(ctx, p, run, reason, release, now_ms).await?;
    Ok(Step::Moved(Event::RunFailed))
}

/// Gives a failed run's rows back (when `release`) and records why.
async fn record_failure(
    ctx: &Context,
    p: &Pipeline,
    run: &RunRef,
    reason: &str,
    release: bool,
    now_ms: u64,
) -> Result<(), Retry> {
    let released = if release {
        p.data.release(&run.id).await.map_err(retry)?
    } else {
        0
    };
    ctx.store
        .set_run_status(&run.id, RunStatus::Failed, Some(reason), None, now_ms)
        .await
        .map_err(retry)?;
    ctx.metrics
        .inc(names::RUNS, &[("pipeline", &p.name), ("outcome", "failed")]);
    let text = format!("run {} failed: {reason} ({released} rows released)", run.id);
    ctx.note(&p.name, &text);
    p.notify(Kind::RunFailed, &run.version, None, Some(reason), text);
    Ok(())
}

/// Asks the policy in `slot` and writes the decision to the audit log before it is
/// acted on. A decision that cannot be recorded is not acted on.
pub(crate) async fn ask<P: WitPoint>(
    ctx: &Context,
    p: &Pipeline,
    slot: &PolicySlot<P::FailSafe>,
    c: P::Context,
    now_ms: u64,
    run_id: Option<&str>,
) -> Result<Evaluation<P>, Retry> {
    let active = ctx
        .registry
        .get(&slot.module)
        .ok_or_else(|| Retry(format!("policy module `{}` is not loaded", slot.module)))?;
    let params = active.params.get(&p.name).cloned().ok_or_else(|| {
        Retry(format!(
            "policy module `{}` was not checked for pipeline `{}`",
            slot.module, p.name
        ))
    })?;
    let binding = Binding::<P> {
        params,
        limits: slot.limits,
        fail_safe: slot.fail_safe,
    };
    let eval = decide::<P>(
        &ctx.engine,
        &active.module,
        &binding,
        c,
        from_ms(now_ms),
        &ctx.metrics,
    );
    ctx.store
        .remember_module(
            &active.module.sha256,
            active.module.point,
            &active.module.description,
            now_ms,
        )
        .await
        .map_err(retry)?;
    ctx.store
        .record_decision(&eval.record, run_id)
        .await
        .map_err(retry)?;
    Ok(eval)
}
