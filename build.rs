//! Link settings of the component.

/// Initial linear memory of the component: 4 MiB instead of the linker's
/// default (the 1 MiB stack plus static data). wasi-libc's allocator uses the
/// initial memory past the static data before it grows memory, so a typical
/// request never executes `memory.grow`. Growing is what costs: the runtime
/// makes the new pages accessible with `mprotect` (and takes them away again
/// when the next instance reuses the slot), two TLB shootdowns per request.
/// Untouched pages cost nothing; Spin and the local host both map memory
/// lazily.
const INITIAL_MEMORY: u32 = 4 << 20;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--initial-memory={INITIAL_MEMORY}");
    }
}
