//! Loading: bad files get clear errors naming the file; wrong worlds are refused;
//! configured parameters are checked against the self-description.

mod common;

use std::io::Write as _;

use serde_json::json;
use sluice::decision::{DecisionPoint, RawParams};
use sluice::policy::{
    Build, CheckError, EngineSettings, Limits, LoadError, PolicyEngine, PolicyModule, PolicyUse,
    Tier, check_use,
};

fn load_bytes(bytes: &[u8]) -> (String, LoadError) {
    let mut f = tempfile::Builder::new()
        .suffix(".wasm")
        .tempfile()
        .expect("tempfile");
    f.write_all(bytes).expect("write");
    let path = f.path().display().to_string();
    let e = PolicyModule::load_file(&common::engine(), f.path(), None).expect_err("must fail");
    (path, e)
}

#[test]
fn an_empty_file_is_named_and_explained() {
    let (path, e) = load_bytes(b"");
    assert!(matches!(e, LoadError::Empty { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("{path}: the file is empty")),
        "{e}"
    );
}

#[test]
fn garbage_is_not_webassembly() {
    let (path, e) = load_bytes(b"#!/bin/sh\necho hi\n");
    assert!(
        e.to_string()
            .starts_with(&format!("{path}: not a WebAssembly file")),
        "{e}"
    );
}

#[test]
fn a_core_module_is_not_a_component() {
    let (_, e) = load_bytes(b"\0asm\x01\0\0\0");
    assert!(matches!(e, LoadError::CoreModule { .. }), "{e}");
    assert!(e.to_string().contains("wasm32-wasip2"), "{e}");
}

#[test]
fn a_truncated_component_does_not_compile() {
    let bytes = std::fs::read(common::guest("threshold-retrain")).expect("guest");
    let (_, e) = load_bytes(&bytes[..bytes.len() / 2]);
    assert!(matches!(e, LoadError::Compile { .. }), "{e}");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let e = PolicyModule::load_file(
        &common::engine(),
        std::path::Path::new("/nonexistent/p.wasm"),
        None,
    )
    .expect_err("missing");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/p.wasm: cannot read the file"),
        "{e}"
    );
}

#[test]
fn the_wrong_world_is_refused() {
    let e = PolicyModule::load_file(
        &common::engine(),
        &common::guest("metric-gate"),
        Some(DecisionPoint::Retrain),
    )
    .expect_err("wrong world");
    assert!(
        e.to_string()
            .ends_with("this is a promotion policy, but a retrain policy is required here"),
        "{e}"
    );
}

#[test]
fn every_stock_policy_loads_with_its_world_and_description() {
    for stock in sluice::stock::STOCK_POLICIES {
        let m = PolicyModule::load_file(
            &common::engine(),
            &common::guest(stock.name),
            Some(stock.point),
        )
        .expect("loads");
        assert_eq!(m.description.name, stock.name);
        assert!(m.exports.iter().any(|e| e == stock.point.interface()));
        assert!(!m.imports.iter().any(|i| i.starts_with("wasi:http")));
    }
}

fn usage(module: &str, point: DecisionPoint, params: RawParams) -> PolicyUse {
    PolicyUse {
        pipeline: "fraud".into(),
        module: module.into(),
        point,
        params,
        limits: Limits::default(),
        pin: None,
    }
}

#[test]
fn parameters_are_checked_against_the_description() {
    let engine = common::engine();
    let m =
        PolicyModule::load_file(&engine, &common::guest("threshold-retrain"), None).expect("loads");
    let raw: RawParams = [
        ("min_new_sample".to_owned(), json!(5)),
        ("max_age".to_owned(), json!("a week")),
    ]
    .into();
    let e = check_use(
        &engine,
        &m,
        &usage("threshold-retrain", DecisionPoint::Retrain, raw),
    )
    .expect_err("bad params");
    let msg = e.to_string();
    assert!(msg.contains("unknown parameter `min_new_sample`"), "{msg}");
    assert!(
        msg.contains("`max_age`: `a week` is not a duration"),
        "{msg}"
    );
    assert!(
        msg.contains("it accepts: min_new_samples (integer, default 50)"),
        "{msg}"
    );
}

#[test]
fn the_policy_validates_its_own_parameter_values() {
    let engine = common::engine();
    let m = PolicyModule::load_file(&engine, &common::guest("canary-steps"), None).expect("loads");
    let raw: RawParams = [("steps".to_owned(), json!([10, 5, 90]))].into();
    let e = check_use(
        &engine,
        &m,
        &usage("canary-steps", DecisionPoint::Rollout, raw),
    )
    .expect_err("bad steps");
    assert!(matches!(e, CheckError::ParamValues { .. }), "{e}");
    assert!(
        e.to_string().contains("steps must increase strictly"),
        "{e}"
    );
    let ok: RawParams = [("steps".to_owned(), json!([5, 50, 100]))].into();
    let params = check_use(
        &engine,
        &m,
        &usage("canary-steps", DecisionPoint::Rollout, ok),
    )
    .expect("valid");
    assert_eq!(params.len(), 3);
}

#[test]
fn a_module_that_traps_on_its_trial_decision_is_refused() {
    let engine = common::engine();
    let m = PolicyModule::load_file(&engine, &common::guest("hostile-guest"), None).expect("loads");
    let raw: RawParams = [("attack".to_owned(), json!("trap"))].into();
    let e = check_use(
        &engine,
        &m,
        &usage("hostile-guest", DecisionPoint::Retrain, raw),
    )
    .expect_err("trial fails");
    assert!(matches!(e, CheckError::Trial { .. }), "{e}");
    assert!(e.to_string().contains("deliberate trap"), "{e}");
}

/// A component whose one core module makes a tail call — valid WebAssembly that
/// Cranelift compiles and Winch does not support.
fn tail_call_component() -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, Component, Function, FunctionSection, Instruction, Module, ModuleSection,
        TypeSection,
    };
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(0);
    let mut code = CodeSection::new();
    let mut caller = Function::new([]);
    caller.instruction(&Instruction::ReturnCall(1));
    caller.instruction(&Instruction::End);
    code.function(&caller);
    let mut callee = Function::new([]);
    callee.instruction(&Instruction::End);
    code.function(&callee);
    let mut module = Module::new();
    module.section(&types).section(&funcs).section(&code);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

#[test]
fn a_module_the_baseline_compiler_refuses_is_swapped_in_optimized() {
    let engine = common::engine();
    if !engine.has_baseline() {
        eprintln!("no baseline compiler on this architecture; nothing to test");
        return;
    }
    let bytes = tail_call_component();
    // Winch refuses it …
    let strict = PolicyModule::load_build(&engine, "tail.wasm", &bytes, None, Build::Baseline)
        .expect_err("Winch has no tail calls");
    assert!(matches!(strict, LoadError::Compile { .. }), "{strict}");
    // … so a swap compiles it with Cranelift instead of refusing it: loading gets past
    // compilation and stops only because this component exports no decision.
    let quick = PolicyModule::load_build(&engine, "tail.wasm", &bytes, None, Build::Quick)
        .expect_err("not a policy");
    assert!(matches!(quick, LoadError::NotAPolicy { .. }), "{quick}");
}

#[test]
fn a_swap_refuses_an_invalid_body_with_the_reason() {
    let engine = common::engine();
    let bytes = std::fs::read(common::guest("metric-gate")).expect("guest");
    let bad = common::wasm_bytes::with_an_invalid_last_body(&bytes);
    let quick = PolicyModule::load_build(&engine, "bad.wasm", &bad, None, Build::Quick)
        .expect_err("invalid");
    assert!(matches!(quick, LoadError::Compile { .. }), "{quick}");
    let chain = format!("{:#}", anyhow::Error::new(quick));
    assert!(
        chain.starts_with("bad.wasm: the component does not compile"),
        "{chain}"
    );
    assert!(chain.contains("type mismatch"), "{chain}");
}

/// A self-description beyond its bounds — a 30 MiB name, 5,000 parameters named
/// alike, a name that would clear a terminal — is refused at load, and the refusal
/// is one short line however big the description was.
#[test]
fn a_hostile_self_description_is_refused_with_a_short_message() {
    let engine = common::engine();
    let bytes = std::fs::read(common::guest("hostile-guest")).expect("guest");
    let well = common::wasm_bytes::hostile_describing(&bytes, 0, 0);
    PolicyModule::load_bytes(&engine, "ok.wasm", &well, None).expect("the knob at rest loads");
    for (mode, size, says) in [
        (
            1,
            30 << 20,
            "the policy's name is 31457280 bytes; at most 64 are allowed",
        ),
        (
            2,
            5_000,
            "it declares 5000 parameters; at most 64 are allowed",
        ),
        (3, 0, "contains control characters"),
        (
            4,
            1 << 20,
            "the summary is 1048576 bytes; at most 1024 are allowed",
        ),
    ] {
        let bad = common::wasm_bytes::hostile_describing(&bytes, mode, size);
        let e = PolicyModule::load_bytes(&engine, "bad.wasm", &bad, None).expect_err("refused");
        assert!(
            matches!(e, LoadError::BadDescription { .. }),
            "mode {mode}: {e}"
        );
        let text = format!("{:#}", anyhow::Error::new(e));
        assert!(text.contains(says), "mode {mode}: {text}");
        assert!(text.len() < 400, "mode {mode}: {} bytes", text.len());
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    }
}

/// A `validate-params` that loops is reported as what failed (not as the trial
/// decision), and one that reports 2,000 problems yields a bounded message.
#[test]
fn a_hostile_validate_params_is_reported_as_such_and_bounded() {
    let engine = common::engine();
    let bytes = std::fs::read(common::guest("hostile-guest")).expect("guest");
    let looping = common::wasm_bytes::hostile_describing(&bytes, 6, 0);
    let m = PolicyModule::load_bytes(&engine, "v.wasm", &looping, None).expect("loads");
    let u = usage("hostile", DecisionPoint::Retrain, RawParams::new());
    let e = check_use(&engine, &m, &u).expect_err("loops");
    assert!(matches!(e, CheckError::Validate { .. }), "{e}");
    assert!(
        e.to_string().contains("its validate-params call failed"),
        "{e}"
    );
    let chatty = common::wasm_bytes::hostile_describing(&bytes, 7, 2_000);
    let m = PolicyModule::load_bytes(&engine, "v.wasm", &chatty, None).expect("loads");
    let e = check_use(&engine, &m, &u).expect_err("problems");
    let CheckError::ParamValues { problems, .. } = &e else {
        panic!("{e}");
    };
    assert_eq!(problems.len(), 17);
    assert_eq!(problems[16], "… and 1984 more");
    let text = e.to_string();
    assert!(text.len() < 2_000 && !text.contains('\u{1b}'), "{text}");
}

/// A data segment that does not fit its memory fails instantiation, and is reported
/// as that — not as a trap in the policy's code or as fuel running out.
#[test]
fn an_out_of_bounds_data_segment_is_reported_as_an_instantiation_failure() {
    let engine = common::engine();
    let bytes = std::fs::read(common::guest("threshold-retrain")).expect("guest");
    let bad = common::wasm_bytes::with_an_out_of_bounds_data_segment(&bytes);
    let e = PolicyModule::load_bytes(&engine, "oob.wasm", &bad, None).expect_err("oob");
    let LoadError::Describe { failure, .. } = &e else {
        panic!("{e}");
    };
    assert_eq!(failure.label(), "instantiate", "{failure}");
    let text = failure.to_string();
    assert!(
        text.contains("cannot instantiate the policy: its initialisation")
            && text.contains("out of bounds memory access"),
        "{text}"
    );
}

#[test]
fn the_code_shape_is_read_without_compiling() {
    use sluice::policy::CodeShape;
    let shape = CodeShape::of(&common::wasm_bytes::component_with_functions(50_000, 1));
    assert_eq!(shape.functions, 50_000);
    assert_eq!(
        shape.largest_function_bytes, 11,
        "locals 3, one addition 7, end 1"
    );
    assert_eq!(shape.code_bytes, 50_000 * 11);
    let big = CodeShape::of(&common::wasm_bytes::component_with_functions(1, 100_000));
    assert_eq!(big.largest_function_bytes, 700_004);
    let settings = EngineSettings::default();
    assert!(
        shape
            .too_large_to_optimize(&settings)
            .is_some_and(|w| w.contains("50000 functions"))
    );
    assert!(
        big.too_large_to_optimize(&settings)
            .is_some_and(|w| w.contains("a function of 700004 bytes"))
    );
    assert_eq!(
        CodeShape::of(&tail_call_component()).too_large_to_optimize(&settings),
        None
    );
}

/// Size limits, each with its own error: a file over `max_module_bytes` is refused
/// before it is read or compiled; a module too large for the optimizing compiler runs
/// baseline code only, and is refused where there is no baseline compiler.
#[test]
fn modules_over_the_size_limits_are_refused_or_kept_off_the_optimizing_compiler() {
    let stock = std::fs::read(common::guest("threshold-retrain")).expect("guest");
    let small = PolicyEngine::new(EngineSettings {
        max_module_bytes: 1024,
        ..EngineSettings::default()
    })
    .expect("engine");
    let e = PolicyModule::load_file(&small, &common::guest("threshold-retrain"), None)
        .expect_err("too large");
    assert!(matches!(e, LoadError::TooLarge { limit: 1024, .. }), "{e}");
    assert!(
        e.to_string().contains("host.engine.max_module_bytes"),
        "{e}"
    );
    let few = EngineSettings {
        max_optimized_functions: 10,
        ..EngineSettings::default()
    };
    let engine = PolicyEngine::new(few.clone()).expect("engine");
    let m = PolicyModule::load_bytes(&engine, "t.wasm", &stock, None).expect("loads");
    assert_eq!((m.tier, m.optimizable), (Tier::Baseline, false));
    let single = PolicyEngine::new(EngineSettings {
        single_tier: true,
        ..few
    })
    .expect("engine");
    let e = PolicyModule::load_bytes(&single, "t.wasm", &stock, None).expect_err("refused");
    assert!(matches!(e, LoadError::TooLargeToOptimize { .. }), "{e}");
    assert!(e.to_string().contains("functions, more than 10"), "{e}");
}
