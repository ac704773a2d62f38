//! Rollout benchmarks (results in BENCHMARKS.md), each against a baseline in the same run:
//!
//! - **Rollback latency.** From the rollback verdict (the rolling-back state is written
//!   to the store first, as the controller does) to (a) the candidate's traffic cut
//!   acknowledged by the API server (the fake on loopback: one merge patch) and (b) the
//!   revert pushed over ssh on loopback (kept clone, libgit2). Baseline: the revert the
//!   clone-per-change way with the git CLI (`clone --depth 1`, edit, commit, push).
//! - **Analysis.** 3 metrics × 10,000 samples per arm: collecting them from the SQL
//!   provider (PostgreSQL) and from the Prometheus provider (a real server with
//!   backfilled data), and the regression decision (stock stat-regression, WebAssembly)
//!   on them. Baselines: the same queries read with plain sqlx / plain HTTP + generic
//!   JSON; the same statistics computed natively (`sluice_stats::compare`).
//!
//! Needs the test services: `scripts/test-services.sh && cargo bench -p sluice --bench rollout`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use std::hint::black_box;

use criterion::Criterion;
use sluice::config::rollout::KubeTrafficTarget;
use sluice::decision::{
    Direction, MetricWindow, Regression, RegressionContext, RegressionFailSafe, resolve_params,
};
use sluice::gitops::{DeployRepo, GitAuth, RepoSettings, Target};
use sluice::metrics::Metrics;
use sluice::metrics_source::prometheus::PrometheusAuth;
use sluice::metrics_source::{Prometheus, QueryValues, SqlSource, Window};
use sluice::policy::{Binding, Limits, PolicyModule, decide};
use sluice::rollout::WatchedMetric;
use sluice::rollout::analysis::collect;
use sluice::traffic::{KubeTraffic, Traffic, TrafficState};

const SAMPLES: usize = 10_000;
const METRICS: [&str; 3] = ["latency_ms", "error_rate", "quality"];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------- rollback latency

struct Rollback {
    kube: KubeTraffic,
    repo: DeployRepo,
    traffic: Traffic,
    store: sluice::store::Store,
    state: sluice::controller::PipelineState,
    bare: std::path::PathBuf,
    _fake: common::fake_kube::FakeKube,
    _dir: tempfile::TempDir,
}

async fn rollback_setup() -> Rollback {
    let s = common::services::services();
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = common::fake_kube::FakeKube::start().await;
    fake.put_object(
        "serving.kserve.io/v1beta1",
        "inferenceservices",
        "ml",
        serde_json::json!({ "kind": "InferenceService", "metadata": { "name": "fraud" },
            "spec": { "predictor": { "canaryTrafficPercent": 0 } } }),
    );
    fake.write_kubeconfig(&dir.path().join("kubeconfig"), "ml");
    let targets = [KubeTrafficTarget {
        api_version: "serving.kserve.io/v1beta1".into(),
        kind: "InferenceService".into(),
        plural: None,
        namespace: "ml".into(),
        name: "fraud".into(),
        field: "spec.predictor.canaryTrafficPercent".into(),
        value: "{latest_weight}".into(),
    }];
    let kube = KubeTraffic::connect(Some(Path::new("kubeconfig")), dir.path(), &targets)
        .await
        .expect("kube");
    let bare = common::services::bare_repo(&s.ssh_repos, "bench-rollback", Some("git"));
    let repo = DeployRepo::new(
        RepoSettings {
            url: format!("ssh://git@127.0.0.1:2222{}", bare.display()),
            branch: "main".into(),
            auth: GitAuth::Ssh {
                key_file: s.ssh_key.clone(),
                known_hosts: Some(s.known_hosts.clone()),
            },
            tls_ca: None,
            targets: vec![Target {
                file: common::services::DEPLOY_FILE.into(),
                selector: "images[name=inference].newTag".parse().expect("selector"),
            }],
            author_name: "sluice".into(),
            author_email: "sluice@localhost".into(),
            message: "chore: promote model to {version}".into(),
            retries: 0,
            backoff: Duration::from_secs(1),
        },
        dir.path().join("clone"),
    );
    let config: sluice::config::rollout::RolloutConfig = serde_yaml_ng::from_str(&format!(
        "{}analysis:\n  providers: {{ db: {{ sql: {{}} }} }}\n  metrics: [{{ name: m, direction: lower-is-better, provider: db, baseline: a, canary: b }}]\n",
        common::services::ROUTE_TRAFFIC.replace("      traffic:", "traffic:").replace("\n        ", "\n  ")
    ))
    .expect("rollout config");
    let store = sluice::store::Store::open(&format!(
        "sqlite:{}",
        dir.path().join("sluice.db").display()
    ))
    .await
    .expect("store");
    let run = sluice::controller::RunRef {
        id: "fraud-training-1".into(),
        job: "fraud-training-1".into(),
        version: "v2".into(),
    };
    let report = sluice::decision::ModelReport {
        version: "v2".into(),
        metrics: vec![],
    };
    let mut state = sluice::controller::PipelineState::new(Some(sluice::decision::ModelReport {
        version: "v1".into(),
        metrics: vec![],
    }));
    state.phase = sluice::controller::Phase::RollingBack {
        run,
        report,
        rollback: sluice::rollout::state::Rollback {
            reason: "canary v2 regressed at 20%".into(),
            from_weight: 20,
            started_ms: 0,
            cut: false,
            revert: sluice::rollout::state::Write::new(
                sluice::rollout::state::Action::Shift { weight: 0 },
                "canary v2 regressed at 20%".into(),
            ),
        },
    };
    Rollback {
        kube,
        traffic: Traffic::new(&config),
        repo,
        store,
        state,
        bare,
        _fake: fake,
        _dir: dir,
    }
}

const AT_20: TrafficState<'static> = TrafficState {
    stable: "v1",
    candidate: "v2",
    weight: 20,
};
const CUT: TrafficState<'static> = TrafficState {
    stable: "v1",
    candidate: "v2",
    weight: 0,
};

/// The revert with the git CLI, clone per change: the baseline.
fn cli_revert(bare: &Path, work: &Path) {
    let s = common::services::services();
    let _ = std::fs::remove_dir_all(work);
    let ssh = format!(
        "ssh -i {} -o UserKnownHostsFile={} -o IdentitiesOnly=yes",
        s.ssh_key.display(),
        s.known_hosts.display()
    );
    let url = format!("ssh://git@127.0.0.1:2222{}", bare.display());
    let git = |dir: &Path, args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_SSH_COMMAND", &ssh)
            .env("GIT_AUTHOR_NAME", "cli")
            .env("GIT_AUTHOR_EMAIL", "cli@x")
            .env("GIT_COMMITTER_NAME", "cli")
            .env("GIT_COMMITTER_EMAIL", "cli@x")
            .stderr(Stdio::piped())
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let parent = work.parent().expect("parent");
    git(
        parent,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            &work.display().to_string(),
        ],
    );
    let route = work.join(common::services::ROUTE_FILE);
    let text = std::fs::read_to_string(&route).expect("route");
    let text = text
        .replacen("weight: 80", "weight: 100", 1)
        .replacen("weight: 20", "weight: 0", 1);
    std::fs::write(&route, text).expect("write");
    let deploy = work.join(common::services::DEPLOY_FILE);
    let text = std::fs::read_to_string(&deploy).expect("deploy");
    std::fs::write(&deploy, text.replacen("newTag: v2", "newTag: v1", 1)).expect("write");
    git(
        work,
        &["commit", "-qam", "revert: roll back model v2 to v1"],
    );
    git(work, &["push", "-q", "origin", "main"]);
}

fn rollback_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime) -> Vec<(String, Duration)> {
    let r = rt.block_on(rollback_setup());
    let save = || {
        rt.block_on(r.store.save_state("fraud", &r.state, 1))
            .expect("save");
    };
    let push = |state: TrafficState<'_>, revert: bool| {
        let change = if revert {
            r.traffic
                .revert(&r.repo, "fraud", "v1", "v2", "canary v2 regressed at 20%")
        } else {
            r.traffic.shift(&r.repo, "fraud", state)
        };
        r.repo.apply(&change).expect("push")
    };
    push(AT_20, false);
    let mut g = c.benchmark_group("rollback");
    g.sample_size(20);
    g.bench_function("verdict-to-traffic-cut", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                rt.block_on(r.kube.set(AT_20)).expect("set");
                let t = Instant::now();
                save();
                rt.block_on(r.kube.set(CUT)).expect("cut");
                total += t.elapsed();
            }
            total
        });
    });
    g.sample_size(10);
    g.bench_function("verdict-to-revert-pushed", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                push(AT_20, false);
                let t = Instant::now();
                save();
                black_box(push(CUT, true));
                total += t.elapsed();
            }
            total
        });
    });
    let work = r._dir.path().join("cli");
    g.bench_function("baseline-git-cli-clone-per-revert", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                push(AT_20, false);
                let t = Instant::now();
                cli_revert(&r.bare, &work);
                total += t.elapsed();
            }
            total
        });
    });
    g.finish();
    // Same-run medians for the table.
    let mut cut = Vec::new();
    let mut revert = Vec::new();
    let mut cli = Vec::new();
    for _ in 0..7 {
        rt.block_on(r.kube.set(AT_20)).expect("set");
        let t = Instant::now();
        save();
        rt.block_on(r.kube.set(CUT)).expect("cut");
        cut.push(t.elapsed());
        push(AT_20, false);
        let t = Instant::now();
        save();
        push(CUT, true);
        revert.push(t.elapsed());
        push(AT_20, false);
        let t = Instant::now();
        cli_revert(&r.bare, &work);
        cli.push(t.elapsed());
    }
    vec![
        (
            "verdict → traffic cut acknowledged (API server, loopback)".into(),
            median(cut),
        ),
        (
            "verdict → revert pushed (ssh, loopback, kept clone)".into(),
            median(revert),
        ),
        (
            "baseline: revert with the git CLI, clone per change".into(),
            median(cli),
        ),
    ]
}

// ---------------------------------------------------------------- analysis

/// Now minus 400 s, rounded to a second: the backfilled data starts here.
fn data_start_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 400
}

fn value(metric: usize, version: usize, i: usize) -> f64 {
    let base = [100.0, 0.01, 0.9][metric];
    let spread = [20.0, 0.004, 0.05][metric];
    let h = ((i * 7919 + metric * 104_729 + version * 1_299_709) % 2001) as f64 / 2000.0;
    base + spread * (h - 0.5)
}

async fn sql_source(t0_ms: u64) -> (Arc<SqlSource>, sqlx::AnyPool) {
    let url = common::services::pg_database().await;
    let (pool, _) = sluice::store::pool(&url, 4).await.expect("pool");
    sqlx::raw_sql(
        "CREATE TABLE samples (metric TEXT NOT NULL, version TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, at_ms BIGINT NOT NULL); \
         CREATE INDEX samples_by_arm ON samples (metric, version, at_ms);",
    )
    .execute(&pool)
    .await
    .expect("table");
    for (m, name) in METRICS.iter().enumerate() {
        for (v, version) in ["v1", "v2"].iter().enumerate() {
            let values: Vec<String> = (0..SAMPLES)
                .map(|i| {
                    format!(
                        "('{name}', '{version}', {}, {})",
                        value(m, v, i),
                        t0_ms + i as u64
                    )
                })
                .collect();
            for chunk in values.chunks(2000) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO samples VALUES {}",
                    chunk.join(",")
                )))
                .execute(&pool)
                .await
                .expect("insert");
            }
        }
    }
    sqlx::raw_sql("ANALYZE samples")
        .execute(&pool)
        .await
        .expect("analyze");
    (Arc::new(SqlSource::new("bench", pool.clone())), pool)
}

/// A Prometheus server over backfilled data: per metric and version, 100 pods × 101
/// points one second apart.
struct Prom {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus(t0_s: u64) -> Prom {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("# TYPE bench_value gauge\n");
    for (m, name) in METRICS.iter().enumerate() {
        for (v, version) in ["v1", "v2"].iter().enumerate() {
            for pod in 0..100 {
                for t in 0..=100u64 {
                    let i = pod * 101 + t as usize;
                    text.push_str(&format!(
                        "bench_value{{metric=\"{name}\",version=\"{version}\",pod=\"p{pod:03}\"}} {} {}\n",
                        value(m, v, i),
                        t0_s + t
                    ));
                }
            }
        }
    }
    text.push_str("# EOF\n");
    let om = dir.path().join("data.om");
    std::fs::write(&om, text).expect("openmetrics");
    let data = dir.path().join("data");
    let st = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .expect("promtool (scripts/test-services.sh installs it)");
    assert!(st.success());
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global: { scrape_interval: 1m }\n").expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
            use std::io::{Read as _, Write as _};
            let _ = write!(
                s,
                "GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out.starts_with("HTTP/1.1 200")
        });
        if ready {
            break;
        }
        assert!(Instant::now() < end, "prometheus did not get ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    Prom {
        child,
        port,
        _dir: dir,
    }
}

fn watched(
    source: Arc<dyn sluice::metrics_source::MetricsSource>,
    sql: bool,
) -> Vec<WatchedMetric> {
    METRICS
        .iter()
        .enumerate()
        .map(|(m, name)| {
            let q = |arm: &str| {
                if sql {
                    format!("SELECT value FROM samples WHERE metric = '{name}' AND version = '{{{arm}}}' AND at_ms BETWEEN {{since_ms}} AND {{until_ms}}")
                } else {
                    format!("bench_value{{metric=\"{name}\",version=\"{{{arm}}}\"}}")
                }
            };
            WatchedMetric {
                name: (*name).into(),
                direction: if m == 2 {
                    Direction::HigherIsBetter
                } else {
                    Direction::LowerIsBetter
                },
                source: Arc::clone(&source),
                baseline: q("stable"),
                canary: q("candidate"),
            }
        })
        .collect()
}

fn analysis_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime) -> Vec<(String, Duration)> {
    let t0_s = data_start_s();
    let t0_ms = t0_s * 1000;
    let (sql, pool) = rt.block_on(sql_source(t0_ms));
    let prom = prometheus(t0_s);
    let client = sluice::http::HttpClient::new(None).expect("client");
    let prom_source = Arc::new(Prometheus::new(
        "bench",
        &format!("http://127.0.0.1:{}", prom.port),
        PrometheusAuth::None,
        client.clone(),
        Duration::from_secs(30),
        Duration::from_secs(1),
    ));
    let sql_metrics = watched(sql, true);
    let prom_metrics = watched(prom_source, false);
    let sql_values = QueryValues {
        stable: "v1",
        candidate: "v2",
        weight: 20,
        window: Window {
            since_ms: t0_ms,
            until_ms: t0_ms + SAMPLES as u64,
        },
    };
    let prom_values = QueryValues {
        window: Window {
            since_ms: t0_ms,
            until_ms: t0_ms + 100_000,
        },
        ..sql_values
    };
    let collected = rt
        .block_on(collect(&sql_metrics, sql_values, 1 << 20))
        .expect("sql collect");
    for w in &collected.windows {
        assert_eq!(
            (w.baseline.len(), w.canary.len()),
            (SAMPLES, SAMPLES),
            "{}",
            w.name
        );
    }
    let from_prom = rt
        .block_on(collect(&prom_metrics, prom_values, 1 << 20))
        .expect("prometheus collect");
    for w in &from_prom.windows {
        assert_eq!(
            (w.baseline.len(), w.canary.len()),
            (10_100, 10_100),
            "{}",
            w.name
        );
    }
    // The plain reads, for the baselines.
    let plain_sql = || {
        rt.block_on(async {
            let queries = METRICS.iter().flat_map(|name| {
                ["v1", "v2"].map(|v| {
                    format!("SELECT value FROM samples WHERE metric = '{name}' AND version = '{v}' AND at_ms BETWEEN {t0_ms} AND {}", t0_ms + SAMPLES as u64)
                })
            });
            let reads = queries.map(|q| {
                let pool = pool.clone();
                async move {
                    sqlx::query_scalar::<_, f64>(sqlx::AssertSqlSafe(q))
                        .fetch_all(&pool)
                        .await
                        .expect("read")
                }
            });
            black_box(futures_util::future::join_all(reads).await)
        })
    };
    let plain_prom = || {
        rt.block_on(async {
            let reads = METRICS.iter().flat_map(|name| ["v1", "v2"].map(move |v| (name, v))).map(|(name, v)| {
                let client = client.clone();
                let query = format!("bench_value%7Bmetric%3D%22{name}%22%2Cversion%3D%22{v}%22%7D");
                let url = format!(
                    "http://127.0.0.1:{}/api/v1/query_range?query={query}&start={t0_s}&end={}&step=1",
                    prom.port,
                    t0_s + 100
                );
                async move {
                    let a = client
                        .send("GET", &url, &[], None, Duration::from_secs(30))
                        .await
                        .expect("get");
                    serde_json::from_slice::<serde_json::Value>(&a.body).expect("json")
                }
            });
            black_box(futures_util::future::join_all(reads).await)
        })
    };
    // The regression decision on the collected windows, and natively.
    let engine = common::engine();
    let module = PolicyModule::load_bytes(
        &engine,
        "stock:stat-regression",
        sluice::stock::resolve("stock:stat-regression")
            .expect("stock")
            .expect("stock")
            .wasm,
        None,
    )
    .expect("module");
    let binding = Binding::<Regression> {
        params: resolve_params(&module.description, &Default::default()).expect("params"),
        limits: Limits::default(),
        fail_safe: RegressionFailSafe::Inconclusive,
    };
    let ctx = RegressionContext {
        pipeline: "bench".into(),
        params: Vec::new(),
        metrics: collected.windows.clone(),
    };
    let metrics = Metrics::new();
    let eval = decide::<Regression>(
        &engine,
        &module,
        &binding,
        ctx.clone(),
        SystemTime::now(),
        &metrics,
    );
    assert!(
        eval.failure.is_none(),
        "the decision fits the default limits: {:?}",
        eval.failure
    );
    let wasm_decision = || {
        black_box(decide::<Regression>(
            &engine,
            &module,
            &binding,
            ctx.clone(),
            SystemTime::now(),
            &metrics,
        ));
    };
    let native = |windows: &[MetricWindow]| {
        for w in windows {
            let alternative = match w.direction {
                Direction::LowerIsBetter => sluice_stats::Alternative::Greater,
                Direction::HigherIsBetter => sluice_stats::Alternative::Less,
            };
            black_box(sluice_stats::compare(
                &w.canary,
                &w.baseline,
                sluice_stats::OutlierFilter::Iqr(1.5),
                sluice_stats::TestKind::Welch,
                alternative,
            ));
        }
    };
    let mut g = c.benchmark_group("analysis-3x10k");
    g.sample_size(20);
    g.bench_function("collect-sql", |b| {
        b.iter(|| {
            rt.block_on(collect(&sql_metrics, sql_values, 1 << 20))
                .expect("collect")
        });
    });
    g.bench_function("baseline-plain-sqlx", |b| b.iter(plain_sql));
    g.bench_function("collect-prometheus", |b| {
        b.iter(|| {
            rt.block_on(collect(&prom_metrics, prom_values, 1 << 20))
                .expect("collect")
        });
    });
    g.bench_function("baseline-plain-http-json", |b| b.iter(plain_prom));
    g.bench_function("regression-decision-wasm", |b| b.iter(wasm_decision));
    g.bench_function("baseline-native-statistics", |b| {
        b.iter(|| native(&collected.windows));
    });
    g.finish();
    let time = |f: &dyn Fn()| {
        let v: Vec<Duration> = (0..15)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        median(v)
    };
    vec![
        (
            "collect, SQL provider (PostgreSQL)".into(),
            time(&|| {
                rt.block_on(collect(&sql_metrics, sql_values, 1 << 20))
                    .expect("collect");
            }),
        ),
        (
            "baseline: the same reads with plain sqlx".into(),
            time(&|| {
                plain_sql();
            }),
        ),
        (
            "collect, Prometheus provider".into(),
            time(&|| {
                rt.block_on(collect(&prom_metrics, prom_values, 1 << 20))
                    .expect("collect");
            }),
        ),
        (
            "baseline: the same queries, plain HTTP + generic JSON".into(),
            time(&|| {
                plain_prom();
            }),
        ),
        (
            "regression decision (stat-regression, wasm)".into(),
            time(&wasm_decision),
        ),
        (
            "baseline: the same statistics natively".into(),
            time(&|| native(&collected.windows)),
        ),
    ]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut c = Criterion::default().configure_from_args();
    let mut rows = rollback_benches(&mut c, &rt);
    rows.extend(analysis_benches(&mut c, &rt));
    c.final_summary();
    println!("\nsame-run medians:");
    for (what, d) in rows {
        println!("  {what:<62} {:>10.2} ms", ms(d));
    }
}
