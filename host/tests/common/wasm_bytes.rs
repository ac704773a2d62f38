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
