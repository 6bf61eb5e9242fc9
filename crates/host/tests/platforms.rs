//! The platform matrix of the README, checked: the built component's
//! imports against the worlds each Spin release offers a component, as the
//! `spin-sdk` crate ships them (its `wit/` directory, from crates.io).
//!
//! - Spin 3.x and 4.x: `fermyon:spin/platform@3.0.0` (Spin 2's platform
//!   plus `wasi:keyvalue@0.2.0-draft2` store, batch and atomics). Every
//!   import must be there.
//! - Spin 2.x: `fermyon:spin/platform@2.0.0`, key-value only as
//!   `fermyon:spin/key-value@2.0.0`, which has no atomic operation: the
//!   component cannot run there, and the check says exactly why.
//!
//! WASI 0.2 interfaces match across patch versions (`@0.2.0` … `@0.2.6`), as
//! wasmtime's linker matches them; everything else must match exactly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_parser::{Resolve, WorldItem, WorldKey};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/host lives two levels down")
        .to_path_buf()
}

/// The `wit/` directory of the `spin-sdk` crate the component is built with.
fn spin_sdk_wit() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            "wasm32-wasip1",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sdk = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "spin-sdk")
        .expect("spin-sdk is a dependency of the component");
    Path::new(sdk["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .join("wit")
}

/// `ns:pkg/iface@version` for every interface a world imports.
fn imports(resolve: &Resolve, world: wit_parser::WorldId) -> BTreeSet<String> {
    resolve.worlds[world]
        .imports
        .iter()
        .filter_map(|(key, item)| match (key, item) {
            (WorldKey::Interface(id), WorldItem::Interface { .. }) => resolve.id_of(*id),
            _ => None,
        })
        .collect()
}

/// WASI 0.2 patch versions are interchangeable: `wasi:io/streams@0.2.6`
/// becomes `wasi:io/streams@0.2`.
fn normalise(name: &str) -> String {
    match name.split_once("@0.2.") {
        Some((iface, patch)) if name.starts_with("wasi:") && patch.parse::<u32>().is_ok() => {
            format!("{iface}@0.2")
        }
        _ => name.to_string(),
    }
}

/// The imports of world `platform` of package `package` (`ns:name@version`).
fn platform(sdk: &Resolve, package: &str) -> BTreeSet<String> {
    let pkg = sdk
        .package_names
        .iter()
        .find(|(n, _)| n.to_string() == package)
        .map(|(_, id)| *id)
        .unwrap_or_else(|| panic!("spin-sdk's WIT has no package {package}"));
    let id = sdk
        .select_world(&[pkg], Some("platform"))
        .expect("the platform world");
    imports(sdk, id).iter().map(|n| normalise(n)).collect()
}

/// The imports of the built component that `package`'s platform world does
/// not offer.
fn missing(package: &str) -> BTreeSet<String> {
    let wasm_path = workspace_root().join("target/wasm32-wasip1/release/spin_scim.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build the component first (`make wasm`; `make test` does)",
            wasm_path.display()
        )
    });
    // The .wasm is a core module; Spin componentizes it with the WASI
    // preview 1 adapter, as the local host does.
    let component = wit_component::ComponentEncoder::default()
        .module(&wasm)
        .unwrap()
        .adapter(
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .unwrap()
        .validate(true)
        .encode()
        .unwrap();
    let decoded = wit_component::decode(&component).expect("decode the component");
    let (resolve, world) = match decoded {
        wit_component::DecodedWasm::Component(r, w) => (r, w),
        _ => panic!("not a component"),
    };
    let needed: BTreeSet<String> = imports(&resolve, world)
        .iter()
        .map(|n| normalise(n))
        .collect();
    assert!(!needed.is_empty());
    let mut sdk = Resolve::default();
    sdk.push_dir(spin_sdk_wit()).expect("parse spin-sdk's WIT");
    let offered = platform(&sdk, package);
    needed.difference(&offered).cloned().collect()
}

#[test]
fn spin_3_and_4_offer_every_import() {
    let missing = missing("fermyon:spin@3.0.0");
    assert!(
        missing.is_empty(),
        "not in Spin 3/4's platform: {missing:?}"
    );
}

#[test]
fn spin_2_lacks_only_wasi_keyvalue() {
    let missing = missing("fermyon:spin@2.0.0");
    let expected: BTreeSet<String> = ["atomics", "batch", "store"]
        .iter()
        .map(|i| format!("wasi:keyvalue/{i}@0.2.0-draft2"))
        .collect();
    assert_eq!(missing, expected);
}
