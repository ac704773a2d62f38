//! The metric sources against real servers. Prometheus behind an authenticating TLS
//! gateway (the way it is usually exposed): the configured CA is trusted and no other,
//! a bearer token or basic auth is sent, a refusal says what it was and never shows the
//! secret. PostgreSQL: NULL is NaN, a bad query says why, a database that does not
//! answer is "unreachable" (a hold), never an empty window.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::prometheus::PromServer;
use common::services::{Proxy, services};
use sluice::http::HttpClient;
use sluice::metrics_source::prometheus::PrometheusAuth;
use sluice::metrics_source::{MetricsSource, Prometheus, SourceError, SqlSource, Window};
use sluice::secret::Secret;

const TOKEN: &str = "prom-reader-token";
const BASIC: &str = "Basic cmVhZGVyOnMzY3JldA=="; // reader:s3cret

/// A TLS gateway to `upstream` that passes requests carrying the bearer token or the
/// basic credentials and answers 401 to the rest.
async fn gateway(upstream: u16) -> u16 {
    let s = services();
    let dir = s.https_ca.parent().expect("dir").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let client = HttpClient::new(None).expect("client");
    common::http::serve_tls(
        listener,
        &dir.join("server.crt"),
        &dir.join("server.key"),
        move |req: hyper::Request<hyper::body::Incoming>| {
            let client = client.clone();
            async move {
                let auth = req
                    .headers()
                    .get(hyper::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let target = format!(
                    "http://127.0.0.1:{upstream}{}",
                    req.uri().path_and_query().map_or("/", |p| p.as_str())
                );
                let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
                if auth != format!("Bearer {TOKEN}") && auth != BASIC {
                    *r.status_mut() = hyper::StatusCode::UNAUTHORIZED;
                    *r.body_mut() = http_body_util::Full::new(bytes::Bytes::from("Unauthorized\n"));
                    return r;
                }
                let a = client
                    .send("GET", &target, &[], None, Duration::from_secs(10))
                    .await
                    .expect("upstream");
                *r.status_mut() = hyper::StatusCode::from_u16(a.status).expect("status");
                *r.body_mut() = http_body_util::Full::new(a.body);
                r
            }
        },
    );
    port
}

fn prometheus(port: u16, auth: PrometheusAuth, ca: &std::path::Path) -> Prometheus {
    Prometheus::new(
        "secured",
        &format!("https://127.0.0.1:{port}"),
        auth,
        HttpClient::new(Some(ca)).expect("client"),
        Duration::from_secs(5),
        Duration::from_secs(1),
    )
}

fn last_seconds(s: u64) -> Window {
    let now = sluice::clock::now_ms();
    Window {
        since_ms: now - s * 1000,
        until_ms: now,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_behind_tls_and_auth_is_read_with_a_token_or_basic_auth() {
    let prom = PromServer::start(&[("v1", 100.0)]).await;
    let port = gateway(prom.port).await;
    let s = services();
    let query = r#"request_latency_ms{version="v1"}"#;
    // The first scrapes land within a few seconds.
    let bearer = prometheus(
        port,
        PrometheusAuth::Bearer(Secret::new(TOKEN)),
        &s.https_ca,
    );
    let mut got = Vec::new();
    for _ in 0..100 {
        got = bearer
            .samples(query, last_seconds(10), 100_000)
            .await
            .expect("samples with the token")
            .values;
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !got.is_empty() && got.len() % 20 == 0,
        "{} samples",
        got.len()
    );
    assert!(got.iter().all(|v| (90.0..=110.0).contains(v)), "{got:?}");

    let basic = prometheus(
        port,
        PrometheusAuth::Basic {
            username: "reader".into(),
            password: Secret::new("s3cret"),
        },
        &s.https_ca,
    );
    assert!(
        !basic
            .samples(query, last_seconds(10), 100)
            .await
            .expect("basic")
            .values
            .is_empty()
    );

    let wrong = prometheus(
        port,
        PrometheusAuth::Bearer(Secret::new("not-the-token")),
        &s.https_ca,
    );
    let e = wrong
        .samples(query, last_seconds(10), 100)
        .await
        .expect_err("refused")
        .to_string();
    assert!(e.contains("HTTP 401") && e.contains("Unauthorized"), "{e}");
    assert!(!e.contains("not-the-token"), "the secret is not shown: {e}");

    let other_ca = prometheus(
        port,
        PrometheusAuth::Bearer(Secret::new(TOKEN)),
        &s.https_other_ca,
    );
    let e = other_ca
        .samples(query, last_seconds(10), 100)
        .await
        .expect_err("untrusted");
    assert!(matches!(e, SourceError::Unreachable { .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let e = bearer
        .samples("rate(request_latency_ms[1m]", last_seconds(10), 100)
        .await
        .expect_err("bad PromQL");
    assert!(
        matches!(&e, SourceError::Query { message, .. } if message.contains("bad_data")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_rows_nulls_errors_and_an_outage() {
    let url = common::services::pg_database().await;
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let (pool, _) = sluice::store::pool(
        &url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port)),
        2,
    )
    .await
    .expect("pool");
    sqlx::raw_sql(
        "CREATE TABLE r (version TEXT, latency DOUBLE PRECISION, n BIGINT); \
         INSERT INTO r VALUES ('v1', 10.5, 1), ('v1', NULL, 2), ('v2', 'NaN', 3);",
    )
    .execute(&pool)
    .await
    .expect("seed");
    let source: Arc<dyn MetricsSource> = Arc::new(SqlSource::new("db", pool));
    let w = last_seconds(1);
    let got = source
        .samples("SELECT latency FROM r ORDER BY n", w, 10)
        .await
        .expect("rows");
    assert_eq!(got.values[0], 10.5);
    assert!(
        got.values[1].is_nan() && got.values[2].is_nan(),
        "NULL and NaN are NaN"
    );
    let ints = source
        .samples("SELECT n FROM r ORDER BY n", w, 10)
        .await
        .expect("bigint");
    assert_eq!(ints.values, [1.0, 2.0, 3.0]);
    let e = source
        .samples("SELECT latency FROM missing_table", w, 10)
        .await
        .expect_err("no table");
    assert!(
        matches!(&e, SourceError::Query { message, .. } if message.contains("missing_table")),
        "{e}"
    );
    proxy.set_down(true).await;
    let e = source
        .samples("SELECT latency FROM r", w, 10)
        .await
        .expect_err("down");
    assert!(matches!(e, SourceError::Unreachable { .. }), "{e}");
}
