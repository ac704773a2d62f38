//! The controller: one task per pipeline running the phase machine of [`phase`].
//!
//! A tick loads the pipeline's persisted state, takes steps ([`step`]) until one has
//! to wait, and persists the state after each step — before the next side effect. A
//! transient failure keeps the phase, shows in `sluice status` and backs off
//! exponentially; it never stops the host or another pipeline.

pub mod phase;
pub mod pipeline;
pub mod step;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::clock::now_ms;
use crate::metrics::names;
use crate::store::StoreError;

pub use phase::{Event, Phase, PipelineState, RunRef};
pub use pipeline::{ArgoTarget, Context, Observer, Pipeline, PolicySlot};
pub use step::{Retry, Step};

/// Most steps in one tick (a whole happy path is 6).
const MAX_STEPS_PER_TICK: usize = 12;

/// How a tick ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TickOutcome {
    /// The pipeline waits for something; the text says what.
    Waiting(String),
    /// A training job runs; the text is its progress.
    Training(RunRef, String),
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

async fn tick_inner(ctx: &Context, p: &Pipeline) -> Result<TickOutcome, TickError> {
    let mut state = match ctx.store.load_state(&p.name).await? {
        Some(s) => s,
        None => {
            let s = PipelineState::new(p.production.clone());
            ctx.store.save_state(&p.name, &s, now_ms()).await?;
            s
        }
    };
    let now = now_ms();
    if state.next_attempt_ms > now {
        return Ok(TickOutcome::BackingOff(state.next_attempt_ms));
    }
    for _ in 0..MAX_STEPS_PER_TICK {
        let now = now_ms();
        match step::step(ctx, p, &state, now).await {
            Ok(Step::Wait(why)) => {
                if state.last_error.is_some() {
                    state = phase::succeeded_attempt(&state);
                    ctx.store.save_state(&p.name, &state, now).await?;
                }
                return Ok(match &state.phase {
                    Phase::Training {
                        run,
                        dispatched: true,
                        ..
                    } => TickOutcome::Training(run.clone(), why),
                    _ => TickOutcome::Waiting(why),
                });
            }
            Ok(Step::Moved(event)) => {
                // A run that ends ends the tick: the next run is considered next tick.
                let ends_run = matches!(event, Event::RunFailed | Event::Reject | Event::Promoted);
                let allocated = match &event {
                    Event::RunAllocated { run, .. } => Some(run.clone()),
                    _ => None,
                };
                let next = phase::apply(&state, event).map_err(|source| TickError::Transition {
                    pipeline: p.name.clone(),
                    source,
                })?;
                match allocated {
                    Some(run) => ctx.store.begin_run(&p.name, &run, &next, now).await?,
                    None => ctx.store.save_state(&p.name, &next, now).await?,
                }
                state = next;
                if ends_run {
                    return Ok(TickOutcome::Waiting("the run ended".into()));
                }
            }
            Err(Retry(message)) => {
                let next = phase::failed_attempt(&state, message.clone(), now);
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
    let mut tasks = Vec::new();
    for p in pipelines {
        let ctx = ctx.clone();
        let mut shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let (c, q) = (ctx.clone(), Arc::clone(&p));
                // A panic in a tick is contained to that tick.
                let outcome = match tokio::spawn(async move { tick(&c, &q).await }).await {
                    Ok(Ok(o)) => Some(o),
                    Ok(Err(_)) => None,
                    Err(e) => {
                        tracing::error!(pipeline = %p.name, error = %e, "a tick panicked; the pipeline continues next tick");
                        None
                    }
                };
                // While a job trains, watch it instead of sleeping, so its end is seen
                // at once; otherwise wait for the interval.
                let wait = async {
                    match &outcome {
                        Some(TickOutcome::Training(run, _)) => {
                            p.executor.wait_for_change(&run.job, &run.id, p.interval).await;
                        }
                        _ => tokio::time::sleep(p.interval).await,
                    }
                };
                tokio::select! {
                    _ = wait => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
