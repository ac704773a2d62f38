//! Byte-level edits of compiled policies, shared by the tests and the policy bench.

use wasmtime::wasmparser::{Parser, Payload};

/// `bytes` with the first instruction of its last function body replaced by an
/// `i32.add` on an empty stack: every section still parses, one body does not
/// validate — what a compiler only finds when it reaches that function.
pub fn with_an_invalid_last_body(bytes: &[u8]) -> Vec<u8> {
    let mut last = None;
    for payload in Parser::new(0).parse_all(bytes) {
        if let Ok(Payload::CodeSectionEntry(body)) = payload {
            let ops = body.get_operators_reader().expect("a body");
            last = Some(ops.original_position());
        }
    }
    let mut out = bytes.to_vec();
    out[last.expect("the component has code")] = 0x6a;
    out
}

/// The hostile guest with its self-description knob set (see `tests/guests/hostile`):
/// `mode` 1 a name of `size` bytes, 2 `size` parameters named alike, 3 a name with
/// escape sequences, 4 a summary of `size` bytes, 5 a `decide` that loops forever,
/// 6 a `validate-params` that loops forever, 7 one that reports `size` problems.
/// Another `size` with mode 0 gives the well-behaved module other bytes.
pub fn hostile_describing(bytes: &[u8], mode: u8, size: u32) -> Vec<u8> {
    const MARKER: &[u8] = b"SLUICE-KNOB:";
    let at = bytes
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .expect("the hostile guest carries its knob")
        + MARKER.len();
    let mut out = bytes.to_vec();
    out[at] = mode;
    out[at + 1..at + 5].copy_from_slice(&size.to_le_bytes());
    out
}

/// `bytes` with the offset of its first active data segment moved far past the end of
/// any memory: instantiation must fail with an out-of-bounds trap.
pub fn with_an_out_of_bounds_data_segment(bytes: &[u8]) -> Vec<u8> {
    use wasmtime::wasmparser::{DataKind, Operator};
    for payload in Parser::new(0).parse_all(bytes) {
        if let Ok(Payload::DataSection(reader)) = payload {
            for data in reader {
                let data = data.expect("a data segment");
                if let DataKind::Active { offset_expr, .. } = data.kind {
                    let mut ops = offset_expr.get_operators_reader();
                    let at = ops.original_position();
                    if let Ok(Operator::I32Const { .. }) = ops.read() {
                        let len = ops.original_position() - at - 1;
                        let mut out = bytes.to_vec();
                        // The same LEB128 length, all continuation bits set but the
                        // last: the largest positive value that length holds.
                        for i in 0..len {
                            out[at + 1 + i] = if i + 1 == len { 0x3f } else { 0xff };
                        }
                        return out;
                    }
                }
            }
        }
    }
    panic!("no active data segment with an i32.const offset")
}

/// A component holding one core module with `functions` functions, each adding to a
/// local `ops` times (7 bytes of code per addition): code for the compilers to chew
/// on, sized to order. Not a policy.
pub fn component_with_functions(functions: u32, ops: usize) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, Component, Function, FunctionSection, Instruction, Module, ModuleSection,
        TypeSection, ValType,
    };
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    for _ in 0..functions {
        funcs.function(0);
        let mut f = Function::new([(1, ValType::I32)]);
        for _ in 0..ops {
            f.instruction(&Instruction::LocalGet(0));
            f.instruction(&Instruction::I32Const(7));
            f.instruction(&Instruction::I32Add);
            f.instruction(&Instruction::LocalSet(0));
        }
        f.instruction(&Instruction::End);
        code.function(&f);
    }
    let mut module = Module::new();
    module.section(&types).section(&funcs).section(&code);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

/// A new build of the same module: `bytes` with a custom section named after `n`
/// appended (valid anywhere in a component), so its sha256 — and so its cache key — is
/// new while its code is the same.
pub fn rebuilt(bytes: &[u8], n: usize) -> Vec<u8> {
    let name = format!("sluice-bench-build-{n}");
    let payload_len = 1 + name.len();
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(u8::try_from(payload_len).expect("short section")); // LEB128, < 128
    out.push(u8::try_from(name.len()).expect("short name"));
    out.extend_from_slice(name.as_bytes());
    out
}
