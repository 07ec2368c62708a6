//! Function names by index, the function list, dump-coordinate edge cases
//! and source files, checked against the fixture sources and manifest.

mod common;

use crash_fixtures::{Manifest, Program, function_name_matches};
use wasm_coredump::{CodeLocation, DwarfAddress, OffsetError};
use wasm_symbolicate::{DebugInfoLocator, Error, NameSource, Symbolicator, find_source_file};

fn open(program: &Program) -> Symbolicator {
    Symbolicator::open(program.wasm_path(), &DebugInfoLocator::new()).expect("opens")
}

/// The last `::` or `.` separated part of a function name.
fn short(name: &str) -> &str {
    name.rsplit([':', '.']).next().unwrap_or(name)
}

#[test]
fn every_expected_function_is_listed_with_its_declaration() {
    let manifest = Manifest::load().expect("manifest");
    for program in &manifest.programs {
        let symbols = open(program);
        let functions = symbols.functions().expect("function list");
        let source = program.source_text().expect("source");
        let lines: Vec<&str> = source.lines().collect();
        let mut wanted: Vec<&str> = program
            .modes
            .iter()
            .flat_map(|m| m.frames.iter().map(|f| f.function.as_str()))
            .collect();
        wanted.sort();
        wanted.dedup();
        assert!(!wanted.is_empty());
        for want in wanted {
            let info = functions
                .iter()
                .find(|f| function_name_matches(want, &f.name.name))
                .unwrap_or_else(|| panic!("{}: {want} not listed", program.id));
            assert_eq!(info.name.source, NameSource::Dwarf);
            let file = info.decl_file.as_deref().expect("declaring file");
            assert!(
                file.ends_with(program.source_file_name()),
                "{}: {want} in {file}",
                program.id
            );
            let line = info.decl_line.expect("declaring line") as usize;
            let text = lines.get(line.wrapping_sub(1)).copied().unwrap_or("");
            assert!(
                text.contains(short(want)),
                "{}: {want} declared at line {line}: {text:?}",
                program.id
            );
            // The function's Wasm index names it the same way.
            let index = info.function_index.expect("code in a body");
            let by_index = symbols.function_name(index).expect("named");
            assert_eq!(
                by_index.name, info.name.name,
                "{}: function {index}",
                program.id
            );
            assert_eq!(by_index.source, NameSource::Dwarf);
            // Ranges are sorted, non-empty and inside the Code section.
            for range in &info.ranges {
                assert!(range.start < range.end);
                assert!(
                    symbols
                        .layout()
                        .location_of_dwarf_address(DwarfAddress(range.start))
                        .is_ok()
                );
            }
        }
        // The listing is sorted by address.
        let starts: Vec<u64> = functions
            .iter()
            .filter_map(|f| f.ranges.first().map(|r| r.start))
            .collect();
        assert!(
            starts.windows(2).all(|w| w[0] <= w[1]),
            "{}: unsorted",
            program.id
        );
    }
}

#[test]
fn names_follow_each_language() {
    let manifest = Manifest::load().expect("manifest");
    let index_of = |symbols: &Symbolicator, raw: &str| {
        symbols
            .layout()
            .function_names()
            .iter()
            .find(|(_, n)| n.as_str() == raw || n.starts_with(raw))
            .map(|(i, _)| *i)
            .unwrap_or_else(|| panic!("no {raw} in the name section"))
    };

    // C: DW_AT_name, with clang's Wasm linkage name for main kept aside.
    let c = open(manifest.program("c-O0").expect("c"));
    let main = c.function_name(index_of(&c, "main")).expect("main");
    assert_eq!(main.name, "main");
    assert_eq!(main.linkage_name.as_deref(), Some("__main_argc_argv"));
    assert_eq!(
        c.function_name(index_of(&c, "divide"))
            .expect("divide")
            .name,
        "divide"
    );

    // Rust: demangled linkage name without the hash.
    let rust = open(manifest.program("rust-debug").expect("rust"));
    let divide = rust
        .function_name(index_of(&rust, "_ZN5crash6divide"))
        .expect("divide");
    assert_eq!(divide.name, "crash::divide");
    assert!(
        divide
            .linkage_name
            .as_deref()
            .is_some_and(|l| l.starts_with("_ZN5crash6divide17h"))
    );

    // Zig: the linkage name as it is.
    let zig = open(manifest.program("zig-Debug").expect("zig"));
    assert_eq!(
        zig.function_name(index_of(&zig, "crash.divide"))
            .expect("divide")
            .name,
        "crash.divide"
    );

    // Imports are named `module.field` unless the name section names them.
    let imported =
        (0..c.layout().imported_functions()).find(|i| c.layout().function_name(*i).is_none());
    if let Some(i) = imported {
        let name = c.function_name(i).expect("import");
        assert_eq!(name.source, NameSource::Import);
        assert!(name.name.contains('.'));
    }
}

#[test]
fn dump_coordinate_edge_cases() {
    let manifest = Manifest::load().expect("manifest");
    let program = manifest.program("c-O0").expect("c");
    let symbols = open(program);
    let layout = symbols.layout();
    let divide = *layout
        .function_names()
        .iter()
        .find(|(_, n)| n.as_str() == "divide")
        .expect("divide")
        .0;

    // Offset 0 means unknown: the name, nothing else.
    let frames = symbols
        .symbolicate(CodeLocation {
            function: divide,
            offset: 0,
        })
        .expect("unknown offset");
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].function_name(), "divide");
    assert_eq!(frames[0].line, None);

    // Past the body, an import, out of range: errors, not guesses.
    let size = layout.function_body(divide).expect("body").len() as u32;
    assert!(matches!(
        symbols.symbolicate(CodeLocation {
            function: divide,
            offset: size
        }),
        Err(Error::Offset(OffsetError::OutsideBody { .. }))
    ));
    if layout.imported_functions() > 0 {
        assert!(matches!(
            symbols.symbolicate(CodeLocation {
                function: 0,
                offset: 1
            }),
            Err(Error::Offset(OffsetError::NoSuchFunction(0)))
        ));
    }
    assert!(
        symbols
            .symbolicate(CodeLocation {
                function: u32::MAX,
                offset: 1
            })
            .is_err()
    );

    // Every offset of the body: the DWARF-address and dump lookups agree, and
    // the outermost frame is always `divide` in crash.c.
    for offset in 1..size {
        let location = CodeLocation {
            function: divide,
            offset,
        };
        let frames = symbols.symbolicate(location).expect("symbolicates");
        let address = layout.to_dwarf_address(location).expect("address");
        assert_eq!(
            symbols
                .symbolicate_dwarf_address(address)
                .expect("by address"),
            frames
        );
        let outer = frames.last().expect("a frame");
        assert_eq!(outer.function_name(), "divide");
        assert!(!outer.inlined);
    }
}

#[test]
fn dwarf_source_paths_resolve_on_disk() {
    let manifest = Manifest::load().expect("manifest");
    let repo = crash_fixtures::fixtures_dir().join("..");
    for program in &manifest.programs {
        let symbols = open(program);
        let info = symbols
            .functions()
            .expect("functions")
            .into_iter()
            .find(|f| short(&f.name.name) == "dispatch")
            .expect("dispatch");
        let file = info.decl_file.expect("file");
        // C and Rust paths are relative to the repository (prefix maps), Zig's absolute.
        let found = find_source_file(&file, std::slice::from_ref(&repo))
            .unwrap_or_else(|| panic!("{}: {file} not found", program.id));
        assert_eq!(
            std::fs::read_to_string(found).expect("read"),
            program.source_text().expect("source"),
            "{}",
            program.id
        );
    }
}
