//! `sluice rollout status|pause|resume|abort|promote PIPELINE`: look at a rollout, or
//! queue an operator request that the running host acts on at its next step (and
//! records in the audit log with who and why).

use std::fmt::Write as _;

use crate::cli::ops::{OpsError, ago};
use crate::cli::printable;
use crate::clock::now_ms;
use crate::controller::Phase;
use crate::store::{RolloutAction, Store};

/// Prints where the rollout of `pipeline` is.
///
/// # Errors
/// Unknown pipeline, store failure.
pub async fn status(store: &Store, pipeline: &str) -> Result<String, OpsError> {
    let state = store
        .load_state(pipeline)
        .await?
        .ok_or_else(|| OpsError::Unknown(pipeline.to_owned()))?;
    let stable = state
        .production
        .as_ref()
        .map_or("none", |m| m.version.as_str());
    let mut out = String::new();
    match &state.phase {
        Phase::RollingOut {
            run, progress: p, ..
        } => {
            let _ = writeln!(
                out,
                "{pipeline}: rolling out {} — {}% of traffic ({stable} {}%), step {}, since {}",
                run.version,
                p.weight,
                100 - p.weight,
                p.step_index,
                ago(p.step_started_ms)
            );
            let _ = writeln!(
                out,
                "  verdict    {}{}",
                p.verdict.map_or("none yet", |v| v.as_str()),
                p.last_analysis_ms
                    .map(|t| format!(" (analysed {})", ago(t)))
                    .unwrap_or_default()
            );
            let _ = writeln!(out, "  holds      {} in a row at this step", p.holds);
            if let Some(e) = &p.analysis_error {
                let _ = writeln!(out, "  NO DATA    {}", printable(e));
            }
            if let Some(by) = &p.paused {
                let _ = writeln!(out, "  PAUSED     {}", printable(by));
            }
            if let Some(w) = &p.pending {
                let _ = writeln!(
                    out,
                    "  writing    {:?} — {} ({})",
                    w.action,
                    printable(&w.reason),
                    w.commit
                        .as_ref()
                        .map_or("not pushed yet".to_owned(), |c| format!("pushed {c}"))
                );
            }
        }
        Phase::RollingBack { run, rollback, .. } => {
            let _ = writeln!(
                out,
                "{pipeline}: rolling back {} to {stable} (from {}%, started {}) — {}",
                run.version,
                rollback.from_weight,
                ago(rollback.started_ms),
                printable(&rollback.reason)
            );
            let _ = writeln!(
                out,
                "  revert     {}",
                rollback
                    .revert
                    .commit
                    .as_ref()
                    .map_or("not pushed yet".to_owned(), |c| format!("pushed {c}"))
            );
        }
        other => {
            let _ = writeln!(
                out,
                "{pipeline}: no rollout in progress ({}); stable {stable}",
                other.name()
            );
        }
    }
    if let Some(e) = &state.last_error {
        let _ = writeln!(out, "  last error {}", printable(e));
    }
    Ok(out)
}

/// Queues `action` for the rollout in progress of `pipeline`.
///
/// # Errors
/// No rollout in progress, store failure.
pub async fn request(
    store: &Store,
    pipeline: &str,
    action: RolloutAction,
    who: &str,
    reason: &str,
) -> Result<String, OpsError> {
    let state = store
        .load_state(pipeline)
        .await?
        .ok_or_else(|| OpsError::Unknown(pipeline.to_owned()))?;
    let Phase::RollingOut { run, .. } = &state.phase else {
        return Err(OpsError::NotRollingOut {
            pipeline: pipeline.to_owned(),
            phase: state.phase.name(),
        });
    };
    store
        .request_rollout_action(pipeline, &run.id, action, who, reason, now_ms())
        .await?;
    Ok(format!(
        "{pipeline}: `{}` of {} queued; the running host acts on it at its next step and records it in the audit log",
        action.as_str(),
        run.version
    ))
}
