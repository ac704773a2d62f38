//! An in-process fake of the Kubernetes API server for Jobs and Pods — the parts sluice
//! uses — and objects of any other kind: custom resources with the `status`
//! subresource, Leases, Events (see `fake_kube_objects`), following the real
//! wire format: JSON objects with server-set metadata (uid,
//! resourceVersion, creationTimestamp), `JobList`/`PodList` with a list
//! resourceVersion, label selectors, `?watch=true` streams of `{"type","object"}` lines,
//! the `status` subresource, bearer-token auth, and `Status` error bodies (404
//! NotFound, 409 AlreadyExists, 401, 500) as the API server sends them. The kube
//! client talks to it through an ordinary kubeconfig and cannot tell.
//!
//! Tests play the Job controller and kubelet through [`FakeKube::complete_job`] and
//! friends, and inject faults with [`FakeKube::inject`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The bearer token the fake accepts.
pub const TOKEN: &str = "fake-kube-token";

pub(super) type Body = BoxBody<Bytes, Infallible>;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Job,
    Pod,
}

impl Kind {
    fn api_version(self) -> &'static str {
        match self {
            Kind::Job => "batch/v1",
            Kind::Pod => "v1",
        }
    }
    fn kind(self) -> &'static str {
        match self {
            Kind::Job => "Job",
            Kind::Pod => "Pod",
        }
    }
    fn plural(self) -> &'static str {
        match self {
            Kind::Job => "jobs",
            Kind::Pod => "pods",
        }
    }
    fn group(self) -> &'static str {
        match self {
            Kind::Job => "batch",
            Kind::Pod => "",
        }
    }
}

struct Watcher {
    kind: Kind,
    ns: String,
    selector: String,
    tx: mpsc::UnboundedSender<Bytes>,
}

/// A one-shot fault: the next request matching `method` and `path_contains` gets
/// `status`; with `apply`, the request takes effect first (a lost response).
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub path_contains: String,
    pub status: u16,
    pub apply: bool,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<(Kind, String, String), Value>,
    version: u64,
    watchers: Vec<Watcher>,
    faults: Vec<Fault>,
    requests: Vec<String>,
    custom: super::fake_kube_objects::Objects,
}

/// The fake API server.
#[derive(Clone)]
pub struct FakeKube {
    state: Arc<Mutex<State>>,
    pub port: u16,
}

fn status_body(code: u16, reason: &str, message: String, kind: Kind, name: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": { "name": name, "group": kind.group(), "kind": kind.plural() },
        "code": code,
    })
}

/// A `Status` failure response, its code given once for the HTTP status and the body.
fn failure(code: u16, reason: &str, message: String, kind: Kind, name: &str) -> Response<Body> {
    respond(code, &status_body(code, reason, message, kind, name))
}

pub(super) fn respond(status: u16, body: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// One line of a watch stream.
pub(super) fn watch_line(event: &str, obj: &Value) -> Bytes {
    Bytes::from(format!("{}\n", json!({ "type": event, "object": obj })))
}

/// Whether `query` asks for a watch (`?watch=true`) rather than a list.
pub(super) fn is_watch(query: &str) -> bool {
    query_param(query, "watch").is_some_and(|w| w == "true" || w == "1")
}

/// Starts a `?watch=true` answer: `ADDED` for each of `existing` when the watch starts
/// from scratch (no `resourceVersion`, or 0), then whatever the returned sender sends,
/// until `timeoutSeconds` (default 300) pass.
pub(super) fn start_watch<'a>(
    query: &str,
    existing: impl Iterator<Item = &'a Value>,
) -> (mpsc::UnboundedSender<Bytes>, Response<Body>) {
    let (tx, rx) = mpsc::unbounded_channel();
    if query_param(query, "resourceVersion").is_none_or(|v| v.is_empty() || v == "0") {
        for obj in existing {
            let _ = tx.send(watch_line("ADDED", obj));
        }
    }
    let timeout_secs: u64 = query_param(query, "timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .unwrap_or(300);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout_secs);
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(b)) => Some((Ok::<_, Infallible>(Frame::data(b)), rx)),
            _ => None,
        }
    });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    (tx, r)
}

pub(super) fn labels_match(obj: &Value, selector: &str) -> bool {
    let labels = obj["metadata"]["labels"].as_object();
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            get(k.trim()) == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            get(k.trim()).is_none()
        } else {
            get(term.trim()).is_some()
        }
    })
}

pub(super) fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
                .replace("%21", "!")
        })
    })
}

impl FakeKube {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let fake = Self {
            state: Arc::new(Mutex::new(State::default())),
            port,
        };
        let server = fake.clone();
        super::http::serve(listener, move |req| {
            let server = server.clone();
            async move { server.handle(req).await }
        });
        fake
    }

    /// Writes a kubeconfig for this server (namespace `ns`) to `path`.
    pub fn write_kubeconfig(&self, path: &Path, ns: &str) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: sluice\n  user:\n    token: {TOKEN}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: sluice\n    namespace: {ns}\ncurrent-context: fake\n",
            self.port
        );
        std::fs::write(path, text).expect("write kubeconfig");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a one-shot fault.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Creates (or replaces) an object of any other kind, as `kubectl apply` would
    /// the first time: `api_version` `group/version` (or `v1`), `plural` its resource.
    pub fn put_object(&self, api_version: &str, plural: &str, ns: &str, obj: Value) {
        let mut st = self.lock();
        st.version += 1;
        let version = st.version;
        st.custom.put(api_version, plural, ns, obj, version);
    }

    /// Gives resource `plural` of `api_version` the `status` subresource, as a CRD
    /// with `subresources: {status: {}}` does.
    pub fn serve_status(&self, api_version: &str, plural: &str) {
        self.lock().custom.serve_status(api_version, plural);
    }

    /// Deletes an object of any other kind (as `kubectl delete` would); whether it
    /// existed.
    pub fn delete_object(&self, api_version: &str, plural: &str, ns: &str, name: &str) -> bool {
        self.lock().custom.delete(api_version, plural, ns, name)
    }

    /// An object of any other kind, as the server holds it.
    pub fn object(&self, api_version: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.lock().custom.get(api_version, plural, ns, name)
    }

    /// The Jobs in `ns`.
    pub fn jobs(&self, ns: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|((k, n, _), _)| *k == Kind::Job && n == ns)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Plays the Job controller and kubelet: a pod of Job `name` ran and terminated
    /// with `message`; the Job is Complete (`succeeded`) or Failed with `reason`.
    pub fn finish_job(&self, ns: &str, name: &str, succeeded: bool, message: &str, reason: &str) {
        let mut st = self.lock();
        let Some(job) = st
            .objects
            .get(&(Kind::Job, ns.into(), name.into()))
            .cloned()
        else {
            panic!("no job {ns}/{name}");
        };
        let uid = job["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let pod = json!({
            "metadata": {
                "name": format!("{name}-x7k2p"),
                "labels": { "job-name": name, "batch.kubernetes.io/job-name": name, "controller-uid": uid },
            },
            "spec": job["spec"]["template"]["spec"].clone(),
            "status": {
                "phase": if succeeded { "Succeeded" } else { "Failed" },
                "containerStatuses": [{
                    "name": "trainer", "ready": false, "restartCount": 0, "image": "x", "imageID": "x",
                    "state": { "terminated": {
                        "exitCode": if succeeded { 0 } else { 1 },
                        "reason": if succeeded { "Completed" } else { "Error" },
                        "message": message,
                    } },
                }],
            },
        });
        Self::put(&mut st, Kind::Pod, ns, pod, "ADDED");
        let now = "2026-11-23T10:00:00Z";
        let mut job = job;
        job["status"] = if succeeded {
            json!({ "succeeded": 1, "completionTime": now, "conditions": [
                { "type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now },
                { "type": "Complete", "status": "True", "lastTransitionTime": now } ] })
        } else {
            json!({ "failed": 1, "conditions": [
                { "type": "FailureTarget", "status": "True", "reason": reason, "lastTransitionTime": now },
                { "type": "Failed", "status": "True", "reason": reason, "message": format!("Job has reached the specified {reason}"), "lastTransitionTime": now } ] })
        };
        Self::put(&mut st, Kind::Job, ns, job, "MODIFIED");
    }

    /// Deletes a Job (as `kubectl delete job` would).
    pub fn delete_job(&self, ns: &str, name: &str) {
        let mut st = self.lock();
        if let Some(obj) = st.objects.remove(&(Kind::Job, ns.into(), name.into())) {
            Self::notify(&mut st, Kind::Job, ns, "DELETED", &obj);
        }
    }

    fn put(st: &mut State, kind: Kind, ns: &str, mut obj: Value, event: &str) -> Value {
        st.version += 1;
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        obj["apiVersion"] = json!(kind.api_version());
        obj["kind"] = json!(kind.kind());
        let meta = &mut obj["metadata"];
        meta["namespace"] = json!(ns);
        meta["resourceVersion"] = json!(st.version.to_string());
        if meta["uid"].is_null() {
            meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", st.version));
            meta["creationTimestamp"] = json!("2026-11-23T10:00:00Z");
            meta["generation"] = json!(1);
        }
        st.objects.insert((kind, ns.into(), name), obj.clone());
        Self::notify(st, kind, ns, event, &obj);
        obj
    }

    fn notify(st: &mut State, kind: Kind, ns: &str, event: &str, obj: &Value) {
        let line = watch_line(event, obj);
        st.watchers.retain(|w| {
            if w.kind == kind && w.ns == ns && labels_match(obj, &w.selector) {
                w.tx.send(line.clone()).is_ok()
            } else {
                !w.tx.is_closed()
            }
        });
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Body> {
        let super::http::Parts {
            method,
            path,
            query,
            bearer_ok: authorized,
            body,
            content_type,
        } = super::http::read(req, TOKEN).await;
        self.lock()
            .requests
            .push(format!("{method} {path}?{query}"));
        if !authorized {
            return respond(
                401,
                &json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}),
            );
        }
        let fault = {
            let mut st = self.lock();
            let i = st
                .faults
                .iter()
                .position(|f| f.method == method && path.contains(&f.path_contains));
            i.map(|i| st.faults.remove(i))
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let Some(resource) = super::fake_kube_objects::ResourcePath::parse(&parts) {
            if let Some(f) = &fault {
                return super::fake_kube_objects::conflict_or_error(f.status, &resource);
            }
            let mut st = self.lock();
            st.version += 1;
            let version = st.version;
            return st
                .custom
                .serve(&method, &resource, &query, &content_type, &body, version);
        }
        let (kind, ns, name, sub) = match parts.as_slice() {
            ["apis", "batch", "v1", "namespaces", ns, "jobs", rest @ ..] => {
                (Kind::Job, *ns, rest.first().copied(), rest.get(1).copied())
            }
            ["api", "v1", "namespaces", ns, "pods", rest @ ..] => {
                (Kind::Pod, *ns, rest.first().copied(), rest.get(1).copied())
            }
            _ => {
                return failure(
                    404,
                    "NotFound",
                    "the server could not find the requested resource".into(),
                    Kind::Job,
                    "",
                );
            }
        };
        if let Some(f) = &fault
            && !f.apply
        {
            return failure(
                f.status,
                "InternalError",
                "Internal error occurred: injected fault".into(),
                kind,
                name.unwrap_or(""),
            );
        }
        let response = self.serve(&method, kind, ns, name, sub, &query, &body);
        match fault {
            Some(f) => failure(
                f.status,
                "InternalError",
                "Internal error occurred: injected fault after the change was applied".into(),
                kind,
                name.unwrap_or(""),
            ),
            None => response,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn serve(
        &self,
        method: &str,
        kind: Kind,
        ns: &str,
        name: Option<&str>,
        sub: Option<&str>,
        query: &str,
        body: &[u8],
    ) -> Response<Body> {
        let not_found = |n: &str| {
            failure(
                404,
                "NotFound",
                format!(
                    "{}{} \"{n}\" not found",
                    kind.plural(),
                    if kind.group().is_empty() {
                        String::new()
                    } else {
                        format!(".{}", kind.group())
                    }
                ),
                kind,
                n,
            )
        };
        let mut st = self.lock();
        match (method, name, sub) {
            ("GET", None, None) => {
                let selector = query_param(query, "labelSelector").unwrap_or_default();
                if is_watch(query) {
                    let existing = st.objects.iter().filter_map(|((k, n, _), obj)| {
                        (*k == kind && n == ns && labels_match(obj, &selector)).then_some(obj)
                    });
                    let (tx, response) = start_watch(query, existing);
                    st.watchers.push(Watcher {
                        kind,
                        ns: ns.into(),
                        selector,
                        tx,
                    });
                    return response;
                }
                let items: Vec<Value> = st
                    .objects
                    .iter()
                    .filter(|((k, n, _), obj)| {
                        *k == kind && n == ns && labels_match(obj, &selector)
                    })
                    .map(|(_, obj)| {
                        // Like the real server, list items carry no apiVersion/kind.
                        let mut o = obj.clone();
                        if let Some(m) = o.as_object_mut() {
                            m.remove("apiVersion");
                            m.remove("kind");
                        }
                        o
                    })
                    .collect();
                respond(
                    200,
                    &json!({
                        "apiVersion": kind.api_version(),
                        "kind": format!("{}List", kind.kind()),
                        "metadata": { "resourceVersion": st.version.to_string() },
                        "items": items,
                    }),
                )
            }
            ("POST", None, None) => {
                let Ok(obj) = serde_json::from_slice::<Value>(body) else {
                    return failure(400, "BadRequest", "the body is not JSON".into(), kind, "");
                };
                let Some(n) = obj["metadata"]["name"].as_str().map(str::to_owned) else {
                    return failure(
                        422,
                        "Invalid",
                        format!(
                            "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                            kind.kind()
                        ),
                        kind,
                        "",
                    );
                };
                // Validation the real API server does that matters here: label
                // values (and a Job's name, which becomes one) are at most 63 chars.
                let too_long = obj["metadata"]["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, v)| v.as_str())
                    .chain((kind == Kind::Job).then_some(n.as_str()))
                    .find(|v| v.len() > 63);
                if let Some(v) = too_long {
                    return failure(
                        422,
                        "Invalid",
                        format!(
                            "{}.{} \"{n}\" is invalid: metadata.labels: Invalid value: \"{v}\": must be no more than 63 characters",
                            kind.kind(),
                            kind.group()
                        ),
                        kind,
                        &n,
                    );
                }
                if st.objects.contains_key(&(kind, ns.into(), n.clone())) {
                    return failure(
                        409,
                        "AlreadyExists",
                        format!("{}.{} \"{n}\" already exists", kind.plural(), kind.group()),
                        kind,
                        &n,
                    );
                }
                let mut obj = obj;
                if kind == Kind::Job {
                    obj["status"] = json!({ "active": 1, "startTime": "2026-11-23T10:00:00Z" });
                }
                let created = Self::put(&mut st, kind, ns, obj, "ADDED");
                respond(201, &created)
            }
            ("GET", Some(n), None | Some("status")) => {
                match st.objects.get(&(kind, ns.into(), n.into())) {
                    Some(obj) => respond(200, obj),
                    None => not_found(n),
                }
            }
            ("PUT", Some(n), Some("status")) => {
                let Some(current) = st.objects.get(&(kind, ns.into(), n.into())).cloned() else {
                    return not_found(n);
                };
                let Ok(obj) = serde_json::from_slice::<Value>(body) else {
                    return failure(400, "BadRequest", "the body is not JSON".into(), kind, n);
                };
                if obj["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]
                    && !obj["metadata"]["resourceVersion"].is_null()
                {
                    return failure(
                        409,
                        "Conflict",
                        format!(
                            "Operation cannot be fulfilled on {}.{} \"{n}\": the object has been modified; please apply your changes to the latest version and try again",
                            kind.plural(),
                            kind.group()
                        ),
                        kind,
                        n,
                    );
                }
                let mut next = current;
                next["status"] = obj["status"].clone();
                let updated = Self::put(&mut st, kind, ns, next, "MODIFIED");
                respond(200, &updated)
            }
            ("DELETE", Some(n), None) => match st.objects.remove(&(kind, ns.into(), n.into())) {
                Some(obj) => {
                    Self::notify(&mut st, kind, ns, "DELETED", &obj);
                    respond(
                        200,
                        &json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":n,"group":kind.group(),"kind":kind.plural()}}),
                    )
                }
                None => not_found(n),
            },
            _ => failure(
                405,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
                kind,
                name.unwrap_or(""),
            ),
        }
    }
}
