//! Splits every fixture module with the CLI and checks both outputs section by section.

mod common;

use common::*;
use wasm_coredump::{BUILD_ID_SECTION, BuildId, EXTERNAL_DEBUG_INFO_SECTION, ModuleLayout};

#[test]
fn every_fixture_splits_byte_exactly() {
    for src in fixture_modules() {
        let what = src.display().to_string();
        let dir = tempfile::tempdir().unwrap();
        let input = copy_in(&src, dir.path(), "in.wasm");
        let input_bytes = std::fs::read(&input).unwrap();

        let out = run_str(&["in.wasm", "--json"], dir.path());
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{what}: --json output is not JSON ({e}): {}", stdout(&out))
        });
        let id_text = json["build_id"].as_str().expect("build_id");
        let id = BuildId::parse(id_text).expect("build id text");
        assert_eq!(json["build_id_source"], "derived", "{what}");
        let debug_name = format!("debug-{id_text}.wasm");
        assert_eq!(json["stripped"], "in.stripped.wasm", "{what}");
        assert_eq!(json["debug_file"], debug_name.as_str(), "{what}");
        assert_eq!(json["external_url"], debug_name.as_str(), "{what}");

        // The input is untouched.
        assert_eq!(
            std::fs::read(&input).unwrap(),
            input_bytes,
            "{what}: input changed"
        );
        let stripped = std::fs::read(dir.path().join("in.stripped.wasm")).unwrap();
        let debug = std::fs::read(dir.path().join(&debug_name)).unwrap();
        assert_eq!(json["sizes"]["input"], input_bytes.len(), "{what}");
        assert_eq!(json["sizes"]["stripped"], stripped.len(), "{what}");
        assert_eq!(json["sizes"]["debug_file"], debug.len(), "{what}");

        validate(&stripped, &format!("{what}: stripped"));
        validate(&debug, &format!("{what}: debug file"));

        let input_sections = raw_sections(&input_bytes);
        assert!(
            input_sections.iter().any(RawSection::is_dwarf),
            "{what}: fixture without DWARF"
        );
        let new_build_id = {
            let mut s = Vec::new();
            wasm_coredump::append_custom_section(
                &mut s,
                BUILD_ID_SECTION,
                &id.to_section_payload(),
            );
            s
        };
        let new_url = {
            let mut s = Vec::new();
            wasm_coredump::append_custom_section(
                &mut s,
                EXTERNAL_DEBUG_INFO_SECTION,
                &wasm_coredump::external_debug_info_payload(&debug_name),
            );
            s
        };

        // Stripped: the input's sections minus DWARF, byte for byte and in
        // order, then the new build_id and external_debug_info sections.
        let mut expected: Vec<Vec<u8>> = input_sections
            .iter()
            .filter(|s| !s.is_dwarf() && !s.is_custom(EXTERNAL_DEBUG_INFO_SECTION))
            .map(|s| s.bytes.clone())
            .collect();
        expected.push(new_build_id.clone());
        expected.push(new_url);
        let got: Vec<Vec<u8>> = raw_sections(&stripped)
            .into_iter()
            .map(|s| s.bytes)
            .collect();
        assert_eq!(got.len(), expected.len(), "{what}: stripped section count");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!(
                g == e,
                "{what}: stripped section {i} differs from the input's"
            );
        }
        assert_eq!(&stripped[..8], &input_bytes[..8], "{what}: header");
        assert!(
            !raw_sections(&stripped).iter().any(RawSection::is_dwarf),
            "{what}: DWARF left in the stripped module"
        );
        // The name section stays by default.
        assert_eq!(
            raw_sections(&stripped).iter().any(|s| s.is_custom("name")),
            input_sections.iter().any(|s| s.is_custom("name")),
            "{what}: name section"
        );

        // Debug file: every input section, then the build id.
        let mut expected: Vec<Vec<u8>> = input_sections
            .iter()
            .filter(|s| !s.is_custom(EXTERNAL_DEBUG_INFO_SECTION))
            .map(|s| s.bytes.clone())
            .collect();
        expected.push(new_build_id);
        let got: Vec<Vec<u8>> = raw_sections(&debug).into_iter().map(|s| s.bytes).collect();
        assert!(
            got == expected,
            "{what}: debug file is not the input's sections plus build_id"
        );

        // Code section identical; build ids equal; the pointer names the debug file.
        assert_eq!(
            code_payload(&stripped),
            code_payload(&debug),
            "{what}: code differs"
        );
        assert_eq!(
            code_payload(&stripped),
            code_payload(&input_bytes),
            "{what}: code differs"
        );
        let s_layout = ModuleLayout::parse(&stripped).unwrap();
        let d_layout = ModuleLayout::parse(&debug).unwrap();
        assert_eq!(s_layout.build_id(), Some(&id), "{what}: stripped build id");
        assert_eq!(d_layout.build_id(), Some(&id), "{what}: debug build id");
        assert_eq!(
            s_layout.external_debug_info(),
            Some(debug_name.as_str()),
            "{what}"
        );
        assert_eq!(d_layout.external_debug_info(), None, "{what}");
        assert!(
            !s_layout.has_dwarf() && d_layout.has_dwarf(),
            "{what}: DWARF placement"
        );

        // And `verify` agrees.
        let out = run_str(&["verify", "in.stripped.wasm", &debug_name], dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: verify: {}",
            stderr(&out)
        );
        assert!(
            stdout(&out).contains(id_text),
            "{what}: verify output: {}",
            stdout(&out)
        );
    }
}

#[test]
fn strip_names_removes_only_the_name_section() {
    let src = fixture("c/crash-O0.wasm");
    let input = std::fs::read(&src).unwrap();
    assert!(raw_sections(&input).iter().any(|s| s.is_custom("name")));
    let split = debuginfo_split::split(
        &input,
        &debuginfo_split::SplitOptions {
            strip_names: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        !raw_sections(&split.stripped)
            .iter()
            .any(|s| s.is_custom("name"))
    );
    assert!(
        raw_sections(&split.debug)
            .iter()
            .any(|s| s.is_custom("name"))
    );
    validate(&split.stripped, "stripped without names");
    let kept: Vec<_> = raw_sections(&input)
        .into_iter()
        .filter(|s| !s.is_dwarf() && !s.is_custom("name"))
        .map(|s| s.bytes)
        .collect();
    let got: Vec<_> = raw_sections(&split.stripped)
        .into_iter()
        .map(|s| s.bytes)
        .collect();
    assert_eq!(&got[..kept.len()], &kept[..]);
}

#[test]
fn an_input_external_debug_info_is_replaced() {
    // A module that has DWARF *and* an old pointer: split anyway, drop the old pointer.
    let mut input = std::fs::read(fixture("zig/crash-Debug.wasm")).unwrap();
    wasm_coredump::append_custom_section(
        &mut input,
        EXTERNAL_DEBUG_INFO_SECTION,
        &wasm_coredump::external_debug_info_payload("old.wasm"),
    );
    let split = debuginfo_split::split(&input, &Default::default()).unwrap();
    let pointers = |m: &[u8]| {
        raw_sections(m)
            .iter()
            .filter(|s| s.is_custom(EXTERNAL_DEBUG_INFO_SECTION))
            .count()
    };
    assert_eq!(pointers(&split.stripped), 1);
    assert_eq!(pointers(&split.debug), 0);
    assert_eq!(
        ModuleLayout::parse(&split.stripped)
            .unwrap()
            .external_debug_info(),
        Some(split.external_url.as_str())
    );
}

#[test]
fn dwarf5_section_names_are_all_removed() {
    // Add DWARF 5 sections (and other .debug_* names) to a module and make
    // sure every one of them moves.
    let mut input = std::fs::read(fixture("c/crash-O2.wasm")).unwrap();
    let names = [
        ".debug_addr",
        ".debug_str_offsets",
        ".debug_loclists",
        ".debug_rnglists",
        ".debug_line_str",
        ".debug_aranges",
        ".debug_pubnames",
        ".debug_pubtypes",
        ".debug_frame",
        ".debug_names",
        ".debug_types",
    ];
    for (i, name) in names.iter().enumerate() {
        wasm_coredump::append_custom_section(&mut input, name, &[i as u8; 7]);
    }
    wasm_coredump::append_custom_section(&mut input, "producers-like.debug_", b"x");
    let split = debuginfo_split::split(&input, &Default::default()).unwrap();
    let stripped = raw_sections(&split.stripped);
    assert!(!stripped.iter().any(RawSection::is_dwarf));
    assert!(
        stripped
            .iter()
            .any(|s| s.is_custom("producers-like.debug_"))
    );
    let debug = raw_sections(&split.debug);
    for name in names {
        assert!(
            debug.iter().any(|s| s.is_custom(name)),
            "{name} missing from the debug file"
        );
    }
}
