//! The host's HTTP endpoints: `/healthz` (the process serves), `/readyz` (policies are
//! loaded and the database answers; the body names the role: `single`, `leader` or
//! `standby`), `/metrics` (Prometheus text) and, when
//! configured, the policy upload API under `/v1/` ([`crate::admin`]).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::Store;

/// What the endpoints look at.
#[derive(Clone)]
pub struct Probe {
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Pinged by `/readyz`.
    pub store: Store,
    /// The upload API, when `host.admin` is configured.
    pub admin: Option<Arc<crate::admin::Admin>>,
    /// This host's role, for `/readyz`.
    pub role: watch::Receiver<Role>,
}

/// A host's part in running the pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No leader election: this host runs its pipelines.
    Single,
    /// It holds the lease and runs the pipelines.
    Leader,
    /// Another host leads; this one is ready to take over.
    Standby,
}

impl Role {
    /// The name `/readyz` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Leader => "leader",
            Self::Standby => "standby",
        }
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>, content_type: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    probe: Probe,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path().starts_with("/v1/")
        && let Some(admin) = &probe.admin
    {
        return Ok(admin.handle(req).await);
    }
    Ok(match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n", "text/plain"),
        "/readyz" => {
            if probe.store.ping().await {
                // A standby is ready too: it serves probes, metrics and uploads, and
                // a rolling update must not wait for it to lead.
                let role = probe.role.borrow().as_str();
                text(StatusCode::OK, format!("ready ({role})\n"), "text/plain")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database unreachable\n",
                    "text/plain",
                )
            }
        }
        "/metrics" => text(
            StatusCode::OK,
            probe.metrics.render(),
            "text/plain; version=0.0.4",
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; try /healthz, /readyz, /metrics\n",
            "text/plain",
        ),
    })
}

/// Serves on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, probe: Probe, mut shutdown: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let probe = probe.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(probe.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
