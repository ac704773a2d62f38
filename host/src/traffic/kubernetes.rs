//! The fast traffic actuator: the same kind of templated fields as the Git targets,
//! on named objects in the cluster — any kind, custom resources included (kube's
//! dynamic API). A field reached through mapping keys only is set with one JSON merge
//! patch (one API call). A field inside a list (`spec.rules[0].backendRefs[1].weight`)
//! needs the list whole, because a merge patch replaces lists: the object is read, the
//! list changed, and the patch carries the object's `resourceVersion`, so a concurrent
//! change makes the server refuse it (409) and the write is tried again.
//!
//! Writes go to the cluster as field manager `sluice`. Argo CD would undo them until
//! Git catches up: see the README (`ignoreDifferences` on these fields).

use std::path::Path;

use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;

use crate::config::rollout::KubeTrafficTarget;
use crate::gitops::{Selector, Step};

use super::TrafficState;

/// The field manager named in the objects' `managedFields`.
pub const FIELD_MANAGER: &str = "sluice";

/// How often a write refused for a concurrent change is tried again.
const CONFLICT_RETRIES: u32 = 3;

/// Why a cluster write failed. Each names the object and field.
#[derive(Debug, thiserror::Error)]
pub enum KubeTrafficError {
    /// No client could be set up.
    #[error("Kubernetes traffic actuator: {0}")]
    Config(String),
    /// The API server refused or failed the request.
    #[error("{kind} {namespace}/{name}: {message}")]
    Api {
        /// The object's kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// One object field the weight lives in.
#[derive(Debug, Clone)]
struct Target {
    resource: ApiResource,
    namespace: String,
    name: String,
    selector: Selector,
    template: String,
}

/// The cluster objects of one pipeline's traffic.
#[derive(Clone)]
pub struct KubeTraffic {
    client: Client,
    targets: Vec<Target>,
}

impl std::fmt::Debug for KubeTraffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTraffic")
            .field("targets", &self.targets.len())
            .finish_non_exhaustive()
    }
}

/// `text` as the JSON value it reads as: an integer, a float, `true`/`false`, or else
/// the string. (`"25"` → 25, for fields such as `canaryTrafficPercent`.)
pub fn json_value(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(f);
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_owned()),
    }
}

/// Sets the value at `selector` in `obj` to `value`; the path must exist up to its
/// last key (a missing last key is added).
///
/// # Errors
/// What part of the path is missing or not a mapping or list.
pub fn set_at(obj: &mut Value, selector: &Selector, value: Value) -> Result<(), String> {
    let steps = selector.steps();
    let mut at = obj;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let here = selector.prefix(i);
        at = match step {
            Step::Key(k) => {
                let map = at
                    .as_object_mut()
                    .ok_or_else(|| format!("`{here}` is not a mapping"))?;
                if last {
                    map.insert(k.clone(), value);
                    return Ok(());
                }
                map.get_mut(k)
                    .ok_or_else(|| format!("`{}` does not exist", selector.prefix(i + 1)))?
            }
            Step::Index(n) => {
                let list = at
                    .as_array_mut()
                    .ok_or_else(|| format!("`{here}` is not a list"))?;
                let len = list.len();
                let item = list
                    .get_mut(*n)
                    .ok_or_else(|| format!("`{here}` has {len} items; there is no item {n}"))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
            Step::Where { field, value: want } => {
                let list = at
                    .as_array_mut()
                    .ok_or_else(|| format!("`{here}` is not a list"))?;
                let mut found = list.iter_mut().filter(|item| {
                    item.get(field).is_some_and(|v| match v {
                        Value::String(s) => s == want,
                        other => serde_json::from_str::<Value>(want).is_ok_and(|w| &w == other),
                    })
                });
                let (Some(item), None) = (found.next(), found.next()) else {
                    return Err(format!(
                        "`{}` must match exactly one item",
                        selector.prefix(i + 1)
                    ));
                };
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
        };
    }
    Err("the selector is empty".into())
}

/// The merge patch that sets `selector` to `value`: nested mappings down to the field,
/// or — when the path goes through a list — down to the first list, which is sent
/// whole as changed in `current`.
///
/// # Errors
/// As [`set_at`].
pub fn merge_patch(
    current: Option<&Value>,
    selector: &Selector,
    value: Value,
) -> Result<Value, String> {
    let steps = selector.steps();
    let first_list = steps.iter().position(|s| !matches!(s, Step::Key(_)));
    let Some(split) = first_list else {
        let mut patch = Value::Object(serde_json::Map::new());
        let mut at = &mut patch;
        for (i, step) in steps.iter().enumerate() {
            let Step::Key(k) = step else {
                unreachable!("keys only")
            };
            let map = at.as_object_mut().ok_or("not a mapping")?;
            if i + 1 == steps.len() {
                map.insert(k.clone(), value);
                return Ok(patch);
            }
            at = map
                .entry(k.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
        }
        return Err("the selector is empty".into());
    };
    let current = current.ok_or("the object was not read")?;
    let mut changed = current.clone();
    set_at(&mut changed, selector, value)?;
    // The keys down to the list, then the whole changed list.
    let list_path: Vec<&str> = steps[..split]
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let mut list = &changed;
    for k in &list_path {
        list = &list[*k];
    }
    let mut patch = list.clone();
    for k in list_path.iter().rev() {
        let mut m = serde_json::Map::new();
        m.insert((*k).to_owned(), patch);
        patch = Value::Object(m);
    }
    patch["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    Ok(patch)
}

impl KubeTraffic {
    /// Connects (with `kubeconfig`, resolved against `base`, or the inferred config)
    /// and checks the targets' selectors.
    ///
    /// # Errors
    /// No usable Kubernetes configuration.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        base: &Path,
        targets: &[KubeTrafficTarget],
    ) -> Result<Self, KubeTrafficError> {
        let client = crate::kube_client::connect(kubeconfig.map(|k| base.join(k)).as_deref())
            .await
            .map_err(KubeTrafficError::Config)?;
        Ok(Self::with_client(client, targets))
    }

    /// The actuator over `client` (selectors were checked at load).
    pub fn with_client(client: Client, targets: &[KubeTrafficTarget]) -> Self {
        let targets = targets
            .iter()
            .filter_map(|t| {
                let (group, version) = t
                    .api_version
                    .rsplit_once('/')
                    .unwrap_or(("", &t.api_version));
                let gvk = GroupVersionKind::gvk(group, version, &t.kind);
                Some(Target {
                    resource: ApiResource::from_gvk_with_plural(&gvk, &t.plural()),
                    namespace: t.namespace.clone(),
                    name: t.name.clone(),
                    selector: t.field.parse().ok()?,
                    template: t.value.clone(),
                })
            })
            .collect();
        Self { client, targets }
    }

    /// Makes every target hold `state`, one object after the other.
    ///
    /// # Errors
    /// The first object that could not be written; the ones before it were.
    pub async fn set(&self, state: TrafficState<'_>) -> Result<(), KubeTrafficError> {
        for t in &self.targets {
            self.set_one(t, json_value(&state.render(&t.template)))
                .await?;
        }
        Ok(())
    }

    async fn set_one(&self, t: &Target, value: Value) -> Result<(), KubeTrafficError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &t.namespace, &t.resource);
        let fail = |message: String| KubeTrafficError::Api {
            kind: t.resource.kind.clone(),
            namespace: t.namespace.clone(),
            name: t.name.clone(),
            message,
        };
        let through_list = t
            .selector
            .steps()
            .iter()
            .any(|s| !matches!(s, Step::Key(_)));
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let mut attempt = 0;
        loop {
            let current = if through_list {
                let obj = api
                    .get(&t.name)
                    .await
                    .map_err(|e| fail(crate::error_chain(&e)))?;
                Some(serde_json::to_value(&obj).map_err(|e| fail(e.to_string()))?)
            } else {
                None
            };
            let patch = merge_patch(current.as_ref(), &t.selector, value.clone())
                .map_err(|e| fail(format!("field `{}`: {e}", t.selector)))?;
            match api.patch(&t.name, &params, &Patch::Merge(&patch)).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                }
                Err(e) => return Err(fail(crate::error_chain(&e))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rendered_values_become_json_numbers_where_they_read_as_numbers() {
        assert_eq!(json_value("25"), json!(25));
        assert_eq!(json_value("0.5"), json!(0.5));
        assert_eq!(json_value("true"), json!(true));
        assert_eq!(json_value("gs://models/v3"), json!("gs://models/v3"));
    }

    #[test]
    fn a_path_of_keys_is_one_nested_merge_patch() {
        let s: Selector = "spec.predictor.canaryTrafficPercent"
            .parse()
            .expect("selector");
        assert_eq!(
            merge_patch(None, &s, json!(10)).expect("patch"),
            json!({"spec": {"predictor": {"canaryTrafficPercent": 10}}})
        );
    }

    #[test]
    fn a_path_through_a_list_sends_the_list_whole_with_a_precondition() {
        let current = json!({
            "metadata": {"name": "route", "resourceVersion": "41"},
            "spec": {"rules": [{"backendRefs": [
                {"name": "stable", "weight": 100},
                {"name": "canary", "weight": 0}
            ]}]}
        });
        let s: Selector = "spec.rules[0].backendRefs[name=canary].weight"
            .parse()
            .expect("selector");
        assert_eq!(
            merge_patch(Some(&current), &s, json!(25)).expect("patch"),
            json!({
                "metadata": {"resourceVersion": "41"},
                "spec": {"rules": [{"backendRefs": [
                    {"name": "stable", "weight": 100},
                    {"name": "canary", "weight": 25}
                ]}]}
            })
        );
        let missing: Selector = "spec.rules[3].backendRefs[0].weight"
            .parse()
            .expect("selector");
        let e = merge_patch(Some(&current), &missing, json!(1)).expect_err("no rule 3");
        assert!(e.contains("has 1 items; there is no item 3"), "{e}");
    }
}
