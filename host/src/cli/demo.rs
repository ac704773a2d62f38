//! `sluice demo`: the real loop, end to end, with no cluster. It builds a temporary
//! workspace — a SQLite database seeded with annotations, a bare Git deploy repo holding
//! a kustomization (stable and canary image tags) and an HTTPRoute (their weights), a
//! local trainer (this binary's hidden `demo-trainer` command), a simulated inference
//! service writing per-request rows, and the stock policies — writes an ordinary config
//! file for it and runs `sluice run`'s loop, narrating each step: v2 is trained,
//! promoted and rolled out 10 → 25 → 50 → 100 %; new labels arrive, v3 is trained,
//! regresses in serving at its first step and is rolled back. Then it prints the deploy
//! repo's log and the audit trail with the statistics behind each verdict.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config;
use crate::controller::Phase;
use crate::daemon;
use crate::decision::TrainingOutcome;
use crate::policy::PolicyEngine;

/// The deploy repo's file the demo promotes into.
pub const DEPLOY_FILE: &str = "k8s/apps/inference-service/base/kustomization.yaml";

const KUSTOMIZATION: &str =
    "# Inference service — promoted by sluice; everything else is hand-written.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml   # the server
  - service.yaml
  - route.yaml        # traffic split, weights edited by sluice
images:
  - name: inference           # the stable Deployment
    newName: registry.example.com/ml/inference
    newTag: v1        # <- sluice edits only these values
  - name: inference-canary    # the canary Deployment
    newName: registry.example.com/ml/inference
    newTag: v1
  - name: sidecar
    newTag: \"1.4.2\"
";

/// How long the demo may take before it gives up.
const DEADLINE: Duration = Duration::from_secs(150);

/// Labelled rows seeded: verified, unverified.
const SEED: (usize, usize) = (60, 15);

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Workspace setup failed.
    #[error("setting up the demo workspace: {0}")]
    Setup(String),
    /// The config the demo wrote did not load.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The loop did not start.
    #[error(transparent)]
    Start(#[from] daemon::StartError),
    /// The loop did not get through the story in time.
    #[error("the demo did not reach {0} within {1:?}; the workspace is kept at {2}")]
    Timeout(&'static str, Duration, String),
}

fn setup_err(e: impl std::fmt::Display) -> DemoError {
    DemoError::Setup(e.to_string())
}

/// Runs the demo in a fresh temporary workspace (kept when `keep`).
///
/// # Errors
/// See [`DemoError`].
pub async fn run(engine: Arc<PolicyEngine>, keep: bool) -> Result<(), DemoError> {
    let dir = tempfile::Builder::new()
        .prefix("sluice-demo-")
        .tempdir()
        .map_err(setup_err)?;
    let root = dir.path().to_owned();
    let started = Instant::now();
    let say = move |msg: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "[{:>5.1}s] {msg}", started.elapsed().as_secs_f64());
    };
    say(&format!("workspace {}", root.display()));
    seed_database(&root.join("annotations.db")).await?;
    say(&format!(
        "annotations.db: {} verified and {} unverified labelled rows in `annotations`",
        SEED.0, SEED.1
    ));
    let repo = root.join("deploy.git");
    init_deploy_repo(&repo).map_err(setup_err)?;
    say(&format!(
        "deploy.git: bare repo with {DEPLOY_FILE} at newTag v1"
    ));
    let config_path = write_config(&root, &repo)?;
    say(
        "sluice.yaml: pipeline `fraud-detector` (stock policies, local trainer, GitOps into deploy.git)",
    );
    let loaded = config::load(&config_path, &engine)?;
    let observer: crate::controller::Observer = Arc::new(move |pipeline: &str, msg: &str| {
        say(&format!("{pipeline}: {msg}"));
    });
    let lp = daemon::build(&loaded, engine, Some(observer)).await?;
    let store = lp.ctx.store.clone();
    let (stop_tx, stop_rx) = watch::channel(false);
    let serving = tokio::spawn(super::demo_serving::serve(
        root.join("annotations.db"),
        repo.clone(),
        stop_rx.clone(),
    ));
    let runner = tokio::spawn(daemon::run(lp, "127.0.0.1:0", Some(stop_rx)));
    let deadline = Instant::now() + DEADLINE;
    let reached =
        async |what: &'static str, done: &dyn Fn(&crate::controller::PipelineState) -> bool| {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Ok(Some(s)) = store.load_state("fraud-detector").await
                    && done(&s)
                {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(what);
                }
            }
        };
    let production_is = |v: &'static str| {
        move |s: &crate::controller::PipelineState| {
            s.phase == Phase::Idle && s.production.as_ref().is_some_and(|p| p.version == v)
        }
    };
    let mut story = reached("v2 serving all traffic", &production_is("v2")).await;
    if story.is_ok() {
        say("new labelled rows arrive: 60 more verified annotations");
        add_annotations(&root.join("annotations.db"), 60).await?;
        story = reached("the rollback of v3", &|s| {
            s.phase == Phase::Idle && s.last_outcome == Some(TrainingOutcome::Rejected)
        })
        .await;
    }
    let _ = stop_tx.send(true);
    let _ = runner.await;
    let _ = serving.await;
    if let Err(what) = story {
        let kept = dir.keep();
        return Err(DemoError::Timeout(
            what,
            DEADLINE,
            kept.display().to_string(),
        ));
    }
    println!("\n== git log of deploy.git (main)");
    print!("{}", git_log(&repo).map_err(setup_err)?);
    println!("\n== {DEPLOY_FILE} now");
    print!("{}", file_at_head(&repo, DEPLOY_FILE).map_err(setup_err)?);
    println!("\n== {} now", super::demo_serving::ROUTE_FILE);
    print!(
        "{}",
        file_at_head(&repo, super::demo_serving::ROUTE_FILE).map_err(setup_err)?
    );
    println!("\n== audit trail (sluice decisions)");
    let audit = super::ops::decisions(&store, None, 40, false)
        .await
        .map_err(setup_err)?;
    println!("{}", audit.trim_end());
    if keep {
        let kept = dir.keep();
        println!("\nworkspace kept at {}", kept.display());
    }
    Ok(())
}

async fn seed_database(path: &Path) -> Result<(), DemoError> {
    let (pool, _) = crate::store::pool(&format!("sqlite:{}", path.display()), 1)
        .await
        .map_err(setup_err)?;
    sqlx::raw_sql(
        "CREATE TABLE annotations (id INTEGER PRIMARY KEY, label TEXT NOT NULL, \
         verified BOOLEAN NOT NULL, used_for_training BOOLEAN NOT NULL DEFAULT FALSE, \
         training_run TEXT)",
    )
    .execute(&pool)
    .await
    .map_err(setup_err)?;
    for i in 0..SEED.0 + SEED.1 {
        sqlx::query("INSERT INTO annotations (label, verified) VALUES ($1, $2)")
            .bind(if i % 3 == 0 { "fraud" } else { "legit" })
            .bind(i < SEED.0)
            .execute(&pool)
            .await
            .map_err(setup_err)?;
    }
    super::demo_serving::create_table(&pool)
        .await
        .map_err(setup_err)?;
    pool.close().await;
    Ok(())
}

/// Adds `n` verified annotations (new labels arriving).
async fn add_annotations(path: &Path, n: usize) -> Result<(), DemoError> {
    let (pool, _) = crate::store::pool(&format!("sqlite:{}", path.display()), 1)
        .await
        .map_err(setup_err)?;
    for i in 0..n {
        sqlx::query("INSERT INTO annotations (label, verified) VALUES ($1, TRUE)")
            .bind(if i % 4 == 0 { "fraud" } else { "legit" })
            .execute(&pool)
            .await
            .map_err(setup_err)?;
    }
    pool.close().await;
    Ok(())
}

/// Creates a bare repo at `path` with one commit holding the deploy file.
pub fn init_deploy_repo(path: &Path) -> Result<(), git2::Error> {
    let repo = git2::Repository::init_bare(path)?;
    let blob = repo.blob(KUSTOMIZATION.as_bytes())?;
    let route = repo.blob(super::demo_serving::ROUTE.as_bytes())?;
    let mut tree = repo.treebuilder(None)?;
    tree.insert("kustomization.yaml", blob, 0o100_644)?;
    tree.insert("route.yaml", route, 0o100_644)?;
    let mut id = tree.write()?;
    for dir in ["base", "inference-service", "apps", "k8s"] {
        let mut t = repo.treebuilder(None)?;
        t.insert(dir, id, 0o040_000)?;
        id = t.write()?;
    }
    let tree = repo.find_tree(id)?;
    let sig = git2::Signature::now("platform team", "platform@example.com")?;
    repo.commit(
        Some("refs/heads/main"),
        &sig,
        &sig,
        "deploy: inference service at v1",
        &tree,
        &[],
    )?;
    repo.set_head("refs/heads/main")?;
    Ok(())
}

fn write_config(root: &Path, repo: &Path) -> Result<PathBuf, DemoError> {
    let exe = std::env::current_exe().map_err(setup_err)?;
    let text = format!(
        r#"# Written by `sluice demo`; an ordinary config: `sluice run --config` this file.
host:
  state_dir: state
pipelines:
  - name: fraud-detector
    interval: 1s
    production:
      version: v1
      metrics: {{ accuracy: 0.91, latency_p99_ms: 190 }}
    data_source:
      database: {{ url: "sqlite:annotations.db" }}
    executor:
      local:
        command: [{exe:?}, demo-trainer]
    gitops:
      repo: {repo:?}
      targets:                       # the candidate's image
        - file: {DEPLOY_FILE}
          field: images[name=inference-canary].newTag
    rollout:
      traffic:
        git:
          - {{ file: {DEPLOY_FILE}, field: "images[name=inference].newTag", value: "{{stable}}" }}
          - {{ file: {ROUTE_FILE}, field: "spec.rules[0].backendRefs[0].weight", value: "{{stable_weight}}" }}
          - {{ file: {ROUTE_FILE}, field: "spec.rules[0].backendRefs[1].weight", value: "{{weight}}" }}
      analysis:
        interval: 2s                 # compressed for the demo (default 60s)
        providers:
          requests: {{ sql: {{ database: {{ url: "sqlite:annotations.db" }} }} }}
        metrics:
          # The baseline reads the stable version's last 30 s, so it has data even
          # when the candidate takes 100 %; the canary reads the current step only.
          - name: latency_ms
            direction: lower-is-better
            provider: requests
            baseline: "SELECT latency_ms FROM requests WHERE version = '{{stable}}' AND at_ms >= {{until_ms}} - 30000"
            canary: "SELECT latency_ms FROM requests WHERE version = '{{candidate}}' AND at_ms >= {{since_ms}}"
          - name: quality
            direction: higher-is-better
            provider: requests
            baseline: "SELECT quality FROM requests WHERE version = '{{stable}}' AND at_ms >= {{until_ms}} - 30000"
            canary: "SELECT quality FROM requests WHERE version = '{{candidate}}' AND at_ms >= {{since_ms}}"
    policies:
      retrain:
        module: stock:threshold-retrain
        params: {{ min_new_samples: 50, min_interval: 5s }}
      promotion:
        module: stock:metric-gate
        params:
          rules:
            - accuracy higher min 0.90 tolerance 0.005
            - latency_p99_ms lower max 250 tolerance 10
      regression:
        module: stock:stat-regression
        params: {{ min_samples: 30, alpha: 0.01, min_effect: 0.5 }}
      rollout:
        module: stock:canary-steps
        params: {{ steps: [10, 25, 50, 100], min_step_time: 3s, max_holds: 5 }}
"#,
        exe = exe.display().to_string(),
        repo = format!("file://{}", repo.display()),
        ROUTE_FILE = super::demo_serving::ROUTE_FILE,
    );
    let path = root.join("sluice.yaml");
    std::fs::write(&path, text).map_err(setup_err)?;
    Ok(path)
}

/// `git log --format='%h %an: %s'` of `main`, via libgit2 (no git CLI needed).
pub fn git_log(repo: &Path) -> Result<String, git2::Error> {
    let repo = git2::Repository::open(repo)?;
    let mut walk = repo.revwalk()?;
    walk.push_ref("refs/heads/main")?;
    let mut out = String::new();
    for id in walk {
        let c = repo.find_commit(id?)?;
        out.push_str(&format!(
            "  {} {} <{}>: {}\n",
            &c.id().to_string()[..10],
            c.author().name().unwrap_or("?"),
            c.author().email().unwrap_or("?"),
            c.summary().ok().flatten().unwrap_or("")
        ));
    }
    Ok(out)
}

/// The text of `file` at `main` of the bare repo at `repo`.
pub fn file_at_head(repo: &Path, file: &str) -> Result<String, git2::Error> {
    let repo = git2::Repository::open(repo)?;
    let tree = repo.find_reference("refs/heads/main")?.peel_to_tree()?;
    let entry = tree.get_path(Path::new(file))?;
    let blob = repo.find_blob(entry.id())?;
    Ok(String::from_utf8_lossy(blob.content()).into_owned())
}

/// The demo's trainer: progress on stderr, the report on stdout's last line.
pub fn trainer() {
    let version = std::env::var("MODEL_VERSION").unwrap_or_else(|_| "v0".into());
    let epochs = 5;
    for e in 1..=epochs {
        std::thread::sleep(Duration::from_millis(400));
        eprintln!("epoch {e}/{epochs} loss {:.3}", 0.62 / f64::from(e).sqrt());
    }
    println!("training done");
    println!(
        "{}",
        serde_json::json!({
            "version": version,
            "metrics": { "accuracy": 0.934, "latency_p99_ms": 182.0 }
        })
    );
}
