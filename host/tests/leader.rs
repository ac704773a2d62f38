//! Two hosts, one writer: the store refuses pipeline-state writes from a lease term
//! older than the last writer's (fencing), on SQLite and PostgreSQL.

mod common;

use sluice::controller::PipelineState;
use sluice::store::{Fence, Store, StoreError};

async fn fencing_refuses_an_older_term(url: &str) {
    let old_leader = Store::open(url).await.expect("store");
    let new_leader = Store::open(url).await.expect("store");
    let state = PipelineState::new(None);
    old_leader.set_fence(Fence {
        holder: "pod-a".into(),
        term: 1,
    });
    old_leader
        .save_state("fraud", &state, 1)
        .await
        .expect("the leader writes");
    new_leader.set_fence(Fence {
        holder: "pod-b".into(),
        term: 2,
    });
    new_leader
        .save_state("fraud", &state, 2)
        .await
        .expect("the new leader writes");
    let refused = old_leader
        .save_state("fraud", &state, 3)
        .await
        .expect_err("the deposed leader is fenced off");
    assert!(
        matches!(&refused, StoreError::Fenced { pipeline, term: 1 } if pipeline == "fraud"),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("no longer the leader"),
        "{refused}"
    );
    // A run's first write is fenced too, and leaves no run row behind.
    let run = sluice::controller::RunRef {
        id: "r1".into(),
        job: "fraud-r1".into(),
        version: "v2".into(),
    };
    assert!(
        old_leader
            .begin_run("fraud", &run, &state, 4)
            .await
            .is_err()
    );
    assert!(
        new_leader
            .runs(Some("fraud"), 10)
            .await
            .expect("runs")
            .is_empty(),
        "the refused run was not recorded"
    );
    // The same term (the new leader again) and new pipelines write as before.
    new_leader
        .save_state("fraud", &state, 5)
        .await
        .expect("same term");
    old_leader
        .save_state("churn", &state, 6)
        .await
        .expect("a pipeline no newer term wrote");
}

#[tokio::test]
async fn a_deposed_leader_cannot_write_state_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    fencing_refuses_an_older_term(&format!("sqlite:{}", dir.path().join("s.db").display())).await;
}

#[tokio::test]
async fn a_deposed_leader_cannot_write_state_on_postgres() {
    fencing_refuses_an_older_term(&common::services::pg_database().await).await;
}

/// Two real `sluice run` processes on one PostgreSQL store and one (fake) API server:
/// only the leader creates the training Job; killed while the Job runs, the leader is
/// replaced by the standby once its lease expires, and the standby finishes the same
/// run — no second Job, one promotion.
#[test]
fn two_hosts_one_writer_and_the_standby_takes_over_when_the_leader_dies() {
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let fake = rt.block_on(common::fake_kube::FakeKube::start());
    let db = rt.block_on(common::services::pg_database());
    rt.block_on(async {
        let (pool, _) = sluice::store::pool(&db, 1).await.expect("pool");
        sqlx::raw_sql(
            "CREATE TABLE annotations (id SERIAL PRIMARY KEY, verified BOOLEAN NOT NULL, \
             used_for_training BOOLEAN NOT NULL DEFAULT FALSE, training_run TEXT); \
             INSERT INTO annotations (verified) SELECT TRUE FROM generate_series(1, 60)",
        )
        .execute(&pool)
        .await
        .expect("annotations");
        pool.close().await;
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path();
    fake.write_kubeconfig(&ws.join("kubeconfig"), "ml");
    let bare = common::services::bare_repo(ws, "deploy", None);
    let hosts = [
        ("pod-a", common::free_port()),
        ("pod-b", common::free_port()),
    ];
    for (name, port) in hosts {
        std::fs::write(
            ws.join(format!("{name}.yaml")),
            format!(
                "host:
  state_dir: state-{name}
  listen: \"127.0.0.1:{port}\"
  database: {{ url_secret: {{ env: SLUICE_TEST_DB }} }}
  leader_election: {{ namespace: ml, lease_duration: 3s, kubeconfig: kubeconfig }}
pipelines:
  - name: fraud
    interval: 1s
    production: {{ version: v1, metrics: {{ accuracy: 0.90 }} }}
    executor:
      kubernetes: {{ namespace: ml, kubeconfig: kubeconfig, template: {{ image: registry.example.com/ml/trainer:1 }} }}
    gitops:
      repo: \"file://{}\"
      targets: [{{ file: k8s/apps/inference-service/base/kustomization.yaml, field: \"images[name=inference].newTag\" }}]
    policies:
      retrain: {{ module: \"stock:threshold-retrain\", params: {{ min_new_samples: 50, min_interval: 1s }} }}
      promotion: {{ module: \"stock:metric-gate\", params: {{ rules: [\"accuracy higher min 0.90\"] }} }}
",
                bare.display()
            ),
        )
        .expect("config");
    }
    let start = |name: &str| -> Child {
        Command::new(common::process::BIN)
            .args(["run", "--config"])
            .arg(ws.join(format!("{name}.yaml")))
            .env("SLUICE_TEST_DB", &db)
            .env("POD_NAME", name)
            .env("RUST_LOG", "warn,sluice=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(ws.join(format!("{name}.log"))).expect("log"))
            .spawn()
            .expect("sluice starts")
    };
    let logs = || {
        hosts
            .iter()
            .map(|(n, _)| {
                format!(
                    "--- {n}\n{}",
                    std::fs::read_to_string(ws.join(format!("{n}.log"))).unwrap_or_default()
                )
            })
            .collect::<String>()
    };
    let role = |port: u16| -> String {
        use std::io::{Read as _, Write as _};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return String::new();
        };
        let _ = write!(
            s,
            "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.rsplit_once("\r\n\r\n")
            .map(|(_, b)| b.trim().to_owned())
            .unwrap_or_default()
    };
    let wait = |what: &str, cond: &mut dyn FnMut() -> bool| {
        let end = Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(Instant::now() < end, "{what} within 60 s\n{}", logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let jobs_posted = || {
        fake.requests()
            .iter()
            .filter(|r| r.starts_with("POST /apis/batch/v1/namespaces/ml/jobs"))
            .count()
    };

    let mut children: Vec<(&str, u16, Child)> =
        hosts.iter().map(|&(n, p)| (n, p, start(n))).collect();
    wait("one leader and one standby", &mut || {
        let roles: Vec<String> = hosts.iter().map(|(_, p)| role(*p)).collect();
        roles.iter().filter(|r| *r == "ready (leader)").count() == 1
            && roles.iter().filter(|r| *r == "ready (standby)").count() == 1
    });
    wait("the training Job", &mut || !fake.jobs("ml").is_empty());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(jobs_posted(), 1, "only the leader creates Jobs\n{}", logs());
    let job = fake.jobs("ml")[0]["metadata"]["name"]
        .as_str()
        .expect("job name")
        .to_owned();

    // Kill the leader (no goodbye, no lease release) while its Job trains.
    let leader = children
        .iter()
        .position(|(_, p, _)| role(*p) == "ready (leader)")
        .expect("a leader");
    let (dead, _, mut child) = children.remove(leader);
    child.kill().expect("kill");
    let _ = child.wait();
    let killed = Instant::now();
    let (standby, standby_port, _) = &children[0];
    wait("the standby to take over", &mut || {
        role(*standby_port) == "ready (leader)"
    });
    let failover = killed.elapsed();
    eprintln!(
        "failover after {dead} was killed: {failover:?} (lease duration 3 s); {standby} leads"
    );

    // The Job ends; the new leader finishes the same run: one Job, one promotion.
    fake.finish_job(
        "ml",
        &job,
        true,
        r#"{"version":"v2","metrics":{"accuracy":0.95}}"#,
        "",
    );
    let store = rt.block_on(Store::open(&db)).expect("store");
    wait("v2 in production", &mut || {
        rt.block_on(store.load_state("fraud"))
            .ok()
            .flatten()
            .is_some_and(|s| {
                s.production.is_some_and(|p| p.version == "v2")
                    && matches!(s.phase, sluice::controller::Phase::Idle)
            })
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        jobs_posted(),
        1,
        "no second Job after the takeover\n{}",
        logs()
    );
    let runs = rt.block_on(store.runs(Some("fraud"), 10)).expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let log = common::services::git(&bare, &["log", "--format=%s", "main"]);
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("promote model to v2"))
            .count(),
        1,
        "one promotion commit: {log}"
    );

    for (_, _, child) in &children {
        common::process::sigterm(child);
    }
    for (_, _, mut child) in children {
        assert!(common::process::wait_exit(&mut child, Duration::from_secs(30)).success());
    }
}
