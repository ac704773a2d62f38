//! Objects of any kind in the fake API server (custom resources, Leases and Events
//! included), as the real server answers them: create (POST, 409 AlreadyExists), get,
//! list (with a list `resourceVersion` and label selectors), watch (`?watch=true`:
//! `ADDED`/`MODIFIED`/`DELETED` lines, from scratch or after a `resourceVersion`),
//! delete, PUT and PATCH — a JSON merge patch (RFC 7386), a strategic merge patch (as a
//! merge patch: the kinds patched so have no lists), or a server-side apply, which is
//! refused with 409 Conflict when it would change a field another manager owns (unless
//! `force=true`); a field set to null is then owned by no one, a changed one by its writer.
//! `metadata.resourceVersion` in a patch or PUT is a precondition (409 Conflict when
//! stale); every change bumps `resourceVersion`, a change under `spec` bumps
//! `generation`, and `managedFields` records each field manager's fields (`FieldsV1`)
//! with its operation (`Update` for patches and PUTs, `Apply` for apply).
//!
//! A resource registered with [`Objects::serve_status`] has the `status` subresource, as
//! a CRD with `subresources: {status: {}}`: writes to the object ignore `status`
//! (create drops it), writes to `/status` change only `status` and never `generation`.
//! JSON patches are answered 415, which the real server would accept: sluice never
//! sends them.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::fake_kube::{
    Body, is_watch, labels_match, query_param, respond, start_watch, watch_line,
};

/// `/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status]]` (or
/// `/api/v1/…`) of any plural but jobs and pods.
#[derive(Debug, Clone)]
pub struct ResourcePath {
    pub api_version: String,
    pub plural: String,
    pub ns: String,
    /// `None` for the collection.
    pub name: Option<String>,
    /// The `status` subresource.
    pub status: bool,
}

impl ResourcePath {
    /// The path in `parts`, if it names one of the generic objects or collections.
    pub fn parse(parts: &[&str]) -> Option<Self> {
        let (api_version, rest) = match parts {
            ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
            ["api", version, rest @ ..] => ((*version).to_owned(), rest),
            _ => return None,
        };
        let (ns, plural, name, status) = match rest {
            ["namespaces", ns, plural] => (ns, plural, None, false),
            ["namespaces", ns, plural, name] => (ns, plural, Some(*name), false),
            ["namespaces", ns, plural, name, "status"] => (ns, plural, Some(*name), true),
            _ => return None,
        };
        if matches!(*plural, "jobs" | "pods") {
            return None;
        }
        Some(Self {
            api_version,
            plural: (*plural).to_owned(),
            ns: (*ns).to_owned(),
            name: name.map(str::to_owned),
            status,
        })
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

fn status(code: u16, reason: &str, message: String, r: &ResourcePath) -> Response {
    respond(
        code,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason,
            "details": { "name": r.name(), "group": r.api_version.rsplit_once('/').map_or("", |(g, _)| g), "kind": r.plural },
            "code": code,
        }),
    )
}

type Response = hyper::Response<Body>;

/// An injected fault for a generic object: 409 as the server's Conflict, else an
/// internal error.
pub fn conflict_or_error(code: u16, r: &ResourcePath) -> Response {
    if code == 409 {
        status(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                r.plural,
                r.name()
            ),
            r,
        )
    } else {
        status(
            code,
            "InternalError",
            "Internal error occurred: injected fault".into(),
            r,
        )
    }
}

/// RFC 7386: `patch` merged into `target` (null deletes, objects merge, the rest
/// replaces).
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Some(t) = target.as_object_mut() else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The `FieldsV1` set of the fields `patch` sets (lists are atomic: the list itself).
fn fields_v1(patch: &Value) -> Value {
    match patch {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| {
                    k.as_str() != "metadata"
                        && k.as_str() != "apiVersion"
                        && k.as_str() != "kind"
                        && !v.is_null()
                })
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        _ => json!({}),
    }
}

/// Every leaf of a patch (objects are descended; anything else, `null` included, is a
/// leaf) as its path of keys, outside `metadata`, `apiVersion` and `kind`.
fn leaves(patch: &Value) -> Vec<(Vec<String>, Value)> {
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    if path.is_empty() && matches!(k.as_str(), "metadata" | "apiVersion" | "kind") {
                        continue;
                    }
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => out.push((path.clone(), v.clone())),
        }
    }
    let mut out = Vec::new();
    walk(patch, &mut Vec::new(), &mut out);
    out
}

fn at_path<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

/// Whether a manager's `fieldsV1` owns `path`.
fn owns(fields: &Value, path: &[String]) -> bool {
    path.iter()
        .try_fold(fields, |f, k| f.get(format!("f:{k}")))
        .is_some()
}

/// `fields` without `path` (and without parents it leaves empty).
fn disown(fields: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let key = format!("f:{first}");
    let Some(map) = fields.as_object_mut() else {
        return;
    };
    if rest.is_empty() {
        map.remove(&key);
        return;
    }
    if let Some(child) = map.get_mut(&key) {
        disown(child, rest);
        if child.as_object().is_some_and(|c| c.is_empty()) {
            map.remove(&key);
        }
    }
}

/// The server-side-apply conflicts of `manager` applying `sent` to `current`: the
/// fields it would change that another manager owns, as `(manager, .path)`.
fn apply_conflicts(current: &Value, sent: &Value, manager: &str) -> Vec<(String, String)> {
    let managed = current["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (path, value) in leaves(sent) {
        let Some(now) = at_path(current, &path) else {
            continue;
        };
        if value.is_null() || *now == value {
            continue;
        }
        for m in &managed {
            let same = m["manager"] == manager && m["operation"] == "Apply";
            if !same && owns(&m["fieldsV1"], &path) {
                let other = m["manager"].as_str().unwrap_or("?").to_owned();
                out.push((other, format!(".{}", path.join("."))));
            }
        }
    }
    out
}

type Key = (String, String, String, String);

struct Watcher {
    api_version: String,
    plural: String,
    ns: String,
    selector: String,
    tx: mpsc::UnboundedSender<Bytes>,
}

/// The generic objects.
#[derive(Default)]
pub struct Objects {
    map: BTreeMap<Key, Value>,
    /// `(apiVersion, plural)` of the resources with the `status` subresource.
    with_status: BTreeSet<(String, String)>,
    watchers: Vec<Watcher>,
}

impl Objects {
    fn key(api_version: &str, plural: &str, ns: &str, name: &str) -> Key {
        (api_version.into(), plural.into(), ns.into(), name.into())
    }

    /// Gives resource `plural` of `api_version` the `status` subresource.
    pub fn serve_status(&mut self, api_version: &str, plural: &str) {
        self.with_status.insert((api_version.into(), plural.into()));
    }

    fn has_status(&self, r: &ResourcePath) -> bool {
        self.with_status
            .contains(&(r.api_version.clone(), r.plural.clone()))
    }

    /// Stores `obj` with server-set metadata.
    pub fn put(&mut self, api_version: &str, plural: &str, ns: &str, mut obj: Value, version: u64) {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        obj["apiVersion"] = json!(api_version);
        let meta = &mut obj["metadata"];
        meta["namespace"] = json!(ns);
        meta["resourceVersion"] = json!(version.to_string());
        meta["uid"] = json!(format!("00000000-0000-4000-9000-{version:012}"));
        meta["generation"] = json!(1);
        meta["creationTimestamp"] = json!("2026-11-23T10:00:00Z");
        self.notify(api_version, plural, ns, "ADDED", &obj);
        self.map
            .insert(Self::key(api_version, plural, ns, &name), obj);
    }

    /// The stored object.
    pub fn get(&self, api_version: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.map
            .get(&Self::key(api_version, plural, ns, name))
            .cloned()
    }

    /// Deletes an object, as `kubectl delete` would; whether it existed.
    pub fn delete(&mut self, api_version: &str, plural: &str, ns: &str, name: &str) -> bool {
        match self.map.remove(&Self::key(api_version, plural, ns, name)) {
            Some(obj) => {
                self.notify(api_version, plural, ns, "DELETED", &obj);
                true
            }
            None => false,
        }
    }

    fn notify(&mut self, api_version: &str, plural: &str, ns: &str, event: &str, obj: &Value) {
        let line = watch_line(event, obj);
        self.watchers.retain(|w| {
            if w.api_version == api_version
                && w.plural == plural
                && w.ns == ns
                && labels_match(obj, &w.selector)
            {
                w.tx.send(line.clone()).is_ok()
            } else {
                !w.tx.is_closed()
            }
        });
    }

    fn in_collection<'a>(
        &'a self,
        r: &'a ResourcePath,
        selector: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.map
            .iter()
            .filter(move |((v, p, n, _), obj)| {
                *v == r.api_version && *p == r.plural && *n == r.ns && labels_match(obj, selector)
            })
            .map(|(_, obj)| obj)
    }

    /// Answers one request for `r`; `version` is the next resourceVersion (and the
    /// current one for lists).
    pub fn serve(
        &mut self,
        method: &str,
        r: &ResourcePath,
        query: &str,
        content_type: &str,
        body: &[u8],
        version: u64,
    ) -> Response {
        if r.name.is_none() {
            return self.serve_collection(method, r, query, body, version);
        }
        let key = Self::key(&r.api_version, &r.plural, &r.ns, r.name());
        let Some(current) = self.map.get(&key).cloned() else {
            return status(
                404,
                "NotFound",
                format!("{} \"{}\" not found", r.plural, r.name()),
                r,
            );
        };
        if method == "GET" {
            return respond(200, &current);
        }
        if method == "DELETE" && !r.status {
            self.delete(&r.api_version, &r.plural, &r.ns, r.name());
            return respond(200, &current);
        }
        let Ok(sent) = serde_json::from_slice::<Value>(body) else {
            return status(400, "BadRequest", "the body is not JSON".into(), r);
        };
        let (mut next, operation) = match (method, content_type) {
            ("PATCH", "application/merge-patch+json") => {
                let mut next = current.clone();
                merge(&mut next, &sent);
                (next, "Update")
            }
            // For the kinds sluice patches this way (Leases, Events: no lists), a
            // strategic merge patch is an RFC 7386 merge patch.
            ("PATCH", "application/strategic-merge-patch+json") => {
                let mut next = current.clone();
                merge(&mut next, &sent);
                (next, "Update")
            }
            ("PATCH", "application/apply-patch+yaml") => {
                let Some(manager) = query_param(query, "fieldManager") else {
                    return status(
                        400,
                        "BadRequest",
                        "PATCH, fieldManager: Required value: is required for apply patch".into(),
                        r,
                    );
                };
                let forced = query_param(query, "force").as_deref() == Some("true");
                let conflicts = apply_conflicts(&current, &sent, &manager);
                if !forced && !conflicts.is_empty() {
                    let listed: Vec<String> = conflicts
                        .iter()
                        .map(|(m, p)| format!("conflict with \"{m}\" using {}: {p}", r.api_version))
                        .collect();
                    return status(
                        409,
                        "Conflict",
                        format!(
                            "Apply failed with {} conflict{}: {}",
                            conflicts.len(),
                            if conflicts.len() == 1 { "" } else { "s" },
                            listed.join("; ")
                        ),
                        r,
                    );
                }
                let mut next = current.clone();
                merge(&mut next, &sent);
                (next, "Apply")
            }
            ("PUT", _) => (sent.clone(), "Update"),
            ("PATCH", other) => {
                return status(
                    415,
                    "UnsupportedMediaType",
                    format!("the fake API server does not implement PATCH with {other}"),
                    r,
                );
            }
            _ => {
                return status(
                    405,
                    "MethodNotAllowed",
                    format!("{method} is not supported here"),
                    r,
                );
            }
        };
        let precondition = &sent["metadata"]["resourceVersion"];
        if !precondition.is_null() && *precondition != current["metadata"]["resourceVersion"] {
            return conflict_or_error(409, r);
        }
        // With the status subresource, the object's writes leave `status` alone and
        // `/status` writes change nothing else.
        if self.has_status(r) {
            let status_now = if r.status {
                next["status"].clone()
            } else {
                current["status"].clone()
            };
            if r.status {
                next = current.clone();
            }
            match next.as_object_mut() {
                Some(m) if status_now.is_null() => {
                    m.remove("status");
                }
                Some(m) => {
                    m.insert("status".into(), status_now);
                }
                None => {}
            }
        }
        // Server-owned metadata stays the server's.
        for k in [
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "generation",
            "managedFields",
        ] {
            next["metadata"][k] = current["metadata"][k].clone();
        }
        next["metadata"]["resourceVersion"] = json!(version.to_string());
        if next["spec"] != current["spec"] {
            let g = current["metadata"]["generation"].as_u64().unwrap_or(1);
            next["metadata"]["generation"] = json!(g + 1);
        }
        let manager = query_param(query, "fieldManager").unwrap_or_else(|| "unknown".into());
        // A field set to null is owned by no one; a field changed is the writer's alone.
        let mut others: Vec<Value> = current["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (path, value) in leaves(&sent) {
            let changed = at_path(&current, &path) != Some(&value);
            for m in &mut others {
                let writer = m["manager"] == manager && m["operation"] == operation;
                if value.is_null() || (changed && !writer) {
                    disown(&mut m["fieldsV1"], &path);
                }
            }
        }
        let mut managed: Vec<Value> = others
            .into_iter()
            .filter(|m| !(m["manager"] == manager && m["operation"] == operation))
            .filter(|m| m["fieldsV1"].as_object().is_none_or(|f| !f.is_empty()))
            .collect();
        managed.push(json!({
            "manager": manager, "operation": operation, "apiVersion": r.api_version,
            "time": "2026-11-23T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields_v1(&sent),
        }));
        next["metadata"]["managedFields"] = json!(managed);
        self.map.insert(key, next.clone());
        self.notify(&r.api_version, &r.plural, &r.ns, "MODIFIED", &next);
        respond(200, &next)
    }

    /// POST (create), GET (list, or watch with `?watch=true`) on a collection.
    fn serve_collection(
        &mut self,
        method: &str,
        r: &ResourcePath,
        query: &str,
        body: &[u8],
        version: u64,
    ) -> Response {
        let selector = query_param(query, "labelSelector").unwrap_or_default();
        match method {
            "GET" if is_watch(query) => {
                let (tx, response) = start_watch(query, self.in_collection(r, &selector));
                self.watchers.push(Watcher {
                    api_version: r.api_version.clone(),
                    plural: r.plural.clone(),
                    ns: r.ns.clone(),
                    selector,
                    tx,
                });
                response
            }
            "GET" => {
                let items: Vec<Value> = self.in_collection(r, &selector).cloned().collect();
                let kind = items
                    .first()
                    .and_then(|o| o["kind"].as_str())
                    .map_or_else(|| "List".to_owned(), |k| format!("{k}List"));
                respond(
                    200,
                    &json!({
                        "apiVersion": r.api_version,
                        "kind": kind,
                        "metadata": { "resourceVersion": version.to_string() },
                        "items": items,
                    }),
                )
            }
            "POST" => {
                let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
                    return status(400, "BadRequest", "the body is not JSON".into(), r);
                };
                let Some(name) = obj["metadata"]["name"].as_str().map(str::to_owned) else {
                    return status(
                        422,
                        "Invalid",
                        format!(
                            "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                            r.plural
                        ),
                        r,
                    );
                };
                if self.get(&r.api_version, &r.plural, &r.ns, &name).is_some() {
                    return status(
                        409,
                        "AlreadyExists",
                        format!("{} \"{name}\" already exists", r.plural),
                        r,
                    );
                }
                if self.has_status(r)
                    && let Some(m) = obj.as_object_mut()
                {
                    m.remove("status");
                }
                self.put(&r.api_version, &r.plural, &r.ns, obj, version);
                let created = self
                    .get(&r.api_version, &r.plural, &r.ns, &name)
                    .unwrap_or_default();
                respond(201, &created)
            }
            _ => status(
                405,
                "MethodNotAllowed",
                format!("{method} is not supported on a collection here"),
                r,
            ),
        }
    }
}
