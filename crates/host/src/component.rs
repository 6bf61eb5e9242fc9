//! Loading the component: componentizing a wasip1 core module (as Spin
//! does), compiling it, and caching the compiled artifact under the state
//! directory keyed by the hash of the input file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{format_err, Engine, Result};

const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Kind of a WebAssembly binary, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmKind {
    CoreModule,
    Component,
}

pub fn wasm_kind(bytes: &[u8]) -> Result<WasmKind> {
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(format_err!("not a WebAssembly binary (bad magic number)"));
    }
    // Bytes 4..8: version (2 bytes) + layer (2 bytes); layer 1 = component.
    match (bytes[6], bytes[7]) {
        (0, 0) => Ok(WasmKind::CoreModule),
        (1, 0) => Ok(WasmKind::Component),
        _ => Err(format_err!("unknown WebAssembly binary layer")),
    }
}

/// Turns a wasip1 core module into a component with the preview1
/// reactor adapter, the way Spin's componentize step does.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    let encode = |module: &[u8]| -> anyhow::Result<Vec<u8>> {
        wit_component::ComponentEncoder::default()
            .validate(true)
            .module(module)?
            .adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )?
            .encode()
    };
    encode(module).map_err(|e| format_err!("componentizing the core module failed: {e:?}"))
}

/// Where compiled artifacts are cached (`None` disables the cache).
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    pub fn new(dir: PathBuf) -> Self {
        ArtifactCache { dir }
    }

    /// Keeps the `keep` most recently written artifacts, deleting older
    /// ones (each rebuild of the component adds one).
    pub fn prune(&self, keep: usize) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.0));
        for (_, p) in files.into_iter().skip(keep) {
            let _ = std::fs::remove_file(p);
        }
    }

    fn path_for(&self, engine: &Engine, input: &[u8]) -> PathBuf {
        use std::hash::{Hash, Hasher};
        // The engine's compatibility hash covers the Wasmtime version and
        // every setting that affects compiled code.
        struct ShaHasher(Sha256);
        impl Hasher for ShaHasher {
            fn finish(&self) -> u64 {
                0
            }
            fn write(&mut self, bytes: &[u8]) {
                self.0.update(bytes);
            }
        }
        let mut h = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        h.write(input);
        let digest = h.0.finalize();
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}.cwasm"))
    }
}

/// How the component was obtained (for the startup message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadedFrom {
    Cache,
    Compiled { componentized: bool },
}

/// Reads `path` (a core module or a component) and compiles it, using the
/// artifact cache when given.
pub fn load(
    engine: &Engine,
    path: &Path,
    cache: Option<&ArtifactCache>,
) -> Result<(Component, LoadedFrom)> {
    let bytes = std::fs::read(path)
        .map_err(|e| format_err!("cannot read component {}: {e}", path.display()))?;
    let kind = wasm_kind(&bytes).map_err(|e| format_err!("{}: {e}", path.display()))?;

    let cached = cache.map(|c| c.path_for(engine, &bytes));
    if let Some(p) = &cached {
        if p.exists() {
            // SAFETY: the file was written by `Component::serialize` of this
            // very host (the name includes the engine compatibility hash) in
            // a directory we own; Wasmtime still checks its header.
            match unsafe { Component::deserialize_file(engine, p) } {
                Ok(c) => {
                    // Mark it recently used, for `prune`.
                    if let Ok(f) = std::fs::File::options().append(true).open(p) {
                        let _ = f.set_modified(std::time::SystemTime::now());
                    }
                    return Ok((c, LoadedFrom::Cache));
                }
                Err(e) => {
                    eprintln!(
                        "scim-host: ignoring unusable cached artifact {}: {e}",
                        p.display()
                    );
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }

    let component_bytes = match kind {
        WasmKind::Component => bytes,
        WasmKind::CoreModule => componentize(&bytes)?,
    };
    let component = Component::new(engine, &component_bytes)
        .map_err(|e| format_err!("compiling {}: {e:?}", path.display()))?;

    if let Some(p) = &cached {
        if let Err(e) = write_atomically(p, &component.serialize()?) {
            eprintln!("scim-host: cannot cache compiled component: {e}");
        }
    }
    Ok((
        component,
        LoadedFrom::Compiled {
            componentized: kind == WasmKind::CoreModule,
        },
    ))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Times a closure (for startup messages).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_binary_kind() {
        assert_eq!(wasm_kind(b"\0asm\x01\0\0\0").unwrap(), WasmKind::CoreModule);
        assert_eq!(
            wasm_kind(b"\0asm\x0d\0\x01\0").unwrap(),
            WasmKind::Component
        );
        assert!(wasm_kind(b"nope").is_err());
        assert!(wasm_kind(b"\0asm\x01\0\x07\0").is_err());
    }
}
