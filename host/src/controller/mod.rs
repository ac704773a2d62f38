//! The controller: one task per pipeline running the phase machine of [`phase`].
//!
//! A tick loads the pipeline's persisted state, takes steps ([`step`]) until one has
//! to wait, and persists the state after each step — before the next side effect. A
//! transient failure keeps the phase, shows in `sluice status` and backs off
//! exponentially; it never stops the host or another pipeline.

pub mod events;
pub mod phase;
pub mod pipeline;
pub mod step;
pub mod supervisor;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::clock::now_ms;
use crate::metrics::names;
use crate::store::StoreError;

pub use phase::{Event, Notice, Phase, PipelineState, RunRef, Stop};
pub use pipeline::{ArgoTarget, Context, Observer, Pipeline, PolicySlot};
pub use step::{Notices, Retry, Step};
pub use supervisor::Supervisor;

/// Most steps in one tick (a whole happy path is 6).
const MAX_STEPS_PER_TICK: usize = 12;

/// How a tick ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TickOutcome {
    /// The pipeline waits for something; the text says what.
    Waiting(String),
    /// A training job runs; the text is its progress.
    Training(RunRef, String),
    /// A candidate rolls out or back; the next look is one analysis interval away.
    Rolling(String),
    /// Backing off after a transient failure until the given time (Unix ms).
    BackingOff(u64),
    /// A step failed transiently; it is retried after the backoff.
    Failed(String),
}

/// Errors a tick cannot recover from by itself: the state cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The persisted state does not fit an event (a state row edited by hand?).
    #[error("pipeline `{pipeline}`: {source}")]
    Transition {
        /// The pipeline.
        pipeline: String,
        /// The refused transition.
        #[source]
        source: phase::TransitionError,
    },
}

/// One tick of `p`: steps until the pipeline waits; returns why it waits.
///
/// # Errors
/// When the state cannot be loaded or saved (the database is down): nothing was done
/// that is not persisted, and the next tick retries.
pub async fn tick(ctx: &Context, p: &Pipeline) -> Result<TickOutcome, TickError> {
    let started = Instant::now();
    let result = tick_inner(ctx, p).await;
    ctx.metrics.add_seconds(
        names::TICK_SECONDS,
        &[("pipeline", &p.name)],
        started.elapsed(),
    );
    if let Err(e) = &result {
        ctx.metrics
            .inc(names::TICK_ERRORS, &[("pipeline", &p.name)]);
        tracing::warn!(pipeline = %p.name, error = %crate::error_chain(e), "tick failed; retrying next tick");
    }
    result
}

/// The persisted state of `p`, created (and persisted) on its first tick.
async fn load_or_create(ctx: &Context, p: &Pipeline) -> Result<PipelineState, TickError> {
    Ok(match ctx.store.load_state(&p.name).await? {
        Some(s) => s,
        None => {
            let s = PipelineState::new(p.production.clone());
            ctx.store.save_state(&p.name, &s, now_ms()).await?;
            s
        }
    })
}

/// Keeps the last of `notices` in `state` (and tells the observer); whether there was one.
fn keep_notices(
    ctx: &Context,
    p: &Pipeline,
    state: &mut PipelineState,
    notices: &mut step::Notices,
    now: u64,
) -> bool {
    let Some(text) = notices.pop() else {
        return false;
    };
    notices.clear();
    ctx.note(&p.name, &text);
    state.notice = Some(phase::Notice { text, at_ms: now });
    true
}

/// Checks at start-up that the deploy repo can take the pipeline's next promotion, so a
/// config mistake shows in `sluice status` and the log before anything is trained. A
/// mistake stops the pipeline's training (see [`phase::Stop`]); a repo that cannot be
/// reached now is only logged, and checked again before each training.
///
/// # Errors
/// When the state cannot be loaded or saved.
pub async fn check_at_start(ctx: &Context, p: &Pipeline) -> Result<(), TickError> {
    let mut state = load_or_create(ctx, p).await?;
    let version = state
        .phase
        .run()
        .map_or_else(|| state.next_version().1, |r| r.version.clone());
    let mut notices = Vec::new();
    let event = match step::check_deploy_repo(p, &state, &version, &mut notices).await {
        Ok(Ok(())) if state.stopped.is_some() => Some(Event::Resume),
        Ok(Ok(())) => None,
        Ok(Err(reason)) => {
            tracing::error!(pipeline = %p.name, %reason, "the deploy repo cannot take a promotion; this pipeline will not train until the config or the repository changes");
            Some(Event::Stop {
                reason,
                now_ms: now_ms(),
            })
        }
        Err(Retry(why)) => {
            tracing::warn!(pipeline = %p.name, error = %why, "cannot check the deploy repo at start-up; it is checked again before training");
            None
        }
    };
    let now = now_ms();
    let noticed = keep_notices(ctx, p, &mut state, &mut notices, now);
    let changed = event.is_some();
    if let Some(event) = event {
        state = phase::apply(&state, event).map_err(|source| TickError::Transition {
            pipeline: p.name.clone(),
            source,
        })?;
    }
    if noticed || changed {
        ctx.store.save_state(&p.name, &state, now).await?;
    }
    Ok(())
}

async fn tick_inner(ctx: &Context, p: &Pipeline) -> Result<TickOutcome, TickError> {
    let mut state = load_or_create(ctx, p).await?;
    let now = now_ms();
    if state.next_attempt_ms > now {
        return Ok(TickOutcome::BackingOff(state.next_attempt_ms));
    }
    let mut notices = Vec::new();
    for _ in 0..MAX_STEPS_PER_TICK {
        let now = now_ms();
        let stepped = step::step(ctx, p, &state, now, &mut notices).await;
        match stepped {
            Ok(Step::Wait(why)) => {
                let noticed = keep_notices(ctx, p, &mut state, &mut notices, now);
                if state.last_error.is_some() || noticed {
                    state = phase::succeeded_attempt(&state);
                    ctx.store.save_state(&p.name, &state, now).await?;
                }
                return Ok(match &state.phase {
                    Phase::Training {
                        run,
                        dispatched: true,
                        ..
                    } => TickOutcome::Training(run.clone(), why),
                    Phase::RollingOut { .. } | Phase::RollingBack { .. } => {
                        TickOutcome::Rolling(why)
                    }
                    _ => TickOutcome::Waiting(why),
                });
            }
            Ok(Step::Moved(event)) => {
                // A run that ends (back to idle) ends the tick: the next run is
                // considered next tick. So does a stop: it is checked again next interval.
                let was_idle = matches!(state.phase, Phase::Idle);
                let is_stop = matches!(event, Event::Stop { .. });
                let allocated = match &event {
                    Event::RunAllocated { run, .. } => Some(run.clone()),
                    _ => None,
                };
                let mut next =
                    phase::apply(&state, event).map_err(|source| TickError::Transition {
                        pipeline: p.name.clone(),
                        source,
                    })?;
                keep_notices(ctx, p, &mut next, &mut notices, now);
                match allocated {
                    Some(run) => ctx.store.begin_run(&p.name, &run, &next, now).await?,
                    None => ctx.store.save_state(&p.name, &next, now).await?,
                }
                state = next;
                let ends_run = is_stop || (!was_idle && matches!(state.phase, Phase::Idle));
                if ends_run {
                    return Ok(TickOutcome::Waiting(match &state.stopped {
                        Some(stop) => format!("stopped: {}", stop.reason),
                        None => "the run ended".into(),
                    }));
                }
            }
            Err(Retry(message)) => {
                let mut next = phase::failed_attempt(&state, message.clone(), now);
                keep_notices(ctx, p, &mut next, &mut notices, now);
                ctx.store.save_state(&p.name, &next, now).await?;
                tracing::warn!(pipeline = %p.name, phase = state.phase.name(), retries = next.retries, error = %message, "step failed; backing off");
                return Ok(TickOutcome::Failed(message));
            }
        }
    }
    Ok(TickOutcome::Waiting(
        "step limit reached; continuing next tick".into(),
    ))
}

/// Runs every pipeline until `shutdown` turns true. A tick in progress finishes first.
pub async fn run(ctx: Context, pipelines: Vec<Arc<Pipeline>>, shutdown: watch::Receiver<bool>) {
    let mut supervisor = Supervisor::new(ctx, shutdown);
    for p in pipelines {
        supervisor.start(p).await;
    }
    supervisor.wait().await;
}

/// Runs `p` until `shutdown` or `stop` turns true: a start-up check of the deploy repo,
/// then ticks — each in its own task, so a panic ends only that tick — with the
/// interval between them, or the Job's end while one trains. A tick in progress
/// finishes first. After each tick `p.ticked` (if any) is bumped.
pub async fn run_pipeline(
    ctx: Context,
    p: Arc<Pipeline>,
    mut shutdown: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if let Err(e) = check_at_start(&ctx, &p).await {
        tracing::warn!(pipeline = %p.name, error = %crate::error_chain(&e), "the start-up check of the deploy repo could not be recorded");
    }
    loop {
        let (c, q) = (ctx.clone(), Arc::clone(&p));
        let outcome = match tokio::spawn(async move { tick(&c, &q).await }).await {
            Ok(Ok(o)) => Some(o),
            Ok(Err(_)) => None,
            Err(e) => {
                tracing::error!(pipeline = %p.name, error = %e, "a tick panicked; the pipeline continues next tick");
                None
            }
        };
        if let Some(t) = &p.ticked {
            t.send_modify(|n| *n += 1);
        }
        // While a job trains, watch it instead of sleeping, so its end is seen at once;
        // otherwise wait for the interval.
        let wait = async {
            match &outcome {
                Some(TickOutcome::Training(run, _)) => {
                    p.executor
                        .wait_for_change(&run.job, &run.id, p.interval)
                        .await;
                }
                Some(TickOutcome::Rolling(_)) => {
                    let every = p.rollout.as_ref().map_or(p.interval, |r| r.interval);
                    tokio::time::sleep(every.min(p.interval)).await;
                }
                _ => tokio::time::sleep(p.interval).await,
            }
        };
        tokio::select! {
            _ = wait => {}
            _ = shutdown.changed() => {}
            _ = stop.changed() => {}
        }
        if *shutdown.borrow() || *stop.borrow() {
            break;
        }
    }
}
