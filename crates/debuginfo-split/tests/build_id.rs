//! Build ids: derived ones are reproducible, existing ones are kept byte for
//! byte, `--build-id` overrides both.

mod common;

use common::*;
use wasm_coredump::{BUILD_ID_SECTION, BuildId, ModuleLayout, append_custom_section};

const LLD_ID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

fn split_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = run_str(args, dir);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn splitting_twice_gives_the_same_id_and_bytes() {
    let src = fixture("rust/crash-O2.wasm");
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    copy_in(&src, a.path(), "m.wasm");
    copy_in(&src, b.path(), "m.wasm");
    let ja = split_json(a.path(), &["m.wasm", "--json"]);
    let jb = split_json(b.path(), &["m.wasm", "--json"]);
    assert_eq!(ja["build_id"], jb["build_id"]);
    assert_eq!(
        snapshot(a.path()),
        snapshot(b.path()),
        "outputs differ between runs"
    );
    // The id is what the library documents: UUIDv5 over the SHA-256 of the input.
    let input = std::fs::read(&src).unwrap();
    let expected = debuginfo_split::derive_build_id(&input);
    assert_eq!(ja["build_id"], expected.to_string());
    let uuid = expected.as_uuid().expect("16 bytes");
    assert_eq!(uuid.get_version_num(), 5);
    // A different input gets a different id.
    let other =
        debuginfo_split::derive_build_id(&std::fs::read(fixture("rust/crash-debug.wasm")).unwrap());
    assert_ne!(other, expected);
}

#[test]
fn the_namespace_is_stable() {
    // Changing the namespace silently changes every derived id: pin it.
    assert_eq!(
        debuginfo_split::build_id_namespace().to_string(),
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            b"urn:x-wasm-postmortem:debuginfo-split:build-id:v1"
        )
        .to_string()
    );
    let id = debuginfo_split::derive_build_id(b"\0asm\x01\0\0\0");
    assert_eq!(id.to_string(), DERIVED_FOR_EMPTY_MODULE);
}

/// `derive_build_id` of the empty module, recorded once (and checked with
/// Python's hashlib/uuid): a change here means
/// every published debug file name changes too.
const DERIVED_FOR_EMPTY_MODULE: &str = "cc685282-25fb-5df9-914b-0b1e839b4ed5";

/// A fixture copy with an lld-style `build_id` section (0x10 then 16 bytes).
fn with_lld_build_id(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let mut module = std::fs::read(fixture("c/crash-O0.wasm")).unwrap();
    let id = BuildId::parse(LLD_ID).unwrap();
    let payload = id.to_section_payload();
    assert_eq!(payload[0], 0x10);
    let mut section = Vec::new();
    append_custom_section(&mut section, BUILD_ID_SECTION, &payload);
    module.extend_from_slice(&section);
    std::fs::write(dir.join("lld.wasm"), &module).unwrap();
    (module, section)
}

#[test]
fn an_existing_build_id_is_kept_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (_, section) = with_lld_build_id(dir.path());
    let json = split_json(dir.path(), &["lld.wasm", "--json"]);
    assert_eq!(json["build_id"], LLD_ID);
    assert_eq!(json["build_id_source"], "existing");
    let debug_name = format!("debug-{LLD_ID}.wasm");
    for file in ["lld.stripped.wasm", debug_name.as_str()] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let ids: Vec<_> = raw_sections(&bytes)
            .into_iter()
            .filter(|s| s.is_custom(BUILD_ID_SECTION))
            .collect();
        assert_eq!(ids.len(), 1, "{file}: one build_id section");
        assert_eq!(ids[0].bytes, section, "{file}: build_id section rewritten");
    }
}

#[test]
fn build_id_option_overrides_existing_and_derived() {
    let dir = tempfile::tempdir().unwrap();
    with_lld_build_id(dir.path());
    let wanted = "11111111-2222-3333-4444-555555555555";
    let json = split_json(
        dir.path(),
        &[
            "lld.wasm",
            "--json",
            "--build-id",
            "11111111222233334444555555555555",
        ],
    );
    assert_eq!(json["build_id"], wanted);
    assert_eq!(json["build_id_source"], "override");
    let debug_name = format!("debug-{wanted}.wasm");
    for file in ["lld.stripped.wasm", debug_name.as_str()] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let count = raw_sections(&bytes)
            .iter()
            .filter(|s| s.is_custom(BUILD_ID_SECTION))
            .count();
        assert_eq!(count, 1, "{file}: the old build_id section must go");
        let layout = ModuleLayout::parse(&bytes).unwrap();
        assert_eq!(
            layout.build_id().map(ToString::to_string).as_deref(),
            Some(wanted),
            "{file}"
        );
    }

    // Without an existing id, --build-id wins over the derived one too.
    copy_in(&fixture("zig/crash-ReleaseSafe.wasm"), dir.path(), "z.wasm");
    let json = split_json(dir.path(), &["z.wasm", "--json", "--build-id", wanted]);
    assert_eq!(json["build_id"], wanted);

    // A malformed id is a usage error.
    let out = run_str(&["z.wasm", "--build-id", "not-hex"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn conflicting_build_id_sections_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut module, _) = with_lld_build_id(dir.path());
    append_custom_section(
        &mut module,
        BUILD_ID_SECTION,
        &BuildId::parse("22222222222222222222222222222222")
            .unwrap()
            .to_section_payload(),
    );
    std::fs::write(dir.path().join("two.wasm"), &module).unwrap();
    let out = run_str(&["two.wasm"], dir.path());
    assert_fails(&out, 1, "two build ids");
    assert!(
        stderr(&out).contains("conflicting build_id"),
        "{}",
        stderr(&out)
    );
}
