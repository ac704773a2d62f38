//! `sluice config check --remote`: each pipeline's promotion — with a rollout, its
//! traffic targets too — made in memory against its deploy repository, so a missing
//! file or a selector that matches nothing is found before a model is trained for
//! nothing.

use std::fmt::Write as _;

use crate::config::LoadedConfig;
use crate::gitops::GitError;

/// The version the check writes into every target (in memory only). Versions sluice
/// assigns have this form, so a value tagged or typed so that it cannot hold one is
/// found too.
pub const CHECK_VERSION: &str = "v0";

/// Checks every pipeline's deploy repo; returns the report and whether all passed.
/// Each check clones into a temporary directory, never into a running host's state.
pub fn remote(loaded: &LoadedConfig) -> (String, bool) {
    let mut out = String::from("deploy repositories:\n");
    let mut all_ok = true;
    for (i, pc) in loaded.config.pipelines.iter().enumerate() {
        let result = tempfile::tempdir()
            .map_err(|e| format!("cannot make a temporary clone directory: {e}"))
            .and_then(|dir| {
                let repo = crate::daemon::deploy_repo(
                    pc,
                    &format!("pipelines[{i}]"),
                    &loaded.base,
                    dir.path().join("clone"),
                )
                .map_err(|e| crate::error_chain(&e))?;
                // With a rollout, the promotion also writes every traffic target.
                let change = match &pc.rollout {
                    Some(r) => crate::traffic::Traffic::new(r).promote(
                        &repo,
                        &pc.name,
                        Some("v1"),
                        CHECK_VERSION,
                    ),
                    None => repo.promotion(&pc.name, CHECK_VERSION),
                };
                repo.check_change(&change).map_err(|e| describe(&e))
            });
        match result {
            Ok(checked) => {
                let _ = writeln!(
                    out,
                    "  {}: ok — {} {} at {}",
                    pc.name,
                    pc.gitops.repo,
                    pc.gitops.branch,
                    &checked.head[..12.min(checked.head.len())]
                );
                for v in &checked.values {
                    let _ = writeln!(
                        out,
                        "    {}:{}  {} = {}",
                        v.file,
                        v.line,
                        v.selector,
                        crate::cli::printable(&v.value)
                    );
                }
            }
            Err(why) => {
                all_ok = false;
                let _ = writeln!(out, "  {}: FAILED — {why}", pc.name);
            }
        }
    }
    (out, all_ok)
}

fn describe(e: &GitError) -> String {
    let chain = crate::error_chain(e);
    if e.is_transient() {
        format!("cannot check now (retrying may help): {chain}")
    } else {
        format!("the deploy repo cannot take a promotion: {chain}")
    }
}
