//! Executors run training: a Kubernetes Job in a cluster, a local process for
//! development and the demo. Both follow one contract: the trainer gets `MODEL_VERSION`,
//! `SLUICE_RUN_ID`, `SLUICE_PIPELINE` and `SLUICE_JOB_NAME` in its environment plus the
//! policy's extra arguments, and reports the candidate as JSON
//! (`{"version": "v2", "metrics": {"accuracy": 0.93}}`) — the Job in its termination
//! message, the local process on the last line of stdout.
//!
//! Every operation is idempotent so the controller can repeat it after a restart:
//! dispatching a job that exists adopts it.

pub mod kubernetes;
pub mod local;

use std::future::Future;
use std::pin::Pin;

use crate::decision::ModelReport;

/// A future returned by an executor.
pub type ExecFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ExecutorError>> + Send + 'a>>;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// Pipeline name.
    pub pipeline: String,
    /// Run id.
    pub run_id: String,
    /// Job name (`<pipeline>-training-<unix milliseconds>`).
    pub job_name: String,
    /// The candidate's version.
    pub version: String,
    /// Extra trainer arguments from the retrain policy.
    pub extra_args: Vec<String>,
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Still running; `detail` is the latest progress known (may be empty).
    Running {
        /// Progress text.
        detail: String,
    },
    /// Finished successfully; `report` is the raw report text.
    Succeeded {
        /// The report as the trainer wrote it.
        report: String,
    },
    /// Finished unsuccessfully.
    Failed {
        /// Why, as precisely as known.
        reason: String,
    },
    /// No such job (never created, or deleted).
    Missing,
}

/// Executor failures. All are transient from the controller's view: it retries.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The local trainer could not be started.
    #[error("cannot start the trainer `{command}`: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Local bookkeeping files could not be read or written.
    #[error("cannot use the run directory {path}: {source}")]
    RunDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Kubernetes API refused or failed.
    #[error("Kubernetes API error while {what}: {source}")]
    Kube {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// The Kubernetes client cannot be configured.
    #[error("{0}")]
    Config(String),
    /// The Job template cannot be turned into a Job.
    #[error("the Job template of pipeline `{pipeline}` is invalid: {message}")]
    Template {
        /// Pipeline.
        pipeline: String,
        /// What is wrong.
        message: String,
    },
}

/// Runs training jobs.
pub trait Executor: Send + Sync {
    /// Starts the job, or adopts it if it already exists.
    fn dispatch<'a>(&'a self, spec: &'a JobSpec) -> ExecFuture<'a, ()>;
    /// The job's state.
    fn state<'a>(&'a self, job_name: &'a str) -> ExecFuture<'a, JobState>;
    /// Names of the pipeline's jobs that are still running. An error means "unknown",
    /// which the controller treats as busy.
    fn active<'a>(&'a self, pipeline: &'a str) -> ExecFuture<'a, Vec<String>>;
    /// Returns when job `job_name` of run `run_id` may have changed, or after `timeout`:
    /// the controller waits here between ticks while a job trains, so it reacts to the
    /// end of a job at once. Never fails: on trouble it waits out the timeout.
    fn wait_for_change<'a>(
        &'a self,
        job_name: &'a str,
        run_id: &'a str,
        timeout: std::time::Duration,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// The Job name for a run of `pipeline` started at `unix_ms` (milliseconds, so two runs
/// never share a name). At most 63 characters for a pipeline name of at most 40: a valid
/// Job name and label value.
pub fn job_name(pipeline: &str, unix_ms: u64) -> String {
    format!("{pipeline}-training-{unix_ms}")
}

/// A malformed candidate report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the trainer's report is not usable: {problem}; expected JSON like {{\"version\": \"v2\", \"metrics\": {{\"accuracy\": 0.93}}}}, got `{excerpt}`"
)]
pub struct ReportError {
    /// What is wrong.
    pub problem: String,
    /// The start of what was received.
    pub excerpt: String,
}

/// Parses the report of the run that was given `MODEL_VERSION=assigned`.
///
/// sluice names versions: the trainer gets the version in `MODEL_VERSION` and the
/// report's `version` must be that one (or absent, meaning that one). A different
/// version is refused, so Git, the store and the audit log never disagree about what
/// was trained.
///
/// # Errors
/// Not JSON, not the expected shape, a version other than `assigned`, or a non-finite
/// metric.
pub fn parse_report(text: &str, assigned: &str) -> Result<ModelReport, ReportError> {
    let excerpt: String = text.trim().chars().take(200).collect();
    let fail = |problem: String| ReportError {
        problem,
        excerpt: excerpt.clone(),
    };
    let mut value: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| fail(e.to_string()))?;
    if let Some(object) = value.as_object_mut() {
        object
            .entry("version")
            .or_insert_with(|| serde_json::Value::String(assigned.to_owned()));
    }
    let report: ModelReport = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
    if report.version != assigned {
        return Err(fail(format!(
            "it says version `{}`, but the run was started with MODEL_VERSION={assigned}; sluice names versions, so report `{assigned}` (or leave `version` out)",
            report.version
        )));
    }
    if let Some(m) = report.metrics.iter().find(|m| !m.value.is_finite()) {
        return Err(fail(format!("metric `{}` is not a finite number", m.name)));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_or_say_what_is_wrong() {
        let r =
            parse_report(r#" {"version":"v2","metrics":{"accuracy":0.93}} "#, "v2").expect("ok");
        assert_eq!(r.version, "v2");
        assert_eq!(r.metrics.len(), 1);
        let r = parse_report(r#"{"metrics":{"accuracy":0.93}}"#, "v2").expect("no version");
        assert_eq!(r.version, "v2", "an absent version is the assigned one");
        for (bad, says) in [
            ("epoch 3/3 done", "expected value"),
            (r#"{"version":"","metrics":{}}"#, "it says version ``"),
            (
                r#"{"version":"2026.12.02-rc1","metrics":{}}"#,
                "it says version `2026.12.02-rc1`, but the run was started with MODEL_VERSION=v2",
            ),
            (r#"{"version":"v2","metrics":{"a":"x"}}"#, "did not match"),
            (r#"[1]"#, "invalid type"),
        ] {
            let e = parse_report(bad, "v2").expect_err(bad).to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn job_names_are_dns_labels() {
        let n = job_name(&"a".repeat(40), 9_999_999_999_999);
        assert!(n.len() <= 63, "{n}");
    }
}
