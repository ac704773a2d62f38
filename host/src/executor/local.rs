//! The local-process executor, for development and `sluice demo`.
//!
//! Each run gets a directory `<runs_dir>/<job name>/`. The trainer is started through
//! `sh` in its own process group, so it outlives a host that is killed and restarted;
//! the wrapper writes its pid to `pid` and, when the trainer ends, its exit status to
//! `exit` (renamed into place, so a reader sees it whole). stdout goes to `stdout` (the
//! report is its last non-empty line), stderr to `stderr` (its last line is the progress
//! shown while training runs). The state of a job is read from these files alone, so a
//! restarted host adopts a running trainer instead of starting a second one.
//! Liveness is checked through `/proc`, so this executor is for Linux.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ExecFuture, Executor, ExecutorError, JobSpec, JobState};

/// How often a waiting controller looks at a running trainer's files.
const POLL: Duration = Duration::from_millis(100);

/// How long a run directory without a pid file counts as "starting".
const START_GRACE: Duration = Duration::from_secs(10);

/// The wrapper: records its pid, runs the trainer, records the exit status atomically.
const WRAPPER: &str = r#"echo $$ > "$SLUICE_RUN_DIR/pid.tmp" && mv "$SLUICE_RUN_DIR/pid.tmp" "$SLUICE_RUN_DIR/pid"
"$@" > "$SLUICE_RUN_DIR/stdout" 2> "$SLUICE_RUN_DIR/stderr" < /dev/null
echo $? > "$SLUICE_RUN_DIR/exit.tmp" && mv "$SLUICE_RUN_DIR/exit.tmp" "$SLUICE_RUN_DIR/exit""#;

/// Config of the local executor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// The trainer's argv; the policy's extra arguments are appended.
    pub command: Vec<String>,
    /// Working directory (relative to the config file); default the config's directory.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Runs trainers as local processes.
#[derive(Debug, Clone)]
pub struct LocalExecutor {
    command: Vec<String>,
    workdir: PathBuf,
    env: BTreeMap<String, String>,
    runs_dir: PathBuf,
}

impl LocalExecutor {
    /// An executor running `config.command` with run directories under `runs_dir`.
    pub fn new(config: &LocalConfig, base: &Path, runs_dir: PathBuf) -> Self {
        Self {
            command: config.command.clone(),
            workdir: config
                .workdir
                .as_ref()
                .map_or_else(|| base.to_owned(), |w| base.join(w)),
            env: config.env.clone(),
            runs_dir,
        }
    }

    fn run_dir(&self, job: &str) -> PathBuf {
        self.runs_dir.join(job)
    }

    fn dir_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExecutorError {
        let path = path.display().to_string();
        move |source| ExecutorError::RunDir { path, source }
    }

    fn spawn(&self, spec: &JobSpec) -> Result<(), ExecutorError> {
        let dir = self.run_dir(&spec.job_name);
        std::fs::create_dir_all(&self.runs_dir).map_err(Self::dir_err(&self.runs_dir))?;
        // Creating the run directory is the claim: exactly one dispatch of a job name
        // gets to create it, so two dispatches racing (or a restarted host) never start
        // a second trainer over the first one's files.
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                tracing::info!(job = %spec.job_name, "local trainer already started; adopting it");
                return Ok(());
            }
            Err(e) => return Err(Self::dir_err(&dir)(e)),
        }
        let dir = std::fs::canonicalize(&dir).map_err(Self::dir_err(&dir))?;
        let shown = self.command.join(" ");
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(WRAPPER)
            .arg("sluice-trainer")
            .args(&self.command)
            .args(&spec.extra_args)
            .current_dir(&self.workdir)
            .envs(&self.env)
            .env("SLUICE_RUN_DIR", &dir)
            .env("MODEL_VERSION", &spec.version)
            .env("SLUICE_RUN_ID", &spec.run_id)
            .env("SLUICE_PIPELINE", &spec.pipeline)
            .env("SLUICE_JOB_NAME", &spec.job_name)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|source| ExecutorError::Spawn {
            command: shown,
            source,
        })?;
        // Reap the wrapper when it ends; its exit file is what counts.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(())
    }

    fn read_state(&self, job: &str) -> Result<JobState, ExecutorError> {
        let dir = self.run_dir(job);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        if let Some(exit) = read("exit") {
            let stdout = read("stdout").unwrap_or_default();
            return Ok(match exit.trim() {
                "0" => match last_line(&stdout) {
                    Some(line) => JobState::Succeeded {
                        report: line.to_owned(),
                    },
                    None => JobState::Failed {
                        reason: "the trainer exited 0 but printed no report on stdout".into(),
                    },
                },
                code => JobState::Failed {
                    reason: format!(
                        "the trainer exited with status {code}; last stderr line: {}",
                        last_line(&read("stderr").unwrap_or_default()).unwrap_or("(none)")
                    ),
                },
            });
        }
        if let Some(pid) = read("pid") {
            let alive = Path::new("/proc").join(pid.trim()).exists();
            return Ok(if alive {
                JobState::Running {
                    detail: last_line(&read("stderr").unwrap_or_default())
                        .unwrap_or("")
                        .to_owned(),
                }
            } else {
                JobState::Failed {
                    reason: format!(
                        "the trainer (pid {}) ended without recording an exit status (killed?)",
                        pid.trim()
                    ),
                }
            });
        }
        match std::fs::metadata(&dir) {
            Ok(meta) => {
                let age = meta.modified().ok().and_then(|m| m.elapsed().ok());
                Ok(if age.is_some_and(|a| a > START_GRACE) {
                    JobState::Failed {
                        reason: "the trainer never started (no pid recorded)".into(),
                    }
                } else {
                    JobState::Running {
                        detail: "starting".into(),
                    }
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(JobState::Missing),
            Err(e) => Err(Self::dir_err(&dir)(e)),
        }
    }

    fn list_active(&self, pipeline: &str) -> Result<Vec<String>, ExecutorError> {
        let prefix = format!("{pipeline}-training-");
        let entries = match std::fs::read_dir(&self.runs_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::dir_err(&self.runs_dir)(e)),
        };
        let mut active = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Self::dir_err(&self.runs_dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with(&prefix)
                && matches!(self.read_state(&name)?, JobState::Running { .. })
            {
                active.push(name);
            }
        }
        active.sort();
        Ok(active)
    }
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

impl Executor for LocalExecutor {
    fn dispatch<'a>(&'a self, spec: &'a JobSpec) -> ExecFuture<'a, ()> {
        Box::pin(async move { self.spawn(spec) })
    }

    fn state<'a>(&'a self, job_name: &'a str) -> ExecFuture<'a, JobState> {
        Box::pin(async move { self.read_state(job_name) })
    }

    fn active<'a>(&'a self, pipeline: &'a str) -> ExecFuture<'a, Vec<String>> {
        Box::pin(async move { self.list_active(pipeline) })
    }

    fn wait_for_change<'a>(
        &'a self,
        job_name: &'a str,
        _run_id: &'a str,
        timeout: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        // The end of a local trainer is its `exit` file appearing; progress is its stderr.
        Box::pin(async move {
            let dir = self.run_dir(job_name);
            let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let progress = size(dir.join("stderr"));
            let end = tokio::time::Instant::now() + timeout;
            while tokio::time::Instant::now() < end {
                tokio::time::sleep(POLL.min(timeout)).await;
                if dir.join("exit").exists() || size(dir.join("stderr")) != progress {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executor(dir: &Path, script: &str) -> LocalExecutor {
        let config = LocalConfig {
            command: vec!["sh".into(), "-c".into(), script.into(), "trainer".into()],
            workdir: None,
            env: BTreeMap::new(),
        };
        LocalExecutor::new(&config, dir, dir.join("runs"))
    }

    fn spec(job: &str) -> JobSpec {
        JobSpec {
            pipeline: "fraud".into(),
            run_id: "run-1".into(),
            job_name: job.into(),
            version: "v2".into(),
            extra_args: vec!["--epochs=3".into()],
        }
    }

    async fn wait_done(ex: &LocalExecutor, job: &str) -> JobState {
        for _ in 0..500 {
            match ex.state(job).await.expect("state") {
                JobState::Running { .. } => tokio::time::sleep(Duration::from_millis(10)).await,
                other => return other,
            }
        }
        panic!("job {job} did not finish");
    }

    #[tokio::test]
    async fn a_trainer_gets_the_contract_and_its_report_is_the_last_stdout_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ex = executor(
            dir.path(),
            r#"echo "progress" >&2; echo "log line"; echo "{\"version\":\"$MODEL_VERSION\",\"metrics\":{\"args\":$#},\"run\":\"$SLUICE_RUN_ID\"}""#,
        );
        let job = "fraud-training-1";
        assert_eq!(ex.state(job).await.expect("state"), JobState::Missing);
        ex.dispatch(&spec(job)).await.expect("dispatch");
        ex.dispatch(&spec(job)).await.expect("adopt");
        let JobState::Succeeded { report } = wait_done(&ex, job).await else {
            panic!("not succeeded");
        };
        assert_eq!(
            report,
            r#"{"version":"v2","metrics":{"args":1},"run":"run-1"}"#
        );
        assert!(ex.active("fraud").await.expect("active").is_empty());
    }

    #[tokio::test]
    async fn racing_dispatches_of_one_job_start_one_trainer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let count = dir.path().join("starts");
        let ex = executor(
            dir.path(),
            &format!("echo x >> '{}'; sleep 0.2; echo '{{}}'", count.display()),
        );
        for round in 0..20 {
            let job = format!("fraud-training-{round}");
            let spec = spec(&job);
            let (a, b, c) =
                tokio::join!(ex.dispatch(&spec), ex.dispatch(&spec), ex.dispatch(&spec));
            a.and(b).and(c).expect("dispatch");
            assert!(matches!(
                wait_done(&ex, &job).await,
                JobState::Succeeded { .. }
            ));
        }
        let starts = std::fs::read_to_string(&count).expect("count");
        assert_eq!(starts.lines().count(), 20, "one trainer per job name");
    }

    #[tokio::test]
    async fn failures_say_why_and_running_jobs_count_as_active() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ex = executor(dir.path(), "echo 'CUDA out of memory' >&2; exit 3");
        ex.dispatch(&spec("fraud-training-2"))
            .await
            .expect("dispatch");
        let JobState::Failed { reason } = wait_done(&ex, "fraud-training-2").await else {
            panic!("not failed");
        };
        assert!(
            reason.contains("status 3") && reason.contains("CUDA out of memory"),
            "{reason}"
        );

        let slow = executor(dir.path(), "echo 'epoch 1/9' >&2; sleep 5");
        slow.dispatch(&spec("fraud-training-3"))
            .await
            .expect("dispatch");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            slow.active("fraud").await.expect("active"),
            vec!["fraud-training-3".to_owned()]
        );
        let JobState::Running { detail } = slow.state("fraud-training-3").await.expect("state")
        else {
            panic!("not running");
        };
        assert_eq!(detail, "epoch 1/9");
        assert!(slow.active("other").await.expect("active").is_empty());
    }
}
