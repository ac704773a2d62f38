//! Where the traffic weight lives, and the Git changes that move it.
//!
//! A rollout is always in one *traffic state*: the stable version, the candidate and
//! the candidate's weight. The configured traffic targets are templates over that state
//! (`{stable}`, `{candidate}`, `{weight}`, `{stable_weight}`, `{latest_weight}`), and the promotion targets
//! (`gitops.targets`) hold the candidate while it rolls out. Every write is the whole
//! state ("these fields hold these values"), so writing it twice commits nothing the
//! second time, and a host killed after a push repeats the push harmlessly.
//!
//! Git is always written. With `traffic.kubernetes`, the same state is also written to
//! cluster objects ([`kubernetes`]) just before each Git write, and a rollback cuts the
//! candidate's cluster traffic before anything else.
//!
//! At rest a pipeline is in the state `(stable = v, candidate = v, weight = 0)`:
//! the promotion commit moves to `(stable, candidate, 0)`, each step to
//! `(stable, candidate, w)`, completion to `(candidate, candidate, 0)` and a rollback
//! back to `(stable, stable, 0)`.

pub mod kubernetes;

pub use kubernetes::{KubeTraffic, KubeTrafficError};

use crate::config::rollout::{RolloutConfig, RolloutMessages};
use crate::gitops::{Change, DeployRepo, FieldValue, Target};

/// Stable version, candidate version and the candidate's share of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficState<'a> {
    /// The version serving the rest of the traffic.
    pub stable: &'a str,
    /// The version being rolled out.
    pub candidate: &'a str,
    /// The candidate's share, 0..=100.
    pub weight: u8,
}

impl<'a> TrafficState<'a> {
    /// `version` alone: stable and candidate, weight 0 (a pipeline between rollouts).
    pub fn at_rest(version: &'a str) -> Self {
        Self {
            stable: version,
            candidate: version,
            weight: 0,
        }
    }

    /// The candidate deployed next to `stable` with no traffic: a promotion, and a
    /// rollback's cut.
    pub fn without_traffic(stable: &'a str, candidate: &'a str) -> Self {
        Self {
            stable,
            candidate,
            weight: 0,
        }
    }

    /// What a promotion of `candidate` writes: next to the stable version with no
    /// traffic, or — a pipeline's first model, with no stable version — at rest.
    pub fn promoted(stable: Option<&'a str>, candidate: &'a str) -> Self {
        stable.map_or(Self::at_rest(candidate), |s| {
            Self::without_traffic(s, candidate)
        })
    }

    /// The share of the newest version: the candidate's weight while it rolls out,
    /// 100 at rest (stable = candidate). KServe's `canaryTrafficPercent` means this.
    pub fn latest_weight(&self) -> u8 {
        if self.stable == self.candidate {
            100
        } else {
            self.weight.min(100)
        }
    }

    /// `template` with `{stable}`, `{candidate}`, `{weight}`, `{stable_weight}` and
    /// `{latest_weight}` replaced.
    pub fn render(&self, template: &str) -> String {
        template
            .replace("{latest_weight}", &self.latest_weight().to_string())
            .replace("{stable_weight}", &(100 - self.weight.min(100)).to_string())
            .replace("{weight}", &self.weight.to_string())
            .replace("{stable}", self.stable)
            .replace("{candidate}", self.candidate)
    }
}

/// The traffic targets of one pipeline and the messages of its rollout commits.
#[derive(Debug, Clone)]
pub struct Traffic {
    targets: Vec<(Target, String)>,
    messages: RolloutMessages,
}

impl Traffic {
    /// The traffic of a checked rollout config (selectors were checked at load).
    pub fn new(config: &RolloutConfig) -> Self {
        Self {
            targets: config
                .traffic
                .git
                .iter()
                .filter_map(|t| {
                    t.field.parse().ok().map(|selector| {
                        (
                            Target {
                                file: t.file.clone(),
                                selector,
                            },
                            t.value.clone(),
                        )
                    })
                })
                .collect(),
            messages: config.messages.clone(),
        }
    }

    /// `repo`'s promotion of `state.candidate` plus every traffic target rendered for
    /// `state`, under `subject`.
    fn change(
        &self,
        repo: &DeployRepo,
        pipeline: &str,
        state: TrafficState<'_>,
        subject: String,
    ) -> Change {
        let mut change = repo.promotion(pipeline, state.candidate);
        change
            .edits
            .extend(self.targets.iter().map(|(target, template)| FieldValue {
                target: target.clone(),
                value: state.render(template),
            }));
        change.subject = subject;
        change.trailers.push((
            "Sluice-Traffic".into(),
            format!(
                "{}={} {}={}",
                state.stable,
                100 - state.weight.min(100),
                state.candidate,
                state.weight
            ),
        ));
        change
    }

    /// The promotion commit: the candidate deployed next to `stable` with no traffic
    /// yet, or — for a pipeline's first model — the candidate at rest.
    pub fn promote(
        &self,
        repo: &DeployRepo,
        pipeline: &str,
        stable: Option<&str>,
        candidate: &str,
    ) -> Change {
        let subject = repo.promotion(pipeline, candidate).subject;
        self.change(
            repo,
            pipeline,
            TrafficState::promoted(stable, candidate),
            subject,
        )
    }

    /// One step: the candidate gets `weight` percent.
    pub fn shift(&self, repo: &DeployRepo, pipeline: &str, state: TrafficState<'_>) -> Change {
        let subject = self.subject(&self.messages.shift, pipeline, state, "");
        self.change(repo, pipeline, state, subject)
    }

    /// Completion: the candidate becomes stable and serves everything.
    pub fn complete(
        &self,
        repo: &DeployRepo,
        pipeline: &str,
        candidate: &str,
        stable: &str,
    ) -> Change {
        let shown = TrafficState {
            stable,
            candidate,
            weight: 100,
        };
        let subject = self.subject(&self.messages.complete, pipeline, shown, "");
        self.change(repo, pipeline, TrafficState::at_rest(candidate), subject)
    }

    /// The revert: `stable` back everywhere, the candidate gone, weight 0.
    pub fn revert(
        &self,
        repo: &DeployRepo,
        pipeline: &str,
        stable: &str,
        candidate: &str,
        reason: &str,
    ) -> Change {
        let shown = TrafficState::without_traffic(stable, candidate);
        let subject = self.subject(&self.messages.revert, pipeline, shown, reason);
        let mut change = self.change(repo, pipeline, TrafficState::at_rest(stable), subject);
        change
            .trailers
            .push(("Sluice-Rolled-Back".into(), candidate.to_owned()));
        change
    }

    fn subject(&self, template: &str, pipeline: &str, s: TrafficState<'_>, reason: &str) -> String {
        s.render(template)
            .replace("{pipeline}", pipeline)
            .replace("{reason}", &short_reason(reason))
    }
}

/// A reason fit for a commit subject: one line, at most 200 characters.
fn short_reason(reason: &str) -> String {
    let line: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::{GitAuth, RepoSettings};

    fn repo() -> DeployRepo {
        DeployRepo::new(
            RepoSettings {
                url: "file:///nowhere".into(),
                branch: "main".into(),
                auth: GitAuth::None,
                tls_ca: None,
                targets: vec![Target {
                    file: "isvc.yaml".into(),
                    selector: "spec.predictor.model.storageUri".parse().expect("selector"),
                }],
                author_name: "sluice".into(),
                author_email: "sluice@localhost".into(),
                message: "chore: promote model to {version}".into(),
                retries: 0,
                backoff: std::time::Duration::ZERO,
            },
            "/nowhere".into(),
        )
    }

    fn traffic() -> Traffic {
        let config: RolloutConfig = serde_yaml_ng::from_str(
            r#"
traffic:
  git:
    - {file: route.yaml, field: "spec.rules[0].backendRefs[0].weight", value: "{stable_weight}"}
    - {file: route.yaml, field: "spec.rules[0].backendRefs[1].weight", value: "{weight}"}
    - {file: stable.yaml, field: "spec.template.spec.containers[0].image", value: "model:{stable}"}
    - {file: isvc.yaml, field: "spec.predictor.canaryTrafficPercent", value: "{latest_weight}"}
analysis:
  providers: {db: {sql: {}}}
  metrics: [{name: latency, direction: lower-is-better, provider: db, baseline: a, canary: b}]
"#,
        )
        .expect("config");
        Traffic::new(&config)
    }

    fn values(change: &Change) -> Vec<String> {
        change.edits.iter().map(|e| e.value.clone()).collect()
    }

    #[test]
    fn each_write_is_the_whole_traffic_state() {
        let (t, r) = (traffic(), repo());
        let c = t.promote(&r, "fraud", Some("v2"), "v3");
        assert_eq!(values(&c), ["v3", "100", "0", "model:v2", "0"]);
        assert_eq!(c.subject, "chore: promote model to v3");
        let s = TrafficState {
            stable: "v2",
            candidate: "v3",
            weight: 25,
        };
        let c = t.shift(&r, "fraud", s);
        assert_eq!(values(&c), ["v3", "75", "25", "model:v2", "25"]);
        assert_eq!(c.subject, "chore: shift 25% of traffic to model v3");
        let c = t.complete(&r, "fraud", "v3", "v2");
        assert_eq!(values(&c), ["v3", "100", "0", "model:v3", "100"]);
        assert_eq!(c.subject, "chore: complete rollout of model v3");
        let c = t.revert(&r, "fraud", "v2", "v3", "latency regressed\np=0.001\n");
        assert_eq!(values(&c), ["v2", "100", "0", "model:v2", "100"]);
        assert_eq!(
            c.subject,
            "revert: roll back model v3 to v2 — latency regressed p=0.001"
        );
    }

    #[test]
    fn a_first_model_is_promoted_at_rest() {
        let c = traffic().promote(&repo(), "fraud", None, "v1");
        assert_eq!(values(&c), ["v1", "100", "0", "model:v1", "100"]);
    }

    #[test]
    fn long_reasons_are_cut_for_the_subject() {
        let reason = "x".repeat(500);
        let short = short_reason(&reason);
        assert_eq!(short.chars().count(), 201);
    }
}
