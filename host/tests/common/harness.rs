//! A whole pipeline on real servers: PostgreSQL for sluice's store and the
//! annotations, a bare deploy repo served by sshd (through a [`Proxy`] that can be cut),
//! and a local trainer script. Built from an ordinary config file through
//! `config::load` and `daemon::build`, driven tick by tick.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sluice::controller::{self, Context, Pipeline, PipelineState, TickError, TickOutcome};

use super::engine;
use super::fake_kube::FakeKube;
use super::services::{Proxy, bare_repo, services};

/// Knobs of a harness.
pub struct Options {
    /// Verified, unused rows seeded.
    pub rows: usize,
    /// The trainer's shell script (gets MODEL_VERSION etc.).
    pub trainer: String,
    /// Extra YAML under the pipeline (e.g. an `argocd:` section), indented 4 spaces.
    pub extra: String,
    /// Send the database through a proxy too.
    pub db_proxy: bool,
    /// Train with Kubernetes Jobs on a [`FakeKube`] instead of a local process.
    pub kube: bool,
    /// Start a [`FakeKube`] (kubeconfig `kubeconfig` in the workspace) even when
    /// training runs locally: for the Kubernetes traffic actuator.
    pub fake_kube: bool,
    /// Written to `argo-token` in the workspace.
    pub argo_token: Option<String>,
}

/// A trainer that reports a good candidate.
pub const GOOD_TRAINER: &str = r#"echo "epoch 1/1" >&2; echo "{\"version\":\"$MODEL_VERSION\",\"metrics\":{\"accuracy\":0.95}}""#;

impl Default for Options {
    fn default() -> Self {
        Self {
            rows: 50,
            trainer: GOOD_TRAINER.into(),
            extra: String::new(),
            db_proxy: false,
            kube: false,
            fake_kube: false,
            argo_token: None,
        }
    }
}

/// A running harness.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub bare: PathBuf,
    pub git_proxy: Proxy,
    pub db_proxy: Option<Proxy>,
    pub ctx: Context,
    pub pipeline: Arc<Pipeline>,
    pub config_path: PathBuf,
    pub kube: Option<FakeKube>,
}

impl Harness {
    /// Builds everything.
    pub async fn new(opts: Options) -> Self {
        let s = services();
        let dir = tempfile::tempdir().expect("tempdir");
        let db_url = super::services::pg_database().await;
        seed(&db_url, opts.rows).await;
        let db_proxy = if opts.db_proxy {
            Some(Proxy::start("127.0.0.1:5432").await)
        } else {
            None
        };
        let config_db_url = match &db_proxy {
            Some(p) => db_url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", p.port)),
            None => db_url.clone(),
        };
        std::fs::write(dir.path().join("db-url"), &config_db_url).expect("write");
        let bare = bare_repo(&s.ssh_repos, "e2e", Some("git"));
        let git_proxy = Proxy::start("127.0.0.1:2222").await;
        let host_key = std::fs::read_to_string(&s.known_hosts).expect("known_hosts");
        let key = host_key.split_once(' ').expect("known_hosts line").1;
        std::fs::write(
            dir.path().join("known_hosts"),
            format!("[127.0.0.1]:{} {key}", git_proxy.port),
        )
        .expect("write");
        std::fs::write(dir.path().join("trainer.sh"), &opts.trainer).expect("write");
        if let Some(t) = &opts.argo_token {
            std::fs::write(dir.path().join("argo-token"), t).expect("write");
        }
        let kube = if opts.kube || opts.fake_kube {
            let fake = FakeKube::start().await;
            fake.write_kubeconfig(&dir.path().join("kubeconfig"), "ml");
            Some(fake)
        } else {
            None
        };
        let executor = if opts.kube {
            "kubernetes:\n        namespace: ml\n        kubeconfig: kubeconfig\n        template:\n          image: registry.example.com/ml/trainer:1\n          args: [--data, annotations]\n          requests: { cpu: \"2\", memory: 4Gi }\n          service_account: trainer\n          active_deadline_seconds: 3600"
        } else {
            "local: { command: [sh, trainer.sh] }"
        };
        let config = format!(
            r#"host:
  state_dir: state
  database: {{ url_secret: {{ file: db-url }} }}
pipelines:
  - name: fraud
    interval: 1s
    production: {{ version: v1, metrics: {{ accuracy: 0.90 }} }}
    data_source:
      database: {{ url_secret: {{ file: db-url }} }}
    executor:
      {executor}
    gitops:
      repo: ssh://git@127.0.0.1:{port}{bare}
      ssh: {{ key_file: {key_file}, known_hosts: known_hosts }}
      targets:
        - {{ file: k8s/apps/inference-service/base/kustomization.yaml, field: "images[name=inference].newTag" }}
      push: {{ retries: 0, backoff: 1s }}
    policies:
      retrain: {{ module: "stock:threshold-retrain", params: {{ min_new_samples: 50, min_interval: 0s }} }}
      promotion: {{ module: "stock:metric-gate", params: {{ rules: ["accuracy higher min 0.90"] }} }}
{extra}"#,
            port = git_proxy.port,
            bare = bare.display(),
            key_file = s.ssh_key.display(),
            extra = opts.extra,
            executor = executor,
        );
        let config_path = dir.path().join("sluice.yaml");
        std::fs::write(&config_path, config).expect("write config");
        let loaded = sluice::config::load(&config_path, &engine()).expect("config loads");
        let lp = sluice::daemon::build(&loaded, engine(), None)
            .await
            .expect("loop builds");
        let pipeline = Arc::clone(&lp.pipelines[0]);
        Self {
            dir,
            db_url,
            bare,
            git_proxy,
            db_proxy,
            ctx: lp.ctx,
            pipeline,
            config_path,
            kube,
        }
    }

    /// One tick.
    pub async fn tick(&self) -> Result<TickOutcome, TickError> {
        controller::tick(&self.ctx, &self.pipeline).await
    }

    /// The persisted state.
    pub async fn state(&self) -> PipelineState {
        self.ctx
            .store
            .load_state("fraud")
            .await
            .expect("load")
            .expect("state exists")
    }

    /// Ticks (every 100 ms) until `done` holds; panics after 30 s.
    pub async fn tick_until(
        &self,
        what: &str,
        done: impl Fn(&PipelineState) -> bool,
    ) -> PipelineState {
        for _ in 0..300 {
            let _ = self.tick().await;
            let s = self.state().await;
            if done(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never reached: {what}; state {:?}", self.state().await);
    }

    /// Ticks until a training run is dispatched (rows claimed, job started).
    pub async fn tick_until_dispatched(&self) -> PipelineState {
        self.tick_until("dispatched", |s| {
            matches!(
                s.phase,
                controller::Phase::Training {
                    dispatched: true,
                    ..
                }
            )
        })
        .await
    }

    /// A query returning one integer, on the annotations database.
    pub async fn count(&self, sql: &str) -> i64 {
        let (pool, _) = sluice::store::pool(&self.db_url, 1).await.expect("pool");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&pool)
            .await
            .expect("query");
        pool.close().await;
        n
    }

    /// Adds verified rows.
    pub async fn add_rows(&self, n: usize) {
        insert(&self.db_url, n).await;
    }

    /// Run directories the local executor created (one per job ever started).
    pub fn job_dirs(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/runs"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

async fn seed(url: &str, rows: usize) {
    let (pool, _) = sluice::store::pool(url, 1).await.expect("pool");
    sqlx::raw_sql(
        "CREATE TABLE annotations (id BIGSERIAL PRIMARY KEY, verified BOOLEAN NOT NULL, \
         used_for_training BOOLEAN NOT NULL DEFAULT FALSE, training_run TEXT)",
    )
    .execute(&pool)
    .await
    .expect("create annotations");
    pool.close().await;
    insert(url, rows).await;
    // Unverified rows never count.
    let (pool, _) = sluice::store::pool(url, 1).await.expect("pool");
    sqlx::raw_sql("INSERT INTO annotations (verified) VALUES (FALSE), (FALSE)")
        .execute(&pool)
        .await
        .expect("insert");
    pool.close().await;
}

/// Inserts `n` verified rows into the `annotations` table at `url`.
pub async fn insert(url: &str, n: usize) {
    let (pool, _) = sluice::store::pool(url, 1).await.expect("pool");
    for _ in 0..n {
        sqlx::raw_sql("INSERT INTO annotations (verified) VALUES (TRUE)")
            .execute(&pool)
            .await
            .expect("insert");
    }
    pool.close().await;
}

/// Latency rows for the rollout tests: `requests(version, latency_ms, at_ms)` with one
/// row per version every 20 ms from a minute ago to two minutes ahead, each latency
/// drawn uniformly from `[low, low + 20)` — or NULL (a broken metrics pipeline) when
/// `low` is NaN.
pub async fn seed_requests(url: &str, versions: &[(&str, f64)]) {
    let (pool, backend) = sluice::store::pool(url, 1).await.expect("pool");
    let (create, draw) = match backend {
        sluice::store::Backend::Postgres => (
            "CREATE TABLE IF NOT EXISTS requests (version TEXT NOT NULL, latency_ms DOUBLE PRECISION, at_ms BIGINT NOT NULL)",
            "random() * 20",
        ),
        sluice::store::Backend::Sqlite => (
            "CREATE TABLE IF NOT EXISTS requests (version TEXT NOT NULL, latency_ms REAL, at_ms INTEGER NOT NULL)",
            "(abs(random()) % 2000) / 100.0",
        ),
    };
    sqlx::raw_sql(create)
        .execute(&pool)
        .await
        .expect("create requests");
    let now = i64::try_from(sluice::clock::now_ms()).expect("now");
    for (version, low) in versions {
        let value = if low.is_nan() {
            "NULL".to_owned()
        } else {
            format!("{low} + {draw}")
        };
        let sql = format!(
            "WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < 9000) \
             INSERT INTO requests (version, latency_ms, at_ms) \
             SELECT '{version}', {value}, {start} + x * 20 FROM g",
            start = now - 60_000
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("insert requests");
    }
    pool.close().await;
}

/// The `rollout:` section and the two rollout policies for a harness pipeline, reading
/// latency from `requests` in the annotations database: steps 20 → 100, one analysis a
/// second.
pub fn sql_rollout(min_step_time: &str, max_holds: u32) -> String {
    format!(
        r#"      regression: {{ module: "stock:stat-regression", params: {{ min_samples: 20, alpha: 0.01, min_effect: 0.5 }} }}
      rollout: {{ module: "stock:canary-steps", params: {{ steps: [20, 100], min_step_time: {min_step_time}, max_holds: {max_holds} }} }}
    rollout:
{traffic}      analysis:
        interval: 1s
        providers:
          db: {{ sql: {{ database: {{ url_secret: {{ file: db-url }} }} }} }}
        metrics:
          - name: latency_ms
            direction: lower-is-better
            provider: db
            baseline: "SELECT latency_ms FROM requests WHERE version = '{{stable}}' AND at_ms BETWEEN {{until_ms}} - 5000 AND {{until_ms}}"
            canary: "SELECT latency_ms FROM requests WHERE version = '{{candidate}}' AND at_ms BETWEEN {{since_ms}} AND {{until_ms}}"
"#,
        traffic = super::services::ROUTE_TRAFFIC
    )
}
