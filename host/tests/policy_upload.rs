//! The policy upload API end to end: the real `sluice run` on PostgreSQL with
//! `host.admin` set, the real `sluice policy push` as the client, and raw HTTP where a
//! client would not send what is tested (a wrong digest, no token). Uploads survive a
//! restart; a pinned pipeline refuses other bytes; a hostile module is refused and the
//! live version stays; every attempt is audited.

mod common;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::process::{BIN, sigterm, wait_exit};
use common::services::bare_repo;
use common::wasm_bytes::{hostile_describing, rebuilt};
use serde_json::Value;
use sluice::policy::sha256_hex;

const TOKEN: &str = "ci-token-7f3a";

/// One HTTP/1.1 exchange on loopback: (status, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413, 401) before reading a large body and close.
    let _ = s.write_all(body);
    answer(&mut s)
}

/// A PUT whose head declares `length` body bytes, none of which are sent.
fn request_declaring(port: u16, path: &str, length: u64) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {length}\r\n\r\n",
        bearer()
    )
    .expect("write head");
    answer(&mut s)
}

/// The status and body of the answer on `s`.
fn answer(s: &mut std::net::TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn get(port: u16, path: &str) -> (u16, Value) {
    let (status, body) = request(port, "GET", path, &[("Authorization", &bearer())], b"");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The workspace's config: `fraud` uses the stock modules, or (once `gate` was
/// uploaded) `gate` pinned to `pin`, beside `churn` using the unpinned `churn-gate`.
fn write_config(dir: &Path, port: u16, pin: Option<&str>) {
    let bare = dir.join("deploy.git");
    let pipelines = match pin {
        None => "      retrain: { module: \"stock:threshold-retrain\" }\n".to_owned(),
        Some(pin) => format!("      retrain: {{ module: gate, sha256: \"{pin}\" }}\n"),
    };
    let churn = if pin.is_some() {
        format!(
            "  - name: churn
    interval: 1h
    executor: {{ local: {{ command: [\"true\"] }} }}
    gitops: {{ repo: \"file://{bare}\", targets: [{{ file: a.yaml, field: tag }}] }}
    policies:
      retrain: {{ module: churn-gate }}
      promotion: {{ module: \"stock:metric-gate\", params: {{ rules: [\"accuracy higher min 0.9\"] }} }}
",
            bare = bare.display()
        )
    } else {
        String::new()
    };
    let config = format!(
        "host:
  state_dir: state
  listen: \"127.0.0.1:{port}\"
  policy_dir: policies
  database: {{ url_secret: {{ env: SLUICE_TEST_DB }} }}
  admin: {{ tokens_dir: tokens }}
pipelines:
  - name: fraud
    interval: 1h
    executor: {{ local: {{ command: [\"true\"] }} }}
    gitops: {{ repo: \"file://{bare}\", targets: [{{ file: a.yaml, field: tag }}] }}
    policies:
{pipelines}      promotion: {{ module: \"stock:metric-gate\", params: {{ rules: [\"accuracy higher min 0.9\"] }} }}
{churn}",
        bare = bare.display()
    );
    std::fs::write(dir.join("sluice.yaml"), config).expect("config");
}

fn start(dir: &Path, db: &str) -> Child {
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(dir.join("sluice.yaml"))
        .env("SLUICE_TEST_DB", db)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("sluice.log")).expect("log file"))
        .spawn()
        .expect("sluice starts")
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sluice.log")).unwrap_or_default()
}

fn wait_healthy(port: u16, child: &mut Child, dir: &Path) {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "sluice exited before serving:\n{}",
            log(dir)
        );
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && request(port, "GET", "/healthz", &[], b"").0 == 200
        {
            return;
        }
        assert!(Instant::now() < end, "sluice did not serve in 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `sluice policy push FILE --name NAME` against the host: (success, stdout+stderr).
fn push(port: u16, file: &Path, name: &str, token_file: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["policy", "push"])
        .arg(file)
        .args([
            "--name",
            name,
            "--server",
            &format!("http://127.0.0.1:{port}"),
        ])
        .arg("--token-file")
        .arg(token_file)
        .env("RUST_LOG", "error")
        .output()
        .expect("push runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn stop(mut child: Child) {
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}

#[test]
fn uploads_go_live_after_their_checks_survive_a_restart_and_respect_pins_and_tokens() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = rt.block_on(common::services::pg_database());
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path();
    bare_repo(ws, "deploy", None);
    std::fs::create_dir_all(ws.join("policies")).expect("policies");
    std::fs::create_dir_all(ws.join("tokens")).expect("tokens");
    std::fs::write(ws.join("tokens/ci"), format!("{TOKEN}\n")).expect("token");
    let wrong_token = ws.join("wrong-token");
    std::fs::write(&wrong_token, "not-the-token\n").expect("token");
    let gate_bytes = std::fs::read(common::guest("threshold-retrain")).expect("guest");
    let gate_sha = sha256_hex(&gate_bytes);
    let gate = ws.join("gate.wasm");
    std::fs::write(&gate, &gate_bytes).expect("module");
    // A module the directory holds cannot be uploaded over.
    std::fs::write(ws.join("policies/dir-gate.wasm"), &gate_bytes).expect("dir module");

    let port = common::free_port();
    write_config(ws, port, None);
    let mut host = start(ws, &db);
    wait_healthy(port, &mut host, ws);

    // No token, a wrong token: 401, and the client says so.
    let (status, body) = request(port, "GET", "/v1/policies", &[], b"");
    assert_eq!(status, 401, "{body}");
    let (ok, said) = push(port, &gate, "gate", &wrong_token);
    assert!(!ok && said.contains("401"), "{said}");

    // The right token: live, with its digest, origin and world.
    let (ok, said) = push(port, &gate, "gate", &ws.join("tokens/ci"));
    assert!(ok, "{said}");
    let answer: Value = serde_json::from_str(&said).expect("JSON answer");
    assert_eq!(answer["status"], "accepted", "{said}");
    assert_eq!(answer["module"]["sha256"], gate_sha.as_str());
    assert_eq!(answer["module"]["origin"], "upload");
    assert_eq!(answer["module"]["world"], "retrain");
    let (ok, said) = push(port, &gate, "churn-gate", &ws.join("tokens/ci"));
    assert!(ok, "{said}");

    // A body damaged on the way: refused before any check.
    let (status, body) = request(
        port,
        "PUT",
        "/v1/policies/other",
        &[
            ("Authorization", &bearer()),
            ("Expected-Sha256", &"ab".repeat(32)),
        ],
        &gate_bytes,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("digest-mismatch"), "{body}");
    assert_eq!(get(port, "/v1/policies/other").0, 404);

    // The directory's name, a bad name, bytes that are no component, a body over
    // the size limit.
    let put = |name: &str, bytes: &[u8]| {
        request(
            port,
            "PUT",
            &format!("/v1/policies/{name}"),
            &[("Authorization", &bearer())],
            bytes,
        )
    };
    let (status, body) = put("dir-gate", &gate_bytes);
    assert_eq!(status, 409, "{body}");
    let (status, body) = put("Bad..Name", &gate_bytes);
    assert_eq!(status, 400, "{body}");
    let (status, body) = put("junk", b"not a component");
    assert_eq!(status, 422, "{body}");
    // Over the size limit: refused on its declared length, unread.
    let (status, body) = request_declaring(port, "/v1/policies/huge", 65 << 20);
    assert_eq!(status, 413, "{body}");

    // A hostile self-description (a 1 MB name) is refused with a bounded message.
    let hostile = std::fs::read(common::guest("hostile-guest")).expect("hostile guest");
    let (status, body) = put("hostile", &hostile_describing(&hostile, 1, 1 << 20));
    assert_eq!(status, 422, "{body}");
    assert!(
        body.len() < 8 * 1024,
        "the refusal is bounded: {} bytes",
        body.len()
    );

    let (status, list) = get(port, "/v1/policies");
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "churn-gate",
            "dir-gate",
            "gate",
            "stock:metric-gate",
            "stock:threshold-retrain"
        ]
    );
    stop(host);

    // Restarted with pipelines using the uploads: they are loaded from the store, and
    // `fraud` pins `gate` to the uploaded bytes.
    write_config(ws, port, Some(&gate_sha));
    let mut host = start(ws, &db);
    wait_healthy(port, &mut host, ws);
    let (_, live) = get(port, "/v1/policies/gate");
    assert_eq!(live["sha256"], gate_sha.as_str(), "{live}");
    assert_eq!(live["origin"], "upload");
    assert_eq!(live["pipelines"], serde_json::json!(["fraud"]));

    // Other bytes for the pinned module: refused, the pinned ones stay live.
    let other = ws.join("gate-v2.wasm");
    std::fs::write(&other, rebuilt(&gate_bytes, 1)).expect("module");
    let (ok, said) = push(port, &other, "gate", &ws.join("tokens/ci"));
    assert!(
        !ok && said.contains("422") && said.contains("pinned"),
        "{said}"
    );
    assert_eq!(
        get(port, "/v1/policies/gate").1["sha256"],
        gate_sha.as_str()
    );

    // A module whose decisions never end, for a pipeline that uses it: its trial
    // decision runs out of time, it is refused, the earlier upload keeps serving.
    let (status, body) = put("churn-gate", &hostile_describing(&hostile, 5, 0));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("trial"), "{body}");
    let (_, live) = get(port, "/v1/policies/churn-gate");
    assert_eq!(live["sha256"], gate_sha.as_str(), "{live}");

    // An unpinned module takes new bytes; the same bytes again change nothing.
    let v2 = rebuilt(&gate_bytes, 2);
    let (status, body) = put("churn-gate", &v2);
    assert_eq!(status, 200, "{body}");
    let (status, body) = put("churn-gate", &v2);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"unchanged\""), "{body}");
    let (_, live) = get(port, "/v1/policies/churn-gate");
    assert_eq!(live["sha256"], sha256_hex(&v2).as_str());
    assert_eq!(live["swaps"], 1, "{live}");
    stop(host);

    // Every attempt is audited, with who and why.
    let store = rt.block_on(sluice::store::Store::open(&db)).expect("store");
    let audit = rt.block_on(store.upload_audit(100)).expect("audit");
    let row = |reason: &str| {
        audit
            .iter()
            .find(|a| a.reason.starts_with(reason))
            .unwrap_or_else(|| panic!("no `{reason}` in the audit: {audit:#?}"))
    };
    assert_eq!(row("unauthorized").who, "-");
    assert!(!row("unauthorized").accepted);
    assert_eq!(row("accepted").who, "ci");
    assert!(row("accepted").accepted);
    assert_eq!(row("digest-mismatch").sha256, gate_sha);
    for reason in [
        "directory-owned",
        "bad-name",
        "not-wasm",
        "too-large",
        "bad-description",
        "pinned",
        "trial",
        "unchanged",
    ] {
        row(reason);
    }
    let uploads = rt.block_on(store.uploads()).expect("uploads");
    let kept: Vec<(&str, &str)> = uploads
        .iter()
        .map(|u| (u.name.as_str(), u.sha256.as_str()))
        .collect();
    let v2_sha = sha256_hex(&v2);
    assert_eq!(
        kept,
        [("churn-gate", v2_sha.as_str()), ("gate", gate_sha.as_str())]
    );
}

/// The store keeps uploads and their audit on SQLite too (the test above uses
/// PostgreSQL): bytes round-trip exactly, a second upload of a name replaces the first.
#[tokio::test]
async fn uploads_round_trip_in_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    let store = sluice::store::Store::open(&url).await.expect("store");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    for (n, wasm) in [(1u64, vec![0u8, 1, 2]), (2, bytes.clone())] {
        store
            .save_upload(&sluice::store::StoredUpload {
                name: "gate".into(),
                sha256: sha256_hex(&wasm),
                wasm,
                uploaded_by: "ci".into(),
                uploaded_ms: n,
            })
            .await
            .expect("save");
    }
    let kept = store.uploads().await.expect("uploads");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].wasm, bytes);
    assert_eq!(kept[0].uploaded_ms, 2);
}
