//! The pipeline's phase machine as plain data: what is persisted, and which phase follows
//! which event. No I/O; the driver in [`super::step`] performs the side effects and feeds
//! their outcomes back in as [`Event`]s.
//!
//! `Idle → Training → Evaluating → Promoting → Syncing → Idle`, with a failed or rejected
//! run going back to `Idle`. With a rollout configured and a stable version to compare
//! against, `Syncing` (or `Promoting`) goes on to `RollingOut`, which ends `Idle` with
//! the candidate stable, or through `RollingBack` with the stable version restored. Every transition is persisted before the side effect that
//! follows it, so a host killed anywhere resumes the same step.

use serde::{Deserialize, Serialize};

use crate::decision::{ModelReport, TrainingOutcome};
use crate::rollout::state::{After, Progress, Rollback, RolloutEvent, roll, roll_back};

/// One training run, as the phases refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    /// Run id (also given to the trainer as `SLUICE_RUN_ID`).
    pub id: String,
    /// Name of the Job (or local process) that trains.
    pub job: String,
    /// The version the candidate will carry (`MODEL_VERSION`).
    pub version: String,
}

/// Where a pipeline is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// Waiting for enough new data.
    Idle,
    /// A run exists. `dispatched` turns true once rows are claimed and the Job created;
    /// until then a restart claims and dispatches again (both idempotent).
    Training {
        /// The run.
        run: RunRef,
        /// Extra trainer arguments the retrain policy asked for.
        args: Vec<String>,
        /// Rows claimed and Job created.
        dispatched: bool,
    },
    /// The candidate's report is in; the promotion policy is asked next.
    Evaluating {
        /// The run.
        run: RunRef,
        /// The candidate.
        report: ModelReport,
    },
    /// The promotion policy asked for a human; `sluice approve` decides.
    AwaitingApproval {
        /// The run.
        run: RunRef,
        /// The candidate.
        report: ModelReport,
        /// The policy's reason.
        reason: String,
    },
    /// Approved: the deploy repo is being changed.
    Promoting {
        /// The run.
        run: RunRef,
        /// The candidate.
        report: ModelReport,
    },
    /// Pushed; waiting for Argo CD to report the commit Synced and Healthy.
    Syncing {
        /// The run.
        run: RunRef,
        /// The candidate.
        report: ModelReport,
        /// The pushed commit.
        commit: String,
        /// When the wait started (Unix ms), for the timeout.
        since_ms: u64,
        /// Whether the sync request was sent (it is sent once).
        requested: bool,
    },
    /// Promoted next to the stable version (`production`); traffic shifts in steps.
    RollingOut {
        /// The run.
        run: RunRef,
        /// The candidate.
        report: ModelReport,
        /// Weight, step, holds, verdict, pending write.
        progress: Progress,
    },
    /// The candidate is being taken out: the revert is written to Git.
    RollingBack {
        /// The run.
        run: RunRef,
        /// The candidate.
        report: ModelReport,
        /// Reason and revert progress.
        rollback: Rollback,
    },
}

impl Phase {
    /// Short name for status output, metrics and the `phase` column.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Training { .. } => "training",
            Self::Evaluating { .. } => "evaluating",
            Self::AwaitingApproval { .. } => "awaiting-approval",
            Self::Promoting { .. } => "promoting",
            Self::Syncing { .. } => "syncing",
            Self::RollingOut { .. } => "rolling-out",
            Self::RollingBack { .. } => "rolling-back",
        }
    }

    /// The run in progress, if any.
    pub fn run(&self) -> Option<&RunRef> {
        match self {
            Self::Idle => None,
            Self::Training { run, .. }
            | Self::Evaluating { run, .. }
            | Self::AwaitingApproval { run, .. }
            | Self::Promoting { run, .. }
            | Self::Syncing { run, .. }
            | Self::RollingOut { run, .. }
            | Self::RollingBack { run, .. } => Some(run),
        }
    }
}

/// Why a pipeline does not train: its promotion cannot succeed until the config or the
/// deploy repository changes (a missing file, a selector that matches nothing or
/// several values). Checked again each interval; cleared when the check passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// What is wrong and where.
    pub reason: String,
    /// Since when (Unix ms).
    pub since_ms: u64,
}

/// Something an operator should know that is not an error: the last one is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What happened.
    pub text: String,
    /// When (Unix ms).
    pub at_ms: u64,
}

/// Everything persisted about a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineState {
    /// The phase.
    pub phase: Phase,
    /// The model in production, as last promoted (or as configured at first start).
    pub production: Option<ModelReport>,
    /// Number of runs started; the next candidate is `v{version_seq + 1}` unless the
    /// production version is higher.
    pub version_seq: u64,
    /// When the last run started (Unix ms).
    pub last_training_started_ms: Option<u64>,
    /// How the last run ended.
    pub last_outcome: Option<TrainingOutcome>,
    /// The last transient error, shown by `sluice status` until a step succeeds.
    pub last_error: Option<String>,
    /// Consecutive transient failures of the current step.
    pub retries: u32,
    /// No step before this time (Unix ms): the backoff after a transient failure.
    pub next_attempt_ms: u64,
    /// Set while the deploy repo cannot take a promotion: no training until it can.
    #[serde(default)]
    pub stopped: Option<Stop>,
    /// The last notice (for example: the kept clone was discarded and cloned again).
    #[serde(default)]
    pub notice: Option<Notice>,
}

impl PipelineState {
    /// A pipeline seen for the first time.
    pub fn new(production: Option<ModelReport>) -> Self {
        Self {
            phase: Phase::Idle,
            production,
            version_seq: 0,
            last_training_started_ms: None,
            last_outcome: None,
            last_error: None,
            retries: 0,
            next_attempt_ms: 0,
            stopped: None,
            notice: None,
        }
    }

    /// The version the next run's candidate gets: one above both the runs started so
    /// far and the production version's number (`v7` → 7).
    pub fn next_version(&self) -> (u64, String) {
        let prod = self
            .production
            .as_ref()
            .and_then(|p| version_number(&p.version))
            .unwrap_or(0);
        let n = self.version_seq.max(prod) + 1;
        (n, format!("v{n}"))
    }
}

/// `v12` → 12, `12` → 12, anything else → None.
pub fn version_number(version: &str) -> Option<u64> {
    version.strip_prefix('v').unwrap_or(version).parse().ok()
}

/// What happened, as the driver reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The retrain policy said train; a run was allocated.
    RunAllocated {
        /// The run.
        run: RunRef,
        /// Its sequence number.
        seq: u64,
        /// Extra trainer arguments.
        args: Vec<String>,
        /// Now (Unix ms).
        now_ms: u64,
    },
    /// Rows claimed and Job created.
    Dispatched,
    /// The Job succeeded with a valid report.
    TrainingSucceeded(ModelReport),
    /// The run failed: the Job failed or vanished, its report is unusable, the deploy
    /// repo cannot take the change, or Argo CD did not report it healthy in time.
    RunFailed,
    /// The promotion policy said promote (or a human approved).
    Promote,
    /// The promotion policy (or a human) rejected the candidate.
    Reject,
    /// The promotion policy asked for a human.
    AwaitApproval(String),
    /// The deploy repo now holds the version at `commit`; Argo CD is to be awaited.
    Pushed {
        /// The commit.
        commit: String,
        /// Now (Unix ms).
        now_ms: u64,
    },
    /// The Argo CD sync was requested.
    SyncRequested,
    /// The promotion is complete (pushed and, if configured, synced).
    Promoted,
    /// The promotion is in place next to the stable version; the rollout begins.
    RolloutStarted {
        /// Now (Unix ms).
        now_ms: u64,
    },
    /// Progress of a rollout or a rollback.
    Rollout(RolloutEvent),
    /// The deploy repo cannot take a promotion (found by a check): stop training.
    Stop {
        /// What is wrong.
        reason: String,
        /// Now (Unix ms).
        now_ms: u64,
    },
    /// The check passes again: training may resume.
    Resume,
    /// The promotion failed for a reason retrying cannot fix: the run fails and the
    /// pipeline stops training.
    PromotionImpossible {
        /// What is wrong.
        reason: String,
        /// Now (Unix ms).
        now_ms: u64,
    },
}

/// An event that does not fit the phase: a bug in the driver, or a state row edited by
/// hand. The state is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event} does not apply in phase `{phase}`")]
pub struct TransitionError {
    /// The phase.
    pub phase: &'static str,
    /// The event.
    pub event: String,
}

/// The state after `event`. Successful transitions clear the transient-error bookkeeping.
///
/// # Errors
/// When the event does not apply to the current phase.
pub fn apply(state: &PipelineState, event: Event) -> Result<PipelineState, TransitionError> {
    let mut next = succeeded_attempt(state);
    let wrong = |event: &Event| TransitionError {
        phase: state.phase.name(),
        event: format!("{event:?}"),
    };
    next.phase = match (&state.phase, event) {
        (
            Phase::Idle,
            Event::RunAllocated {
                run,
                seq,
                args,
                now_ms,
            },
        ) => {
            next.version_seq = seq;
            next.last_training_started_ms = Some(now_ms);
            Phase::Training {
                run,
                args,
                dispatched: false,
            }
        }
        (Phase::Training { run, args, .. }, Event::Dispatched) => Phase::Training {
            run: run.clone(),
            args: args.clone(),
            dispatched: true,
        },
        (Phase::Training { run, .. }, Event::TrainingSucceeded(report)) => Phase::Evaluating {
            run: run.clone(),
            report,
        },
        (
            Phase::Training { .. } | Phase::Promoting { .. } | Phase::Syncing { .. },
            Event::RunFailed,
        ) => {
            next.last_outcome = Some(TrainingOutcome::Failed);
            Phase::Idle
        }
        (
            Phase::Evaluating { run, report } | Phase::AwaitingApproval { run, report, .. },
            Event::Promote,
        ) => Phase::Promoting {
            run: run.clone(),
            report: report.clone(),
        },
        (Phase::Evaluating { .. } | Phase::AwaitingApproval { .. }, Event::Reject) => {
            next.last_outcome = Some(TrainingOutcome::Rejected);
            Phase::Idle
        }
        (Phase::Evaluating { run, report }, Event::AwaitApproval(reason)) => {
            Phase::AwaitingApproval {
                run: run.clone(),
                report: report.clone(),
                reason,
            }
        }
        (Phase::Promoting { run, report }, Event::Pushed { commit, now_ms }) => Phase::Syncing {
            run: run.clone(),
            report: report.clone(),
            commit,
            since_ms: now_ms,
            requested: false,
        },
        (
            Phase::Syncing {
                run,
                report,
                commit,
                since_ms,
                ..
            },
            Event::SyncRequested,
        ) => Phase::Syncing {
            run: run.clone(),
            report: report.clone(),
            commit: commit.clone(),
            since_ms: *since_ms,
            requested: true,
        },
        (phase, Event::Stop { reason, now_ms }) => {
            let since_ms = state.stopped.as_ref().map_or(now_ms, |s| s.since_ms);
            next.stopped = Some(Stop { reason, since_ms });
            phase.clone()
        }
        (phase, Event::Resume) => {
            next.stopped = None;
            phase.clone()
        }
        (
            Phase::Promoting { .. } | Phase::Syncing { .. },
            Event::PromotionImpossible { reason, now_ms },
        ) => {
            next.last_outcome = Some(TrainingOutcome::Failed);
            next.stopped = Some(Stop {
                reason,
                since_ms: now_ms,
            });
            Phase::Idle
        }
        (Phase::Promoting { report, .. } | Phase::Syncing { report, .. }, Event::Promoted) => {
            next.production = Some(report.clone());
            next.last_outcome = Some(TrainingOutcome::Promoted);
            Phase::Idle
        }
        (
            Phase::Promoting { run, report } | Phase::Syncing { run, report, .. },
            Event::RolloutStarted { now_ms },
        ) if state.production.is_some() => Phase::RollingOut {
            run: run.clone(),
            report: report.clone(),
            progress: Progress::start(now_ms),
        },
        (
            Phase::RollingOut {
                run,
                report,
                progress,
            },
            Event::Rollout(e),
        ) => {
            let shown = format!("{e:?}");
            match roll(progress, e) {
                Some(After::Rolling(progress)) => Phase::RollingOut {
                    run: run.clone(),
                    report: report.clone(),
                    progress,
                },
                Some(After::Back(rollback)) => Phase::RollingBack {
                    run: run.clone(),
                    report: report.clone(),
                    rollback,
                },
                Some(After::Completed) => {
                    next.production = Some(report.clone());
                    next.last_outcome = Some(TrainingOutcome::Promoted);
                    Phase::Idle
                }
                None => {
                    return Err(TransitionError {
                        phase: state.phase.name(),
                        event: shown,
                    });
                }
            }
        }
        (
            Phase::RollingBack {
                run,
                report,
                rollback,
            },
            Event::Rollout(e),
        ) => {
            let shown = format!("{e:?}");
            match roll_back(rollback, e) {
                Some(Some(rollback)) => Phase::RollingBack {
                    run: run.clone(),
                    report: report.clone(),
                    rollback,
                },
                // The stable version serves everything again and Git says so; the
                // candidate counts as rejected (it is never promoted again).
                Some(None) => {
                    next.last_outcome = Some(TrainingOutcome::Rejected);
                    Phase::Idle
                }
                None => {
                    return Err(TransitionError {
                        phase: state.phase.name(),
                        event: shown,
                    });
                }
            }
        }
        (_, e) => return Err(wrong(&e)),
    };
    Ok(next)
}

/// The state after a step that worked (moved on or found nothing to do): the
/// transient-error bookkeeping is cleared, the phase is unchanged.
pub fn succeeded_attempt(state: &PipelineState) -> PipelineState {
    let mut next = state.clone();
    next.last_error = None;
    next.retries = 0;
    next.next_attempt_ms = 0;
    next
}

/// The state after a transient failure of the current step: the phase stays, the error
/// shows in status, and the next attempt waits `backoff(retries)`.
pub fn failed_attempt(state: &PipelineState, error: String, now_ms: u64) -> PipelineState {
    let mut next = state.clone();
    next.retries = state.retries.saturating_add(1);
    next.last_error = Some(error);
    next.next_attempt_ms = now_ms.saturating_add(backoff_ms(next.retries));
    next
}

/// Exponential backoff after `retries` consecutive failures: 1 s, 2 s, 4 s … capped at
/// five minutes.
pub fn backoff_ms(retries: u32) -> u64 {
    let exp = retries.saturating_sub(1).min(20);
    (1000u64 << exp).min(300_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunRef {
        RunRef {
            id: "r1".into(),
            job: "fraud-training-1".into(),
            version: "v2".into(),
        }
    }

    fn report() -> ModelReport {
        ModelReport {
            version: "v2".into(),
            metrics: vec![],
        }
    }

    fn allocated() -> PipelineState {
        let s = PipelineState::new(None);
        apply(
            &s,
            Event::RunAllocated {
                run: run(),
                seq: 2,
                args: vec![],
                now_ms: 5,
            },
        )
        .expect("idle → training")
    }

    #[test]
    fn the_happy_path_ends_idle_with_the_candidate_in_production() {
        let s = allocated();
        assert_eq!(s.version_seq, 2);
        assert_eq!(s.last_training_started_ms, Some(5));
        let s = apply(&s, Event::Dispatched).expect("dispatched");
        let s = apply(&s, Event::TrainingSucceeded(report())).expect("succeeded");
        assert_eq!(s.phase.name(), "evaluating");
        let s = apply(&s, Event::Promote).expect("promote");
        let s = apply(
            &s,
            Event::Pushed {
                commit: "abc".into(),
                now_ms: 9,
            },
        )
        .expect("pushed");
        assert_eq!(s.phase.name(), "syncing");
        let s = apply(&s, Event::Promoted).expect("promoted");
        assert_eq!(s.phase, Phase::Idle);
        assert_eq!(s.production, Some(report()));
        assert_eq!(s.last_outcome, Some(TrainingOutcome::Promoted));
    }

    #[test]
    fn rejection_and_failure_go_back_to_idle_and_keep_production() {
        let s = apply(&allocated(), Event::RunFailed).expect("failed");
        assert_eq!(
            (s.phase.clone(), s.last_outcome),
            (Phase::Idle, Some(TrainingOutcome::Failed))
        );
        let s = apply(&allocated(), Event::TrainingSucceeded(report())).expect("ok");
        let s = apply(&s, Event::AwaitApproval("big change".into())).expect("await");
        assert_eq!(s.phase.name(), "awaiting-approval");
        let s = apply(&s, Event::Reject).expect("reject");
        assert_eq!((s.phase, s.production), (Phase::Idle, None));
    }

    #[test]
    fn events_out_of_place_are_refused_and_change_nothing() {
        let idle = PipelineState::new(None);
        for e in [
            Event::Dispatched,
            Event::Promote,
            Event::Promoted,
            Event::RunFailed,
            Event::SyncRequested,
        ] {
            let err = apply(&idle, e).expect_err("idle refuses");
            assert_eq!(err.phase, "idle");
        }
        assert!(apply(&allocated(), Event::SyncRequested).is_err());
        assert!(apply(&allocated(), Event::Promote).is_err());
    }

    #[test]
    fn transient_failures_back_off_and_success_clears_them() {
        let s = failed_attempt(&allocated(), "git: connection refused".into(), 1000);
        let s = failed_attempt(&s, "git: connection refused".into(), 2000);
        assert_eq!((s.retries, s.next_attempt_ms), (2, 4000));
        assert_eq!(s.phase.name(), "training");
        let s = apply(&s, Event::Dispatched).expect("dispatched");
        assert_eq!((s.retries, s.last_error, s.next_attempt_ms), (0, None, 0));
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(100), 300_000);
    }

    #[test]
    fn versions_count_up_from_runs_and_production() {
        let mut s = PipelineState::new(Some(ModelReport {
            version: "v7".into(),
            metrics: vec![],
        }));
        assert_eq!(s.next_version(), (8, "v8".into()));
        s.version_seq = 9;
        assert_eq!(s.next_version(), (10, "v10".into()));
        assert_eq!(version_number("release-1"), None);
    }

    #[test]
    fn a_stop_holds_until_resumed_and_an_impossible_promotion_stops() {
        let idle = PipelineState::new(None);
        let stop = |reason: &str, now_ms| Event::Stop {
            reason: reason.into(),
            now_ms,
        };
        let s = apply(&idle, stop("no such file", 10)).expect("stop");
        assert_eq!(s.phase, Phase::Idle);
        let s = apply(&s, stop("selector matches nothing", 20)).expect("stop again");
        assert_eq!(
            s.stopped,
            Some(Stop {
                reason: "selector matches nothing".into(),
                since_ms: 10
            }),
            "a changed reason keeps the time it started"
        );
        assert_eq!(apply(&s, Event::Resume).expect("resume").stopped, None);
        let s = apply(&allocated(), Event::TrainingSucceeded(report())).expect("ok");
        let s = apply(&s, Event::Promote).expect("promote");
        let s = apply(
            &s,
            Event::PromotionImpossible {
                reason: "no such file".into(),
                now_ms: 30,
            },
        )
        .expect("impossible");
        assert_eq!(s.phase, Phase::Idle);
        assert_eq!(s.last_outcome, Some(TrainingOutcome::Failed));
        assert_eq!(s.stopped.map(|s| s.since_ms), Some(30));
        assert!(
            apply(
                &allocated(),
                Event::PromotionImpossible {
                    reason: "x".into(),
                    now_ms: 1
                }
            )
            .is_err(),
            "only a promotion can be impossible"
        );
    }

    #[test]
    fn state_from_before_stops_reads_as_not_stopped() {
        let text = r#"{"phase":{"phase":"idle"},"production":null,"version_seq":3,"last_training_started_ms":null,"last_outcome":null,"last_error":null,"retries":0,"next_attempt_ms":0}"#;
        let s: PipelineState = serde_json::from_str(text).expect("old state");
        assert_eq!((s.stopped, s.notice), (None, None));
    }

    #[test]
    fn state_round_trips_through_json() {
        let s = apply(&allocated(), Event::TrainingSucceeded(report())).expect("ok");
        let text = serde_json::to_string(&s).expect("serialize");
        assert!(text.contains("\"phase\":\"evaluating\""), "{text}");
        let back: PipelineState = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, s);
    }
}
