//! `sluice status`, `sluice decisions` and `sluice approve`: read (and for approve,
//! write) sluice's store as named by a config file.

use std::fmt::Write as _;

use crate::cli::printable;
use crate::clock::now_ms;
use crate::config::LoadedConfig;
use crate::controller::{Event, Phase, phase};
use crate::store::{Store, StoreError};

/// Failures of these commands.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store cannot be opened.
    #[error(transparent)]
    Start(#[from] crate::daemon::StartError),
    /// Nothing to approve.
    #[error("pipeline `{pipeline}` is {phase}, not awaiting approval; nothing changed")]
    NotAwaiting {
        /// The pipeline.
        pipeline: String,
        /// Its phase.
        phase: &'static str,
    },
    /// No rollout to act on.
    #[error("pipeline `{pipeline}` is {phase}, not rolling out; nothing changed")]
    NotRollingOut {
        /// The pipeline.
        pipeline: String,
        /// Its phase.
        phase: &'static str,
    },
    /// Unknown pipeline.
    #[error("no pipeline `{0}` has state in this store")]
    Unknown(String),
}

/// Opens the store the config names.
///
/// # Errors
/// When it cannot be opened.
pub async fn open_store(loaded: &LoadedConfig) -> Result<Store, OpsError> {
    Ok(crate::daemon::open_store(loaded).await?)
}

/// `ms` (Unix ms) as "12s ago".
pub(crate) fn ago(ms: u64) -> String {
    let s = now_ms().saturating_sub(ms) / 1000;
    match s {
        0..=119 => format!("{s}s ago"),
        120..=7199 => format!("{}m ago", s / 60),
        _ => format!("{}h ago", s / 3600),
    }
}

/// The status report.
///
/// # Errors
/// Store failures.
pub async fn status(store: &Store, json: bool) -> Result<String, OpsError> {
    let states = store.all_states().await?;
    let refused = store.refusals().await?;
    if json {
        let v: Vec<_> = states
            .iter()
            .map(|(n, s, u)| serde_json::json!({ "pipeline": n, "state": s, "updated_ms": u }))
            .collect();
        let all = serde_json::json!({ "pipelines": v, "refused_policy_modules": refused });
        return Ok(serde_json::to_string_pretty(&all).unwrap_or_default());
    }
    let mut out = String::new();
    if states.is_empty() {
        out.push_str("no pipeline has run yet\n");
    }
    for (name, s, updated) in &states {
        let _ = writeln!(
            out,
            "{name}: {} (updated {})",
            s.phase.name(),
            ago(*updated)
        );
        if let Some(run) = s.phase.run() {
            let _ = writeln!(
                out,
                "  run        {} job {} candidate {}",
                run.id, run.job, run.version
            );
        }
        if let Phase::AwaitingApproval { reason, .. } = &s.phase {
            let _ = writeln!(out, "  awaiting   {reason}  (sluice approve {name})");
        }
        if let Phase::RollingOut { run, progress, .. } = &s.phase {
            let _ = writeln!(
                out,
                "  rollout    {} at {}%, step {}, verdict {}, {} holds{}  (sluice rollout status {name})",
                run.version,
                progress.weight,
                progress.step_index,
                progress.verdict.map_or("none yet", |v| v.as_str()),
                progress.holds,
                if progress.paused.is_some() {
                    ", PAUSED"
                } else {
                    ""
                }
            );
            if let Some(e) = &progress.analysis_error {
                let _ = writeln!(out, "  NO DATA    {}", printable(e));
            }
        }
        if let Phase::RollingBack { run, rollback, .. } = &s.phase {
            let _ = writeln!(
                out,
                "  rollback   {}: {}",
                run.version,
                printable(&rollback.reason)
            );
        }
        let prod = s.production.as_ref().map_or("none".to_owned(), |p| {
            format!(
                "{} {}",
                p.version,
                p.metrics
                    .iter()
                    .map(|m| format!("{}={}", m.name, m.value))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        });
        let _ = writeln!(out, "  production {prod}");
        if let Some(o) = s.last_outcome {
            let _ = writeln!(
                out,
                "  last run   {}",
                serde_json::to_value(o)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            );
        }
        if let Some(stop) = &s.stopped {
            let _ = writeln!(
                out,
                "  STOPPED    {} (since {}); no training until the config or the deploy repo changes",
                stop.reason,
                ago(stop.since_ms)
            );
        }
        if let Some(n) = &s.notice {
            let _ = writeln!(out, "  notice     {} ({})", n.text, ago(n.at_ms));
        }
        if let Some(e) = &s.last_error {
            let _ = writeln!(
                out,
                "  ERROR      {e} (attempt {}, next try {})",
                s.retries,
                if s.next_attempt_ms > now_ms() {
                    format!("in {}s", (s.next_attempt_ms - now_ms()) / 1000)
                } else {
                    "now".into()
                }
            );
        }
        for r in store.runs(Some(name), 5).await? {
            let _ = writeln!(
                out,
                "  run {:<34} {:<10} {:<9} rows {:<5} {}{}",
                r.id,
                r.model_version,
                r.status,
                r.claimed_rows,
                r.commit_id
                    .as_deref()
                    .map(|c| format!("commit {} ", c.get(..10).unwrap_or(c)))
                    .unwrap_or_default(),
                r.reason.as_deref().unwrap_or("")
            );
        }
    }
    if !refused.is_empty() {
        out.push_str("policy modules refused (the previous version of each stays live; the file is checked again when its bytes change):\n");
    }
    for r in &refused {
        let _ = writeln!(
            out,
            "  {} sha256 {}… {} ({}): {}",
            printable(&r.module),
            r.sha256.get(..12).unwrap_or(&r.sha256),
            r.reason,
            ago(r.refused_ms),
            printable(&r.message)
        );
    }
    Ok(out)
}

/// A regression decision's per-metric verdicts with the statistics behind them, one
/// line each (`latency_ms regressed: p_value=0.0001 cohens_d=2.1 …`).
fn metric_lines(output: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(output).unwrap_or_default();
    let mut out = String::new();
    for m in v["metrics"].as_array().into_iter().flatten() {
        let stats: Vec<String> = m["statistics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let value = s["value"].as_f64().map_or("NaN".to_owned(), |x| {
                    if x != 0.0 && x.abs() < 1e-3 {
                        format!("{x:.2e}")
                    } else if x.fract() == 0.0 && x.abs() < 1e15 {
                        format!("{x:.0}")
                    } else {
                        format!("{x:.4}")
                    }
                });
                format!("{}={value}", printable(s["name"].as_str().unwrap_or("?")))
            })
            .collect();
        let _ = writeln!(
            out,
            "      {} {}: {}",
            printable(m["name"].as_str().unwrap_or("?")),
            m["verdict"].as_str().unwrap_or("?"),
            stats.join(" ")
        );
    }
    out
}

/// Recent decisions.
///
/// # Errors
/// Store failures.
pub async fn decisions(
    store: &Store,
    pipeline: Option<&str>,
    limit: u32,
    json: bool,
) -> Result<String, OpsError> {
    let list = store.decisions(pipeline, limit).await?;
    if json {
        let v: Vec<serde_json::Value> = list
            .iter()
            .map(|d| {
                let parse = |t: &str| {
                    serde_json::from_str::<serde_json::Value>(t).unwrap_or(serde_json::Value::Null)
                };
                serde_json::json!({
                    "id": d.id, "pipeline": d.pipeline, "run_id": d.run_id, "point": d.point,
                    "outcome": d.outcome, "reason": d.reason(), "policy": d.policy,
                    "policy_version": d.policy_version, "module_sha256": d.module_sha256,
                    "input": parse(&d.input), "output": parse(&d.output),
                    "failure": d.failure.as_deref().map(parse), "logs": parse(&d.logs),
                    "fuel_used": d.fuel_used, "fuel_exact": d.fuel_exact,
                    "wall_micros": d.wall_micros, "decided_ms": d.decided_ms,
                    "code_tier": d.code_tier,
                })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    let mut out = String::new();
    for d in &list {
        let _ = writeln!(
            out,
            "#{} {} {} {:<10} {:<15} {}@{} sha256 {}… fuel {}{} {} µs{}{}\n    {}",
            d.id,
            ago(u64::try_from(d.decided_ms).unwrap_or(0)),
            d.pipeline,
            d.point,
            d.outcome,
            printable(&d.policy),
            printable(&d.policy_version),
            d.module_sha256.get(..12).unwrap_or(&d.module_sha256),
            // The deadline stopped a loop: the count misses the loop's own burn.
            if d.fuel_exact { "" } else { "≥" },
            d.fuel_used,
            d.wall_micros,
            // Baseline code is the exception (the first ~0.1 s after a swap): say so.
            if d.code_tier == "optimized" {
                String::new()
            } else {
                format!(" ({} code)", d.code_tier)
            },
            d.failure
                .as_deref()
                .map(|f| format!(" FAIL-SAFE {}", printable(f)))
                .unwrap_or_default(),
            printable(&d.reason().unwrap_or_default())
        );
        if d.point == "regression" {
            out.push_str(&metric_lines(&d.output));
        }
    }
    if list.is_empty() {
        out.push_str("no decisions recorded\n");
    }
    Ok(out)
}

/// Approves or rejects the candidate awaiting approval.
///
/// # Errors
/// When the pipeline is not awaiting approval, or store failures.
pub async fn approve(store: &Store, pipeline: &str, reject: bool) -> Result<String, OpsError> {
    let state = store
        .load_state(pipeline)
        .await?
        .ok_or_else(|| OpsError::Unknown(pipeline.to_owned()))?;
    let Phase::AwaitingApproval { run, .. } = &state.phase else {
        return Err(OpsError::NotAwaiting {
            pipeline: pipeline.to_owned(),
            phase: state.phase.name(),
        });
    };
    let now = now_ms();
    let event = if reject {
        store
            .reject_run(pipeline, run, "rejected by an operator", now)
            .await?;
        Event::Reject
    } else {
        Event::Promote
    };
    let version = run.version.clone();
    let next = phase::apply(&state, event).map_err(|_| OpsError::NotAwaiting {
        pipeline: pipeline.to_owned(),
        phase: state.phase.name(),
    })?;
    store.save_state(pipeline, &next, now).await?;
    Ok(format!(
        "{pipeline}: {version} {}",
        if reject {
            "rejected"
        } else {
            "approved; the running host promotes it on its next tick"
        }
    ))
}
