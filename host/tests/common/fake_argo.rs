//! An in-process fake of Argo CD's REST API for the calls sluice makes, with its JSON
//! shapes: `GET /api/v1/applications/{name}` (with `?refresh=hard`) returning an
//! Application with `status.sync`, `status.health` and `status.operationState`;
//! `POST /api/v1/applications/{name}/sync` starting a sync operation (and refusing a
//! second one while it runs, as Argo CD does); bearer-token auth; gRPC-gateway error
//! bodies (`{"error", "code", "message"}`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

/// The token the fake accepts.
pub const TOKEN: &str = "argo-test-token";

struct App {
    name: String,
    revision: String,
    syncing: Option<(String, Instant)>,
}

struct State {
    app: App,
    /// How long a sync takes; `None`: it never finishes (the app stays Progressing).
    sync_takes: Option<Duration>,
    requests: Vec<String>,
}

/// The fake server.
#[derive(Clone)]
pub struct FakeArgo {
    state: Arc<Mutex<State>>,
    pub port: u16,
}

fn respond(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn grpc_error(status: u16, code: u16, message: &str) -> Response<Full<Bytes>> {
    respond(
        status,
        json!({ "error": message, "code": code, "message": message }),
    )
}

impl FakeArgo {
    /// Starts a fake serving application `app`, deployed at `revision`; syncs take
    /// `sync_takes` (never finish when `None`).
    pub async fn start(app: &str, revision: &str, sync_takes: Option<Duration>) -> Self {
        Self::start_with(app, revision, sync_takes, None).await
    }

    /// As [`FakeArgo::start`], over TLS with the certificate and key given.
    pub async fn start_tls(app: &str, cert: &std::path::Path, key: &std::path::Path) -> Self {
        Self::start_with(app, "0000000", None, Some((cert, key))).await
    }

    async fn start_with(
        app: &str,
        revision: &str,
        sync_takes: Option<Duration>,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let fake = Self {
            state: Arc::new(Mutex::new(State {
                app: App {
                    name: app.into(),
                    revision: revision.into(),
                    syncing: None,
                },
                sync_takes,
                requests: Vec::new(),
            })),
            port,
        };
        let server = fake.clone();
        let handler = move |req| {
            let server = server.clone();
            async move { server.handle(req).await }
        };
        match tls {
            Some((cert, key)) => super::http::serve_tls(listener, cert, key, handler),
            None => super::http::serve(listener, handler),
        }
        fake
    }

    /// From now on syncs take `sync_takes` (never finish when `None`).
    pub fn set_sync_takes(&self, sync_takes: Option<Duration>) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sync_takes = sync_takes;
    }

    /// `METHOD path?query body` of every request.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests
            .clone()
    }

    fn application(st: &mut State) -> Value {
        let takes = st.sync_takes;
        if let Some((rev, started)) = &st.app.syncing
            && takes.is_some_and(|t| started.elapsed() >= t)
        {
            st.app.revision = rev.clone();
            st.app.syncing = None;
        }
        let app = &st.app;
        let (sync, health, operation) = match &app.syncing {
            Some((rev, _)) => (
                json!({ "status": "OutOfSync", "revision": app.revision }),
                json!({ "status": "Progressing" }),
                json!({ "phase": "Running", "message": "waiting for healthy state of apps/Deployment/inference", "operation": { "sync": { "revision": rev } } }),
            ),
            None => (
                json!({ "status": "Synced", "revision": app.revision }),
                json!({ "status": "Healthy" }),
                json!({ "phase": "Succeeded", "message": "successfully synced (all tasks run)", "syncResult": { "revision": app.revision } }),
            ),
        };
        json!({
            "metadata": { "name": app.name, "namespace": "argocd" },
            "spec": {
                "project": "default",
                "source": { "repoURL": "ssh://git@example/deploy.git", "path": "k8s/apps/inference-service/base", "targetRevision": "main" },
                "destination": { "server": "https://kubernetes.default.svc", "namespace": "ml" },
            },
            "status": { "sync": sync, "health": health, "operationState": operation },
        })
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let super::http::Parts {
            method,
            path,
            query,
            bearer_ok: auth_ok,
            body,
            ..
        } = super::http::read(req, TOKEN).await;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.requests.push(format!(
            "{method} {path}?{query} {}",
            String::from_utf8_lossy(&body)
        ));
        if !auth_ok {
            return grpc_error(401, 16, "invalid session: token is missing or invalid");
        }
        let rest = path.strip_prefix("/api/v1/applications/").unwrap_or("");
        let (name, action) = rest.split_once('/').unwrap_or((rest, ""));
        if name != st.app.name {
            return grpc_error(
                404,
                5,
                &format!("applications.argoproj.io \"{name}\" not found"),
            );
        }
        match (method.as_str(), action) {
            ("GET", "") => {
                let app = Self::application(&mut st);
                respond(200, app)
            }
            ("POST", "sync") => {
                let _ = Self::application(&mut st);
                if st.app.syncing.is_some() {
                    return grpc_error(400, 9, "another operation is already in progress");
                }
                let revision = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["revision"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "HEAD".into());
                st.app.syncing = Some((revision, Instant::now()));
                let app = Self::application(&mut st);
                respond(200, app)
            }
            _ => grpc_error(404, 5, "Not Found"),
        }
    }
}
