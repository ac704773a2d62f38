//! A real Prometheus server (the Debian package's binary, installed by
//! `scripts/test-services.sh`) on a free loopback port, scraping every second an
//! exporter inside the test: `request_latency_ms{version, pod}` for 20 pods per
//! version, each around the version's mean with a spread the test sets.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pods per version: each is one series, so each evaluation gives 20 samples per arm.
const PODS: u32 = 20;

/// A running Prometheus and its exporter.
pub struct PromServer {
    /// Prometheus's port on 127.0.0.1.
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
    profiles: Arc<Mutex<Vec<(String, f64)>>>,
}

/// The exporter's page: every version's pods, values spread ±10 around the mean and
/// changing with every scrape.
fn page(profiles: &[(String, f64)], scrape: u64) -> String {
    let mut out = String::from("# TYPE request_latency_ms gauge\n");
    for (version, mean) in profiles {
        for pod in 0..PODS {
            let h = (scrape * 7919 + u64::from(pod) * 104_729) % 2001;
            let value = mean - 10.0 + h as f64 / 100.0;
            out.push_str(&format!(
                "request_latency_ms{{version=\"{version}\",pod=\"p{pod}\"}} {value}\n"
            ));
        }
    }
    out
}

impl PromServer {
    /// Starts the exporter (on the current runtime) and Prometheus; returns once
    /// Prometheus is ready.
    pub async fn start(profiles: &[(&str, f64)]) -> Self {
        let profiles = Arc::new(Mutex::new(
            profiles
                .iter()
                .map(|(v, m)| ((*v).to_owned(), *m))
                .collect::<Vec<_>>(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind exporter");
        let exporter = listener.local_addr().expect("addr").port();
        let shared = Arc::clone(&profiles);
        let scrapes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        super::http::serve(listener, move |_req| {
            let (shared, scrapes) = (Arc::clone(&shared), Arc::clone(&scrapes));
            async move {
                let n = scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let body = page(&shared.lock().expect("profiles"), n);
                hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)))
            }
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nscrape_configs:\n  - job_name: inference\n    static_configs: [{{ targets: [\"127.0.0.1:{exporter}\"] }}]\n"
            ),
        )
        .expect("config");
        let port = super::free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (installed by scripts/test-services.sh)");
        let server = Self {
            port,
            child,
            _dir: dir,
            profiles,
        };
        let end = Instant::now() + Duration::from_secs(30);
        while !server.ready().await {
            assert!(Instant::now() < end, "prometheus did not get ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    async fn ready(&self) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let req = "GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).await.is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out.starts_with("HTTP/1.1 200")
    }

    /// Changes a version's mean latency from the next scrape on.
    pub fn set_mean(&self, version: &str, mean: f64) {
        let mut p = self.profiles.lock().expect("profiles");
        match p.iter_mut().find(|(v, _)| v == version) {
            Some(entry) => entry.1 = mean,
            None => p.push((version.to_owned(), mean)),
        }
    }
}

impl Drop for PromServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rollout section for a harness pipeline reading latency from Prometheus at
/// `port`.
pub fn prometheus_rollout(port: u16, max_holds: u32) -> String {
    format!(
        r#"      regression: {{ module: "stock:stat-regression", params: {{ min_samples: 20, alpha: 0.01, min_effect: 0.5 }} }}
      rollout: {{ module: "stock:canary-steps", params: {{ steps: [20, 100], min_step_time: 1s, max_holds: {max_holds} }} }}
    rollout:
{traffic}      analysis:
        interval: 1s
        providers:
          prom: {{ prometheus: {{ url: "http://127.0.0.1:{port}", step: 1s, timeout: 2s }} }}
        metrics:
          - name: latency_ms
            direction: lower-is-better
            provider: prom
            baseline: 'request_latency_ms{{version="{{stable}}"}}'
            canary: 'request_latency_ms{{version="{{candidate}}"}}'
"#,
        traffic = super::services::ROUTE_TRAFFIC
    )
}
