//! The checks a module must pass before it serves a pipeline: parameters against its
//! self-description, its own `validate-params`, and one trial decision.

use std::time::{Duration, SystemTime};

use super::bindings::{WitPoint, params_to_wit};
use super::call;
use super::engine::PolicyEngine;
use super::error::{CallFailure, CheckError};
use super::evaluate::{Binding, decide};
use super::limits::Limits;
use super::module::PolicyModule;
use crate::decision::{DecisionPoint, Param, RawParams, resolve_params};
use crate::metrics::Metrics;

/// How a pipeline uses a policy module: which module, at which point, with which
/// parameters and limits. Comes from the pipeline config.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyUse {
    /// The pipeline.
    pub pipeline: String,
    /// The module's name in the registry (its file name without `.wasm`).
    pub module: String,
    /// The decision point it must serve.
    pub point: DecisionPoint,
    /// Configured parameters, unchecked.
    pub params: RawParams,
    /// Limits per call.
    pub limits: Limits,
    /// The sha256 the pipeline pins the module to (lowercase hex): other bytes may not
    /// serve it, whether loaded at start-up, swapped from the directory or uploaded.
    pub pin: Option<String>,
}

/// Checks that `module` can serve `usage` and returns the resolved parameters.
///
/// # Errors
/// Wrong world, bad parameters (type or the policy's own validation), or a failing
/// trial decision.
pub fn check_use(
    engine: &PolicyEngine,
    module: &PolicyModule,
    usage: &PolicyUse,
) -> Result<Vec<Param>, CheckError> {
    check_use_timed(engine, module, usage).map(|(params, _)| params)
}

/// [`check_use`], also returning how long the trial decision took (instantiation
/// included): the registry uses it to tell whether a baseline build is fast enough to
/// serve.
///
/// # Errors
/// As [`check_use`].
pub fn check_use_timed(
    engine: &PolicyEngine,
    module: &PolicyModule,
    usage: &PolicyUse,
) -> Result<(Vec<Param>, Duration), CheckError> {
    if let Some(pin) = &usage.pin
        && !pin.eq_ignore_ascii_case(&module.sha256)
    {
        return Err(CheckError::Pinned {
            pipeline: usage.pipeline.clone(),
            pinned: pin.clone(),
            found: module.sha256.clone(),
        });
    }
    if module.point != usage.point {
        return Err(CheckError::Load(super::error::LoadError::WrongWorld {
            source_name: module.source.clone(),
            expected: usage.point,
            found: module.point,
        }));
    }
    let params = resolve_params(&module.description, &usage.params).map_err(|source| {
        CheckError::Params {
            pipeline: usage.pipeline.clone(),
            source,
        }
    })?;
    let wit_params = params_to_wit(&params);
    let (problems, _) = call::run(
        engine,
        module.tier,
        &usage.limits,
        SystemTime::now(),
        0,
        |store| module.pre.validate_params(store, &wit_params),
    );
    let problems = problems.map_err(|failure| CheckError::Validate {
        pipeline: usage.pipeline.clone(),
        failure,
    })?;
    if !problems.is_empty() {
        return Err(CheckError::ParamValues {
            pipeline: usage.pipeline.clone(),
            policy: module.description.name.clone(),
            problems: super::error::bounded_problems(problems),
        });
    }
    let trial = crate::for_point!(module.point, P => trial::<P>(engine, module, usage, &params));
    let took = trial.map_err(|failure| CheckError::Trial {
        pipeline: usage.pipeline.clone(),
        failure,
    })?;
    Ok((params, took))
}

fn trial<P: WitPoint>(
    engine: &PolicyEngine,
    module: &PolicyModule,
    usage: &PolicyUse,
    params: &[Param],
) -> Result<Duration, CallFailure> {
    let binding = Binding::<P> {
        params: params.to_vec(),
        limits: usage.limits,
        fail_safe: P::FailSafe::default(),
    };
    let ctx = P::trial_context(&usage.pipeline, params.to_vec());
    // Trial decisions are not real decisions: count them nowhere.
    let eval = decide::<P>(
        engine,
        module,
        &binding,
        ctx,
        SystemTime::now(),
        &Metrics::new(),
    );
    match eval.failure {
        None => Ok(eval.stats.wall),
        Some(f) => Err(f),
    }
}
