//! A hostile retrain policy. Its `attack` parameter picks what it does; `none` makes it
//! a well-behaved policy so it passes the load checks. Every attack that the sandbox
//! should stop either traps or, if the sandbox let it through, answers `train` with
//! what it got — so a test sees a sandbox escape as a real decision, not a fail-safe.

use std::hint::black_box;

use sluice_policy_sdk::{Description, ParamSpec, ParamValue, RetrainContext, RetrainDecision};

/// A knob tests patch in the module's bytes to make the self-description hostile:
/// the marker, then a mode byte and a little-endian u32 size. All zero: well-behaved.
/// Modes: 1 a name of `size` bytes, 2 `size` parameters all named `p`, 3 a name with
/// terminal escape sequences and line breaks, 4 a summary of `size` bytes, 5 a
/// well-behaved description but a `decide` that loops forever whatever it is asked,
/// 6 a `validate-params` that loops forever, 7 one that reports `size` problems.
#[used]
static DESCRIBE_KNOB: [u8; 17] = *b"SLUICE-KNOB:\0\0\0\0\0";

fn knob() -> (u8, usize) {
    // Through black_box: the compiler must not fold the zeros the build wrote.
    let knob: [u8; 17] = *black_box(&DESCRIBE_KNOB);
    let size = u32::from_le_bytes([knob[13], knob[14], knob[15], knob[16]]);
    (knob[12], size as usize)
}

/// Self-description.
pub fn describe() -> Description {
    let (mode, size) = knob();
    let mut d = well_behaved();
    match mode {
        1 => d.name = "n".repeat(size),
        2 => d.params = vec![ParamSpec::optional("p", ParamValue::Integer(1), "dup"); size],
        3 => d.name = "evil\u{1b}[2J\r\nINFO forged line".into(),
        4 => d.summary = "s".repeat(size),
        _ => {}
    }
    d
}

fn well_behaved() -> Description {
    Description {
        name: "hostile".into(),
        version: "0.1.0".into(),
        summary: "Attacks its sandbox on request.".into(),
        params: vec![ParamSpec::optional(
            "attack",
            ParamValue::Text("none".into()),
            "none | loop | memory | recurse | huge-string | open-file | read-env | socket | trap | clock | invalid | stats-huge | stats-loop | escape",
        )],
    }
}

fn escaped(what: String) -> RetrainDecision {
    RetrainDecision::Train {
        reason: format!("sandbox escape: {what}"),
        args: vec![],
    }
}

#[expect(
    unconditional_recursion,
    reason = "the attack: recurse until the stack overflows"
)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    recurse(black_box(depth + 1)) + frame[3]
}

/// The decision: the attack.
pub fn decide(ctx: &RetrainContext) -> RetrainDecision {
    let attack: String = if knob().0 == 5 {
        "loop".into()
    } else {
        ctx.param_or("attack", "none".into())
    };
    match attack.as_str() {
        "loop" => {
            let mut i: u64 = 0;
            loop {
                i = black_box(i.wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(black_box(vec![1u8; 1 << 20]));
            }
        }
        "recurse" => escaped(format!("recursion returned {}", recurse(0))),
        "huge-string" => RetrainDecision::Wait("x".repeat(8 << 20)),
        "open-file" => match std::fs::read("/etc/passwd") {
            Ok(bytes) => escaped(format!("read {} bytes of /etc/passwd", bytes.len())),
            Err(e) => panic!("open-file attack stopped: {e}"),
        },
        "read-env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            if vars.is_empty() {
                panic!("read-env attack stopped: the environment is empty");
            }
            escaped(format!("environment variables {vars:?}"))
        }
        "socket" => match std::net::TcpStream::connect("127.0.0.1:22") {
            Ok(_) => escaped("connected to 127.0.0.1:22".into()),
            Err(e) => panic!("socket attack stopped: {e}"),
        },
        "trap" => panic!("deliberate trap"),
        "clock" => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            RetrainDecision::Wait(format!("clock reads {now}"))
        }
        // One statistics call on more samples than the host takes in one call.
        "stats-huge" => {
            let samples = vec![1.5; 2 << 20];
            let s = sluice_policy_sdk::stats::summarize(&samples);
            escaped(format!("the host summarized {} samples", s.n))
        }
        // Statistics calls on 400,000 samples each, without end: the host's work must
        // be charged to the decision's fuel and held to its deadline.
        "stats-loop" => {
            let a: Vec<f64> = (0..200_000).map(|i| f64::from(i % 997)).collect();
            let mut calls = 0u64;
            loop {
                let c = sluice_policy_sdk::stats::compare(
                    &a,
                    &a,
                    sluice_policy_sdk::stats::OutlierFilter::Iqr(1.5),
                    sluice_policy_sdk::stats::TestKind::MannWhitney,
                    sluice_policy_sdk::stats::Alternative::TwoSided,
                );
                calls = black_box(calls + u64::from(c.a.n > 0));
            }
        }
        // A reason that would clear a terminal and forge a log line.
        "escape" => RetrainDecision::Wait("ok\u{1b}[2J\u{1b}[H\r\nERROR forged line".into()),
        "invalid" => RetrainDecision::Train {
            reason: "too many args".into(),
            args: vec!["a".into(); 1000],
        },
        _ => RetrainDecision::Wait("behaving".into()),
    }
}

/// Parameter validation: none, unless the knob makes it hostile.
pub fn validate(_params: &sluice_policy_sdk::Params) -> Vec<String> {
    match knob() {
        (6, _) => {
            let mut i: u64 = 0;
            loop {
                i = black_box(i.wrapping_add(1));
            }
        }
        (7, size) => (0..size)
            .map(|i| format!("problem {i} \u{1b}[2J"))
            .collect(),
        _ => Vec::new(),
    }
}

sluice_policy_sdk::export_retrain!(describe: describe, decide: decide, validate: validate);
