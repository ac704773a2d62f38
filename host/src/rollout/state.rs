//! The rollout's sub-states as plain data, and which follows which event. No I/O.
//!
//! While rolling out, every traffic write is first recorded as `pending` (persisted),
//! then pushed, then — once pushed and, with Argo CD, synced — applied to the weight.
//! A host killed between any two of these repeats only the idempotent write; it never
//! asks the policies again for a step already decided, so it never shifts twice.

use serde::{Deserialize, Serialize};

use crate::decision::Verdict;

/// Where a rolling-out candidate is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The candidate's share of traffic now, 0..=100.
    pub weight: u8,
    /// Number of shifts made so far (the rollout policy's `step-index`).
    pub step_index: u32,
    /// When traffic reached `weight` (Unix ms): the start of the analysis window.
    pub step_started_ms: u64,
    /// `hold` answers in a row at this step.
    pub holds: u32,
    /// The latest regression verdict at this step; `None` before the first analysis or
    /// after one that could not collect its metrics.
    pub verdict: Option<Verdict>,
    /// When the last analysis ran (Unix ms).
    pub last_analysis_ms: Option<u64>,
    /// Why the last analysis had no verdict (a metric source down), for `sluice status`.
    pub analysis_error: Option<String>,
    /// Set by `sluice rollout pause`: who and why. No analysis while paused.
    pub paused: Option<String>,
    /// A traffic write decided and not yet applied.
    pub pending: Option<Write>,
    /// The id of the last operator request acted on (see `sluice rollout`).
    #[serde(default)]
    pub last_request: i64,
}

impl Progress {
    /// A rollout that starts at weight 0 at `now_ms`.
    pub fn start(now_ms: u64) -> Self {
        Self {
            weight: 0,
            step_index: 0,
            step_started_ms: now_ms,
            holds: 0,
            verdict: None,
            last_analysis_ms: None,
            analysis_error: None,
            paused: None,
            pending: None,
            last_request: 0,
        }
    }
}

/// What a traffic write does once it is in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// The candidate gets `weight` percent.
    Shift {
        /// The new weight.
        weight: u8,
    },
    /// The candidate becomes stable.
    Complete,
}

/// A decided traffic write on its way into Git (and through Argo CD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// What it does.
    pub action: Action,
    /// Why (the policy's or the operator's reason).
    pub reason: String,
    /// The pushed commit, once pushed.
    pub commit: Option<String>,
    /// When it was pushed (Unix ms), for the Argo CD timeout.
    pub pushed_ms: Option<u64>,
    /// Whether the Argo CD sync was requested.
    pub sync_requested: bool,
}

impl Write {
    /// A write decided now, not yet pushed.
    pub fn new(action: Action, reason: String) -> Self {
        Self {
            action,
            reason,
            commit: None,
            pushed_ms: None,
            sync_requested: false,
        }
    }
}

/// A rollback in progress: traffic back to stable, then the revert in Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// Why.
    pub reason: String,
    /// The weight the candidate had when the rollback started.
    pub from_weight: u8,
    /// When it started (Unix ms).
    pub started_ms: u64,
    /// Whether the candidate's traffic was cut in the cluster (with a Kubernetes
    /// traffic actuator; without one there is nothing to cut before the revert).
    #[serde(default)]
    pub cut: bool,
    /// The revert: pushed commit, push time, sync requested.
    pub revert: Write,
}

/// What the rollout driver found.
#[derive(Debug, Clone, PartialEq)]
pub enum RolloutEvent {
    /// An analysis ran (or could not collect) and the rollout policy answered.
    Analysed {
        /// The regression verdict, if metrics were collected.
        verdict: Option<Verdict>,
        /// Why there is no verdict, if a source failed.
        error: Option<String>,
        /// What the rollout policy said.
        next: Next,
        /// Now (Unix ms).
        now_ms: u64,
    },
    /// The pending write (or the revert) was pushed as `commit`.
    Pushed {
        /// The commit.
        commit: String,
        /// Now (Unix ms).
        now_ms: u64,
    },
    /// Argo CD was asked to sync the pending write (or the revert).
    SyncRequested,
    /// The pending write is in place (pushed and, with Argo CD, synced).
    Applied {
        /// Now (Unix ms).
        now_ms: u64,
    },
    /// The candidate's traffic was cut in the cluster (the first step of a rollback).
    Cut,
    /// An operator request was acted on.
    Operator {
        /// The request's id.
        request: i64,
        /// What it did.
        act: Operator,
    },
    /// The pending write cannot take effect (Argo CD never reported it healthy):
    /// roll back.
    WriteFailed {
        /// Why.
        reason: String,
        /// Now (Unix ms).
        now_ms: u64,
    },
}

/// What an operator request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    /// Pause: no analysis, no shift, until resumed.
    Pause(String),
    /// Resume.
    Resume,
    /// The candidate serves everything now and becomes stable.
    Promote(String),
    /// Roll back now.
    Abort(String, u64),
    /// Nothing to do (resume while not paused, pause while paused).
    Nothing,
}

/// The rollout policy's answer, as the state machine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Shift to this weight.
    Advance(u8, String),
    /// Stay.
    Hold(String),
    /// Complete.
    Complete(String),
    /// Roll back.
    Rollback(String),
}

/// Where a rolling-out pipeline goes after an event.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// Still rolling out.
    Rolling(Progress),
    /// Rolling back.
    Back(Rollback),
    /// The candidate is stable now.
    Completed,
}

/// The state after `event` while rolling out, or `None` when the event does not apply.
pub fn roll(p: &Progress, event: RolloutEvent) -> Option<After> {
    let mut next = p.clone();
    match event {
        RolloutEvent::Analysed {
            verdict,
            error,
            next: decision,
            now_ms,
        } if p.pending.is_none() => {
            next.verdict = verdict;
            next.analysis_error = error;
            next.last_analysis_ms = Some(now_ms);
            match decision {
                Next::Hold(_) => next.holds = next.holds.saturating_add(1),
                Next::Advance(weight, reason) => {
                    next.pending = Some(Write::new(Action::Shift { weight }, reason));
                }
                Next::Complete(reason) => next.pending = Some(Write::new(Action::Complete, reason)),
                Next::Rollback(reason) => return Some(After::Back(rollback(p, reason, now_ms))),
            }
        }
        RolloutEvent::Pushed { commit, now_ms } => {
            let w = next.pending.as_mut()?;
            w.commit = Some(commit);
            w.pushed_ms = Some(now_ms);
        }
        RolloutEvent::SyncRequested => {
            let w = next.pending.as_mut()?;
            w.commit.as_ref()?;
            w.sync_requested = true;
        }
        RolloutEvent::Applied { now_ms } => {
            let w = next.pending.take()?;
            w.commit.as_ref()?;
            match w.action {
                Action::Complete => return Some(After::Completed),
                Action::Shift { weight } => {
                    next.weight = weight;
                    next.step_index = next.step_index.saturating_add(1);
                    next.step_started_ms = now_ms;
                    next.holds = 0;
                    next.verdict = None;
                    next.analysis_error = None;
                    // The first analysis at the new weight is one interval away, so
                    // its window holds data of that weight.
                    next.last_analysis_ms = Some(now_ms);
                }
            }
        }
        RolloutEvent::Operator { request, act } => {
            next.last_request = request;
            match act {
                Operator::Pause(by) => next.paused = Some(by),
                Operator::Resume => next.paused = None,
                Operator::Nothing => {}
                // A write in flight finishes first: the driver waits with `promote`.
                Operator::Promote(_) if p.pending.is_some() => return None,
                Operator::Promote(reason) => {
                    next.paused = None;
                    next.pending = Some(Write::new(Action::Complete, reason));
                }
                Operator::Abort(reason, now_ms) => {
                    return Some(After::Back(rollback(p, reason, now_ms)));
                }
            }
        }
        RolloutEvent::WriteFailed { reason, now_ms } => {
            return Some(After::Back(rollback(p, reason, now_ms)));
        }
        RolloutEvent::Analysed { .. } | RolloutEvent::Cut => return None,
    }
    Some(After::Rolling(next))
}

fn rollback(p: &Progress, reason: String, now_ms: u64) -> Rollback {
    Rollback {
        reason: reason.clone(),
        from_weight: p.weight,
        started_ms: now_ms,
        cut: false,
        revert: Write::new(Action::Shift { weight: 0 }, reason),
    }
}

/// The rollback after `event`: `Some(Some(_))` still rolling back, `Some(None)` done,
/// `None` when the event does not apply.
pub fn roll_back(r: &Rollback, event: RolloutEvent) -> Option<Option<Rollback>> {
    let mut next = r.clone();
    match event {
        RolloutEvent::Cut => next.cut = true,
        RolloutEvent::Pushed { commit, now_ms } => {
            next.revert.commit = Some(commit);
            next.revert.pushed_ms = Some(now_ms);
        }
        RolloutEvent::SyncRequested if r.revert.commit.is_some() => {
            next.revert.sync_requested = true;
        }
        RolloutEvent::Applied { .. } if r.revert.commit.is_some() => return Some(None),
        _ => return None,
    }
    Some(Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysed(next: Next, now_ms: u64) -> RolloutEvent {
        RolloutEvent::Analysed {
            verdict: Some(Verdict::Pass),
            error: None,
            next,
            now_ms,
        }
    }

    fn rolling(a: Option<After>) -> Progress {
        match a {
            Some(After::Rolling(p)) => p,
            other => panic!("not rolling: {other:?}"),
        }
    }

    #[test]
    fn a_shift_is_pending_until_pushed_and_applied() {
        let p = Progress::start(0);
        let p = rolling(roll(&p, analysed(Next::Advance(10, "go".into()), 5)));
        assert_eq!(p.weight, 0, "not applied before the push");
        assert!(
            roll(&p, analysed(Next::Advance(25, "again".into()), 6)).is_none(),
            "no second decision while a write is pending"
        );
        assert!(
            roll(&p, RolloutEvent::Applied { now_ms: 7 }).is_none(),
            "not applied before it is pushed"
        );
        let p = rolling(roll(
            &p,
            RolloutEvent::Pushed {
                commit: "c1".into(),
                now_ms: 8,
            },
        ));
        let p = rolling(roll(&p, RolloutEvent::Applied { now_ms: 9 }));
        assert_eq!((p.weight, p.step_index, p.step_started_ms), (10, 1, 9));
        assert_eq!((p.pending, p.holds, p.verdict), (None, 0, None));
    }

    #[test]
    fn holds_count_and_reset_at_the_next_step() {
        let mut p = Progress::start(0);
        for i in 0..3 {
            p = rolling(roll(
                &p,
                RolloutEvent::Analysed {
                    verdict: None,
                    error: Some("prometheus down".into()),
                    next: Next::Hold("no data".into()),
                    now_ms: i,
                },
            ));
        }
        assert_eq!(p.holds, 3);
        assert_eq!(p.analysis_error.as_deref(), Some("prometheus down"));
    }

    #[test]
    fn rollback_and_completion_leave_the_rollout() {
        let p = Progress::start(0);
        let Some(After::Back(r)) = roll(&p, analysed(Next::Rollback("worse".into()), 3)) else {
            panic!("rollback");
        };
        assert_eq!(
            (r.reason.as_str(), r.started_ms, r.cut),
            ("worse", 3, false)
        );
        let r = roll_back(&r, RolloutEvent::Cut).flatten().expect("cut");
        assert!(r.cut);
        assert!(roll_back(&r, RolloutEvent::Applied { now_ms: 4 }).is_none());
        let r = roll_back(
            &r,
            RolloutEvent::Pushed {
                commit: "rev".into(),
                now_ms: 4,
            },
        )
        .flatten()
        .expect("pushed");
        assert_eq!(
            roll_back(&r, RolloutEvent::Applied { now_ms: 5 }),
            Some(None)
        );

        let p = rolling(roll(&p, analysed(Next::Complete("done".into()), 3)));
        let p = rolling(roll(
            &p,
            RolloutEvent::Pushed {
                commit: "c".into(),
                now_ms: 4,
            },
        ));
        assert_eq!(
            roll(&p, RolloutEvent::Applied { now_ms: 5 }),
            Some(After::Completed)
        );
    }

    #[test]
    fn operators_pause_resume_promote_and_abort() {
        let p = Progress::start(0);
        let op = |request, act| RolloutEvent::Operator { request, act };
        let p = rolling(roll(&p, op(1, Operator::Pause("ann: incident".into()))));
        assert_eq!((p.paused.is_some(), p.last_request), (true, 1));
        let p = rolling(roll(&p, op(2, Operator::Promote("ann: hotfix".into()))));
        assert_eq!((p.paused.as_deref(), p.last_request), (None, 2));
        assert_eq!(p.pending.as_ref().map(|w| w.action), Some(Action::Complete));
        assert!(
            roll(&p, op(3, Operator::Promote("again".into()))).is_none(),
            "promote waits for the write in flight"
        );
        assert!(matches!(
            roll(&p, op(3, Operator::Abort("bob".into(), 1))),
            Some(After::Back(_))
        ));
    }
}
