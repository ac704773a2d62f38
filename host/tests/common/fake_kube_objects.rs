//! Objects of any kind in the fake API server (custom resources included): GET, PUT
//! and PATCH as the real server answers them — a JSON merge patch (RFC 7386) or a
//! server-side apply; `metadata.resourceVersion` in a patch or PUT is a precondition
//! (409 Conflict when stale); every change bumps `resourceVersion`, a change under
//! `spec` bumps `generation`, and `managedFields` records each field manager's fields
//! (`FieldsV1`) with its operation (`Update` for patches and PUTs, `Apply` for apply).
//! JSON patches are answered 415, which the real server would accept: sluice never
//! sends them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::fake_kube::{Body, respond};

/// `/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}` (or `/api/v1/…`) of any
/// plural but jobs and pods.
#[derive(Debug, Clone)]
pub struct ResourcePath {
    pub api_version: String,
    pub plural: String,
    pub ns: String,
    pub name: String,
}

impl ResourcePath {
    /// The object path in `parts`, if it names one of the generic objects.
    pub fn parse(parts: &[&str]) -> Option<Self> {
        let (api_version, rest) = match parts {
            ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
            ["api", version, rest @ ..] => ((*version).to_owned(), rest),
            _ => return None,
        };
        match rest {
            ["namespaces", ns, plural, name] if !matches!(*plural, "jobs" | "pods") => Some(Self {
                api_version,
                plural: (*plural).to_owned(),
                ns: (*ns).to_owned(),
                name: (*name).to_owned(),
            }),
            _ => None,
        }
    }
}

fn status(code: u16, reason: &str, message: String, r: &ResourcePath) -> Response {
    respond(
        code,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason,
            "details": { "name": r.name, "group": r.api_version.rsplit_once('/').map_or("", |(g, _)| g), "kind": r.plural },
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
                r.plural, r.name
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
                .filter(|(k, _)| {
                    k.as_str() != "metadata" && k.as_str() != "apiVersion" && k.as_str() != "kind"
                })
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        _ => json!({}),
    }
}

fn query_param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
    })
}

/// The generic objects.
#[derive(Default)]
pub struct Objects {
    map: BTreeMap<(String, String, String, String), Value>,
}

impl Objects {
    fn key(
        api_version: &str,
        plural: &str,
        ns: &str,
        name: &str,
    ) -> (String, String, String, String) {
        (api_version.into(), plural.into(), ns.into(), name.into())
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
        self.map
            .insert(Self::key(api_version, plural, ns, &name), obj);
    }

    /// The stored object.
    pub fn get(&self, api_version: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.map
            .get(&Self::key(api_version, plural, ns, name))
            .cloned()
    }

    /// Answers one request for `r`; `version` is the next resourceVersion.
    pub fn serve(
        &mut self,
        method: &str,
        r: &ResourcePath,
        query: &str,
        content_type: &str,
        body: &[u8],
        version: u64,
    ) -> Response {
        let key = Self::key(&r.api_version, &r.plural, &r.ns, &r.name);
        let Some(current) = self.map.get(&key).cloned() else {
            return status(
                404,
                "NotFound",
                format!("{} \"{}\" not found", r.plural, r.name),
                r,
            );
        };
        if method == "GET" {
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
            ("PATCH", "application/apply-patch+yaml") => {
                if query_param(query, "fieldManager").is_none() {
                    return status(
                        400,
                        "BadRequest",
                        "PATCH, fieldManager: Required value: is required for apply patch".into(),
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
        let manager = query_param(query, "fieldManager").unwrap_or("unknown");
        let mut managed: Vec<Value> = current["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| !(m["manager"] == manager && m["operation"] == operation))
            .collect();
        managed.push(json!({
            "manager": manager, "operation": operation, "apiVersion": r.api_version,
            "time": "2026-11-23T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields_v1(&sent),
        }));
        next["metadata"]["managedFields"] = json!(managed);
        self.map.insert(key, next.clone());
        respond(200, &next)
    }
}
