//! Loading a module: byte checks, compilation (cached), world detection, import
//! checks, pre-instantiation and the self-description.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::bindings::{WorldPre, description_from_wit};
use super::call;
use super::engine::{Build, CodeShape, CompileSource, PolicyEngine, Tier};
use super::error::LoadError;
use super::limits::Limits;
use crate::decision::{DecisionPoint, Description};

/// Interfaces of the host a policy may import, besides sandboxed WASI.
const HOST_INTERFACES: [&str; 3] = [
    "sluice:policy/types@0.1.0",
    "sluice:policy/stats@0.1.0",
    "sluice:policy/log@0.1.0",
];

/// WASI packages the sandbox provides (with nothing granted).
const WASI_PACKAGES: [&str; 6] = [
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

/// A compiled, checked, pre-instantiated policy module.
pub struct PolicyModule {
    /// Where it came from (a path, or `embedded:<name>`).
    pub source: String,
    /// sha256 of the module's bytes, hex.
    pub sha256: String,
    /// The decision point (world) it serves.
    pub point: DecisionPoint,
    /// Its self-description.
    pub description: Description,
    /// Names of its imports.
    pub imports: Vec<String>,
    /// Names of its exports.
    pub exports: Vec<String>,
    /// Whether compilation was skipped thanks to a cache.
    pub compile_source: CompileSource,
    /// Which compiler made its code.
    pub tier: Tier,
    /// Whether its code is small enough for the optimizing compiler (a module that is
    /// not runs baseline code only).
    pub optimizable: bool,
    /// Time to compile (or fetch) and check it.
    pub load_time: Duration,
    pub(crate) pre: WorldPre,
}

impl std::fmt::Debug for PolicyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyModule")
            .field("source", &self.source)
            .field("sha256", &self.sha256)
            .field("point", &self.point)
            .field("name", &self.description.name)
            .finish_non_exhaustive()
    }
}

/// The sha256 of a module's bytes, lower-case hex: the identity every decision
/// record names its module by.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is written as a sha256 digest: 64 hex digits, as `sha256sum` prints
/// (in either case).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

impl PolicyModule {
    /// Loads the module at `path`; `expected` requires a particular world.
    ///
    /// # Errors
    /// See [`LoadError`]; every error names the file.
    pub fn load_file(
        engine: &PolicyEngine,
        path: &Path,
        expected: Option<DecisionPoint>,
    ) -> Result<Arc<Self>, LoadError> {
        Self::load_file_build(engine, path, expected, Build::Optimized)
    }

    /// [`Self::load_file`] with the code `build` asks for.
    ///
    /// # Errors
    /// See [`LoadError`].
    pub fn load_file_build(
        engine: &PolicyEngine,
        path: &Path,
        expected: Option<DecisionPoint>,
        build: Build,
    ) -> Result<Arc<Self>, LoadError> {
        let source_name = path.display().to_string();
        if let Ok(meta) = std::fs::metadata(path) {
            check_size(engine, &source_name, meta.len())?;
        }
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            source_name: source_name.clone(),
            source,
        })?;
        Self::load_build(engine, &source_name, &bytes, expected, build)
    }

    /// Loads the optimized build of a module from memory; `source_name` names it in
    /// errors.
    ///
    /// # Errors
    /// See [`LoadError`].
    pub fn load_bytes(
        engine: &PolicyEngine,
        source_name: &str,
        bytes: &[u8],
        expected: Option<DecisionPoint>,
    ) -> Result<Arc<Self>, LoadError> {
        Self::load_build(engine, source_name, bytes, expected, Build::Optimized)
    }

    /// Loads a module from memory with the code `build` asks for.
    ///
    /// # Errors
    /// See [`LoadError`].
    pub fn load_build(
        engine: &PolicyEngine,
        source_name: &str,
        bytes: &[u8],
        expected: Option<DecisionPoint>,
        build: Build,
    ) -> Result<Arc<Self>, LoadError> {
        Self::load_hashed(
            engine,
            source_name,
            bytes,
            sha256_hex(bytes),
            expected,
            build,
        )
    }

    /// [`Self::load_build`] for bytes whose digest the caller already computed with
    /// [`sha256_hex`] (the registry hashes a file to see whether it changed, and a swap
    /// should not hash it twice).
    pub(crate) fn load_hashed(
        engine: &PolicyEngine,
        source_name: &str,
        bytes: &[u8],
        sha256: String,
        expected: Option<DecisionPoint>,
        build: Build,
    ) -> Result<Arc<Self>, LoadError> {
        let started = Instant::now();
        let name = || source_name.to_owned();
        check_header(source_name, bytes)?;
        check_size(engine, source_name, bytes.len() as u64)?;
        // An import sluice does not grant is refused before any compile: a
        // componentize-js build importing wasi:http used to compile for 14–29 s first.
        if let Some(import) = declared_imports(bytes)
            .into_iter()
            .find(|i| !is_provided(i))
        {
            return Err(LoadError::UnsupportedImport {
                source_name: name(),
                import,
            });
        }
        let too_large = CodeShape::of(bytes).too_large_to_optimize(engine.settings());
        let build = match &too_large {
            None => build,
            Some(_) if engine.has_baseline() => Build::Baseline,
            Some(shape) => {
                return Err(LoadError::TooLargeToOptimize {
                    source_name: name(),
                    shape: shape.clone(),
                });
            }
        };
        let compiled =
            engine
                .build(bytes, &sha256, build)
                .map_err(|source| LoadError::Compile {
                    source_name: name(),
                    source,
                })?;
        let tier = compiled.tier;
        let ty = compiled.component.component_type();
        let wasm = engine.engine(tier);
        let imports: Vec<String> = ty.imports(wasm).map(|(n, _)| n.to_owned()).collect();
        let exports: Vec<String> = ty.exports(wasm).map(|(n, _)| n.to_owned()).collect();
        let point = detect_point(source_name, &exports)?;
        if let Some(expected) = expected
            && expected != point
        {
            return Err(LoadError::WrongWorld {
                source_name: name(),
                expected,
                found: point,
            });
        }
        // The same rule on the compiled type's names: the early scan above reads the
        // binary's import section, and this is the word of the component's type.
        if let Some(import) = imports.iter().find(|i| !is_provided(i)) {
            return Err(LoadError::UnsupportedImport {
                source_name: name(),
                import: import.clone(),
            });
        }
        let link = |e: wasmtime::Error| LoadError::Link {
            source_name: name(),
            point,
            source: e.into_boxed_dyn_error(),
        };
        let pre = engine
            .linker(tier)
            .instantiate_pre(&compiled.component)
            .map_err(link)?;
        let pre = WorldPre::new(point, pre).map_err(link)?;
        let (described, _) = call::run(
            engine,
            tier,
            &Limits::default(),
            SystemTime::now(),
            0,
            |store| pre.describe(store),
        );
        let description =
            description_from_wit(described.map_err(|failure| LoadError::Describe {
                source_name: name(),
                failure,
            })?);
        description
            .check()
            .map_err(|problems| LoadError::BadDescription {
                source_name: name(),
                problems,
            })?;
        Ok(Arc::new(Self {
            source: name(),
            sha256,
            point,
            description,
            imports,
            exports,
            compile_source: compiled.source,
            tier,
            optimizable: too_large.is_none(),
            load_time: started.elapsed(),
            pre,
        }))
    }
}

/// Refuses a module of `bytes` bytes over `host.engine.max_module_bytes` — before it is
/// read, where the caller knows the size from the file system.
pub(crate) fn check_size(
    engine: &PolicyEngine,
    source_name: &str,
    bytes: u64,
) -> Result<(), LoadError> {
    let limit = engine.settings().max_module_bytes;
    if bytes > limit {
        return Err(LoadError::TooLarge {
            source_name: source_name.to_owned(),
            bytes,
            limit,
        });
    }
    Ok(())
}

fn check_header(source_name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Empty {
            source_name: source_name.to_owned(),
        });
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm {
            source_name: source_name.to_owned(),
            first_bytes: hex::encode(&bytes[..bytes.len().min(8)]),
        });
    }
    // Bytes 4..8: version 1 with layer 0 is a core module; components use layer 1.
    if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        return Err(LoadError::CoreModule {
            source_name: source_name.to_owned(),
        });
    }
    Ok(())
}

fn detect_point(source_name: &str, exports: &[String]) -> Result<DecisionPoint, LoadError> {
    let found: Vec<DecisionPoint> = DecisionPoint::ALL
        .into_iter()
        .filter(|p| exports.iter().any(|e| e == p.interface()))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(LoadError::NotAPolicy {
            source_name: source_name.to_owned(),
            exports: exports.to_vec(),
        }),
        _ => Err(LoadError::SeveralWorlds {
            source_name: source_name.to_owned(),
            found,
        }),
    }
}

/// The names a component imports at its top level, read without compiling it (nested
/// components' and core modules' own imports are satisfied inside it). Bytes it cannot
/// parse give what was read so far; the compiler refuses them after.
fn declared_imports(bytes: &[u8]) -> Vec<String> {
    use wasmtime::wasmparser::{Parser, Payload};
    let mut imports = Vec::new();
    // Every module and component, nested or not, starts with a version and ends with
    // an end: the top level is depth 1.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::Version { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentImportSection(reader)) if depth == 1 => {
                imports.extend(reader.into_iter().flatten().map(|i| i.name.name.to_owned()));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    imports
}

fn is_provided(import: &str) -> bool {
    HOST_INTERFACES.contains(&import) || WASI_PACKAGES.iter().any(|p| import.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component importing `import` (an empty instance type), followed by a core
    /// module section the compiler cannot take.
    fn component_importing(import: &str) -> Vec<u8> {
        let mut c = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        c.extend([0x07, 0x03, 0x01, 0x42, 0x00]); // type 0: instance {}
        let mut body = vec![0x01, 0x00, import.len() as u8];
        body.extend(import.as_bytes());
        body.extend([0x05, 0x00]); // an instance of type 0
        c.push(0x0a);
        c.push(body.len() as u8);
        c.extend(body);
        c.extend([0x01, 0x04, 0x00, 0x61, 0x73, 0x6d]); // a truncated core module
        c
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The early scan reads untrusted bytes: any cut of a real policy reads a
        /// prefix of its imports, and any corruption reads something, never panics.
        #[test]
        fn the_import_scan_takes_any_bytes(
            cut in 0usize..1_000_000,
            flips in proptest::collection::vec((0usize..1_000_000, proptest::prelude::any::<u8>()), 0..8),
        ) {
            let stock = crate::stock::find("canary-steps").expect("stock").wasm;
            let all = declared_imports(stock);
            proptest::prop_assert!(!all.is_empty());
            let prefix = declared_imports(&stock[..cut % (stock.len() + 1)]);
            proptest::prop_assert_eq!(&all[..prefix.len()], &prefix[..]);
            let mut corrupt = stock.to_vec();
            for (at, byte) in flips {
                let i = at % corrupt.len();
                corrupt[i] = byte;
            }
            let _ = declared_imports(&corrupt);
        }
    }

    #[test]
    fn an_import_sluice_does_not_grant_is_refused_before_compiling() {
        let engine = PolicyEngine::new(crate::policy::EngineSettings::default()).expect("engine");
        let refused = PolicyModule::load_bytes(
            &engine,
            "js.wasm",
            &component_importing("wasi:http/types@0.2.0"),
            None,
        )
        .err();
        assert!(
            matches!(&refused, Some(LoadError::UnsupportedImport { import, .. }) if import == "wasi:http/types@0.2.0"),
            "refused for the import, not for the code behind it: {refused:?}"
        );
        // What sluice grants passes the scan (and fails later, on the code).
        let granted = PolicyModule::load_bytes(
            &engine,
            "ok.wasm",
            &component_importing("sluice:policy/log@0.1.0"),
            None,
        )
        .err();
        assert!(
            matches!(granted, Some(LoadError::Compile { .. })),
            "{granted:?}"
        );
        assert_eq!(
            declared_imports(&component_importing("wasi:cli/stdout@0.2.9")),
            vec!["wasi:cli/stdout@0.2.9".to_owned()]
        );
    }

    #[test]
    fn header_checks_name_the_problem() {
        assert!(matches!(
            check_header("f", b""),
            Err(LoadError::Empty { .. })
        ));
        assert!(matches!(
            check_header("f", b"garbage!"),
            Err(LoadError::NotWasm { .. })
        ));
        assert!(matches!(
            check_header("f", b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule { .. })
        ));
        assert!(check_header("f", b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn only_host_interfaces_and_wasi_are_provided() {
        assert!(is_provided("sluice:policy/stats@0.1.0"));
        assert!(is_provided("wasi:io/streams@0.2.6"));
        assert!(!is_provided("wasi:http/outgoing-handler@0.2.0"));
        assert!(!is_provided("evil:net/socket"));
    }
}
