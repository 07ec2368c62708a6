//! Module layout and code-offset conversions on hand-built modules whose bytes we know.

use wasm_coredump::*;

/// Imports one function, defines two; the second divides.
const WAT: &str = r#"(module
  (import "env" "log" (func $log (param i32)))
  (func $first)
  (func $divide (param i32 i32) (result i32) (local i64)
    local.get 0
    local.get 1
    i32.div_s)
  (@custom "build_id" "\10\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f")
)"#;

fn module() -> Vec<u8> {
    wat::parse_str(WAT).unwrap()
}

/// Finds the code section payload and body starts by walking the raw bytes,
/// independently of wasmparser.
fn walk_bodies(bytes: &[u8]) -> (usize, Vec<(usize, usize)>) {
    fn leb(bytes: &[u8], at: &mut usize) -> usize {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let b = bytes[*at];
            *at += 1;
            value |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return value;
            }
        }
    }
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let size = leb(bytes, &mut at);
        if id == 10 {
            let payload = at;
            let count = leb(bytes, &mut at);
            let mut bodies = Vec::new();
            for _ in 0..count {
                let body_size = leb(bytes, &mut at);
                bodies.push((at, at + body_size));
                at += body_size;
            }
            return (payload, bodies);
        }
        at += size;
    }
    panic!("no code section");
}

#[test]
fn layout_matches_a_hand_walk_of_the_bytes() {
    let bytes = module();
    let layout = ModuleLayout::parse(&bytes).unwrap();
    let (payload, bodies) = walk_bodies(&bytes);
    assert_eq!(layout.code_payload().unwrap().start, payload);
    assert_eq!(layout.imported_functions(), 1);
    assert_eq!(layout.function_count(), 3);
    assert_eq!(layout.function_body(0), None, "imports have no body");
    assert_eq!(layout.function_body(1), Some(bodies[0].0..bodies[0].1));
    assert_eq!(layout.function_body(2), Some(bodies[1].0..bodies[1].1));
    assert_eq!(layout.function_name(2), Some("divide"));
    assert_eq!(layout.import(0), Some(("env", "log")));
    assert_eq!(
        layout.build_id().unwrap().as_bytes(),
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    );
}

#[test]
fn offsets_convert_between_all_three_systems() {
    let bytes = module();
    let layout = ModuleLayout::parse(&bytes).unwrap();
    let (payload, bodies) = walk_bodies(&bytes);
    let body = bodies[1].0;
    // Body: locals decl (01 01 7e) then local.get 0, local.get 1, i32.div_s.
    assert_eq!(&bytes[body..body + 3], &[0x01, 0x01, 0x7e]);
    let div_at = body + 7;
    assert_eq!(bytes[div_at], 0x6d, "i32.div_s");

    let loc = CodeLocation {
        function: 2,
        offset: 7,
    };
    let module_offset = layout.to_module_offset(loc).unwrap();
    assert_eq!(module_offset, ModuleOffset(div_at as u64));
    let dwarf = layout.to_dwarf_address(loc).unwrap();
    assert_eq!(dwarf, DwarfAddress((div_at - payload) as u64));
    assert_eq!(
        layout.location_of_module_offset(module_offset).unwrap(),
        loc
    );
    assert_eq!(layout.location_of_dwarf_address(dwarf).unwrap(), loc);
    assert_eq!(layout.dwarf_to_module_offset(dwarf).unwrap(), module_offset);
    assert_eq!(layout.module_offset_to_dwarf(module_offset).unwrap(), dwarf);
}

#[test]
fn bad_offsets_are_errors() {
    let layout = ModuleLayout::parse(&module()).unwrap();
    assert_eq!(
        layout.to_module_offset(CodeLocation {
            function: 0,
            offset: 1
        }),
        Err(OffsetError::NoSuchFunction(0))
    );
    assert_eq!(
        layout.to_module_offset(CodeLocation {
            function: 7,
            offset: 1
        }),
        Err(OffsetError::NoSuchFunction(7))
    );
    assert_eq!(
        layout.to_module_offset(CodeLocation {
            function: 2,
            offset: 0
        }),
        Err(OffsetError::Unknown(2))
    );
    assert!(matches!(
        layout.to_module_offset(CodeLocation {
            function: 2,
            offset: 500
        }),
        Err(OffsetError::OutsideBody { .. })
    ));
    assert!(layout.location_of_module_offset(ModuleOffset(3)).is_err());
    assert!(
        layout
            .location_of_module_offset(ModuleOffset(u64::MAX))
            .is_err()
    );
    assert!(layout.module_offset_to_dwarf(ModuleOffset(0)).is_err());
}

#[test]
fn external_debug_info_last_wins_and_sections_append_byte_exact() {
    let mut bytes = module();
    let before = bytes.clone();
    append_custom_section(
        &mut bytes,
        EXTERNAL_DEBUG_INFO_SECTION,
        &external_debug_info_payload("a.wasm"),
    );
    append_custom_section(
        &mut bytes,
        EXTERNAL_DEBUG_INFO_SECTION,
        &external_debug_info_payload("b.wasm"),
    );
    assert_eq!(&bytes[..before.len()], &before[..]);
    wasmparser::Validator::new().validate_all(&bytes).unwrap();
    let layout = ModuleLayout::parse(&bytes).unwrap();
    assert_eq!(layout.external_debug_info(), Some("b.wasm"));
    assert!(!layout.has_dwarf());
}

#[test]
fn malformed_modules_are_errors() {
    let bytes = module();
    for len in 9..bytes.len() {
        // Must not panic; most prefixes are errors.
        let _ = ModuleLayout::parse(&bytes[..len]);
    }
    assert!(ModuleLayout::parse(b"not wasm at all").is_err());
    let mut bad_id = b"\0asm\x01\0\0\0".to_vec();
    append_custom_section(&mut bad_id, BUILD_ID_SECTION, &[]);
    assert!(ModuleLayout::parse(&bad_id).is_err());
}
