//! Pipelines that come and go while the host runs (`ModelPipeline` resources): adding
//! a pipeline checks each module it names against its parameters and pins, then gives
//! the live modules its resolved parameters — all of its uses or none. Later swaps
//! check the new bytes against it like against any other pipeline.

use std::collections::HashMap;
use std::sync::Arc;

use super::{ActivePolicy, Origin, PolicyRegistry};
use crate::policy::check::{PolicyUse, check_use};
use crate::policy::engine::Build;
use crate::policy::error::CheckError;
use crate::policy::module::{PolicyModule, sha256_hex};

/// How many times [`PolicyRegistry::set_uses`] re-checks when a swap replaced a module
/// between its check and its commit.
const COMMIT_ATTEMPTS: usize = 3;

impl PolicyRegistry {
    /// Makes `uses` (each with the field it is configured at) the uses of `pipeline`,
    /// replacing any it had. A stock module not loaded yet is loaded; any other must be
    /// live (from the directory or an upload). Blocks while a module compiles.
    ///
    /// # Errors
    /// Every problem as (field, message) — `<field>.module`, `.params` or `.sha256` —
    /// and then nothing changed.
    pub fn set_uses(
        self: &Arc<Self>,
        pipeline: &str,
        uses: &[(String, PolicyUse)],
    ) -> Result<(), Vec<(String, String)>> {
        for _ in 0..COMMIT_ATTEMPTS {
            let mut problems = Vec::new();
            let mut checked = Vec::new();
            for (field, u) in uses {
                let live = match self.live_or_stock(&u.module, u) {
                    Ok(l) => l,
                    Err(message) => {
                        problems.push((format!("{field}.module"), message));
                        continue;
                    }
                };
                match check_use(&self.engine, &live.module, u) {
                    Ok(params) => checked.push((u.clone(), live, params)),
                    Err(e) => {
                        let at = match e {
                            CheckError::Pinned { .. } => "sha256",
                            CheckError::Load(_) => "module",
                            _ => "params",
                        };
                        problems.push((format!("{field}.{at}"), crate::error_chain(&e)));
                    }
                }
            }
            if !problems.is_empty() {
                return Err(problems);
            }
            let mut active = self.write();
            // A swap between the check and now was checked without this pipeline:
            // check again against what is live now.
            if checked.iter().any(|(u, live, _)| {
                active
                    .get(&u.module)
                    .is_some_and(|now| !Arc::ptr_eq(&now.module, &live.module))
            }) {
                continue;
            }
            drop_pipeline(&mut active, pipeline);
            for (u, live, params) in &checked {
                let current = active.get(&u.module).unwrap_or(live);
                let mut all = current.params.clone();
                all.insert(pipeline.to_owned(), params.clone());
                let next = Arc::new(current.with_params(all));
                active.insert(u.module.clone(), next);
            }
            drop(active);
            let mut all_uses = self.uses.write().unwrap_or_else(|p| p.into_inner());
            all_uses.retain(|u| u.pipeline != pipeline);
            all_uses.extend(checked.into_iter().map(|(u, ..)| u));
            return Ok(());
        }
        Err(vec![(
            "spec.policies".into(),
            "the policy modules kept changing while this pipeline was checked; it is checked again at its next change".into(),
        )])
    }

    /// Forgets every use of `pipeline` (its parameters leave the live modules).
    pub fn remove_uses(&self, pipeline: &str) {
        drop_pipeline(&mut self.write(), pipeline);
        self.uses
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|u| u.pipeline != pipeline);
    }

    /// The live module `name`, or — for a stock module nobody loaded yet — the stock
    /// module, loaded now (and live from then on).
    fn live_or_stock(&self, name: &str, u: &PolicyUse) -> Result<Arc<ActivePolicy>, String> {
        if let Some(live) = self.get(name) {
            return Ok(live);
        }
        let Some(found) = crate::stock::resolve(name) else {
            return Err(format!(
                "no module `{name}`: {} has no `{name}.wasm` and none was uploaded (or use `stock:<name>`)",
                self.dir.display()
            ));
        };
        let stock = found.map_err(|e| e.to_string())?;
        let module = PolicyModule::load_hashed(
            &self.engine,
            name,
            stock.wasm,
            sha256_hex(stock.wasm),
            Some(u.point),
            Build::Optimized,
        )
        .map_err(|e| crate::error_chain(&e))?;
        let loaded = Arc::new(ActivePolicy {
            module,
            params: HashMap::new(),
            origin: Origin::Stock,
            loaded_ms: crate::clock::now_ms(),
            swaps: 0,
        });
        Ok(Arc::clone(
            self.write()
                .entry(name.to_owned())
                .or_insert_with(|| Arc::clone(&loaded)),
        ))
    }
}

/// `active` without `pipeline`'s parameters.
fn drop_pipeline(active: &mut HashMap<String, Arc<ActivePolicy>>, pipeline: &str) {
    let holding: Vec<String> = active
        .iter()
        .filter(|(_, a)| a.params.contains_key(pipeline))
        .map(|(k, _)| k.clone())
        .collect();
    for name in holding {
        if let Some(current) = active.get(&name) {
            let mut params = current.params.clone();
            params.remove(pipeline);
            let next = Arc::new(current.with_params(params));
            active.insert(name, next);
        }
    }
}
