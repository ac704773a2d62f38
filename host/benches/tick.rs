//! Tick cost with 1,000 pipelines configured (results in BENCHMARKS.md): every
//! pipeline is idle with too few new rows, so a tick is: load state, count rows (SQL),
//! list active jobs, ask the retrain policy (WebAssembly), write the decision to the
//! audit log. SQLite store and data source. Baseline in the same run: the count query
//! alone, 1,000 times.
//!
//! `cargo bench -p sluice --bench tick`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use sluice::policy::{EngineSettings, PolicyEngine};

const PIPELINES: usize = 1000;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = PolicyEngine::new(EngineSettings::default()).expect("engine");
    let db = dir.path().join("sluice.db");
    let bare = dir.path().join("deploy.git");
    sluice::cli::demo::init_deploy_repo(&bare).expect("repo");
    let mut config = String::from(
        "host: { state_dir: state, database: { url: \"sqlite:sluice.db\" } }\npipelines:\n",
    );
    for i in 0..PIPELINES {
        config.push_str(&format!(
            "  - name: p{i}\n    executor: {{ local: {{ command: [\"true\"] }} }}\n    gitops: {{ repo: \"file://{}\", targets: [{{ file: {}, field: \"images[name=inference].newTag\" }}] }}\n    policies:\n      retrain: {{ module: \"stock:threshold-retrain\" }}\n      promotion: {{ module: \"stock:metric-gate\" }}\n",
            bare.display(),
            sluice::cli::demo::DEPLOY_FILE
        ));
    }
    std::fs::write(dir.path().join("sluice.yaml"), config).expect("config");
    let (ctx, pipelines, pool) = rt.block_on(async {
        let (pool, _) = sluice::store::pool(&format!("sqlite:{}", db.display()), 1)
            .await
            .expect("pool");
        sqlx::raw_sql(
            "CREATE TABLE annotations (id INTEGER PRIMARY KEY, verified BOOLEAN NOT NULL, \
             used_for_training BOOLEAN NOT NULL DEFAULT FALSE, training_run TEXT); \
             INSERT INTO annotations (verified) VALUES (TRUE), (TRUE), (FALSE);",
        )
        .execute(&pool)
        .await
        .expect("seed");
        let started = Instant::now();
        let loaded = sluice::config::load(&dir.path().join("sluice.yaml"), &engine).expect("load");
        let lp = sluice::daemon::build(&loaded, Arc::clone(&engine), None)
            .await
            .expect("build");
        eprintln!(
            "loading and checking {PIPELINES} pipelines: {:?}",
            started.elapsed()
        );
        (lp.ctx, lp.pipelines, pool)
    });
    let tick_all = || {
        rt.block_on(async {
            for p in &pipelines {
                sluice::controller::tick(&ctx, p).await.expect("tick");
            }
        })
    };
    let count_all = || {
        rt.block_on(async {
            for _ in 0..PIPELINES {
                let _: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM annotations WHERE verified AND NOT used_for_training",
                )
                .fetch_one(&pool)
                .await
                .expect("count");
            }
        })
    };
    tick_all(); // first ticks create the state rows
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut g = c.benchmark_group("tick_1000_pipelines");
    g.bench_function("tick_every_pipeline_once", |b| b.iter(tick_all));
    g.bench_function("baseline_count_query_x1000", |b| b.iter(count_all));
    g.finish();
    let median = |f: &dyn Fn()| {
        let mut t: Vec<Duration> = (0..5)
            .map(|_| {
                let i = Instant::now();
                f();
                i.elapsed()
            })
            .collect();
        t.sort();
        t[t.len() / 2]
    };
    let tick = median(&tick_all);
    let count = median(&count_all);
    println!(
        "{PIPELINES} pipelines: a full round of ticks {:.0} ms = {:.0} µs per pipeline; count query alone {:.0} µs; ratio {:.1}×",
        tick.as_secs_f64() * 1e3,
        tick.as_secs_f64() * 1e6 / PIPELINES as f64,
        count.as_secs_f64() * 1e6 / PIPELINES as f64,
        tick.as_secs_f64() / count.as_secs_f64()
    );
    c.final_summary();
}
