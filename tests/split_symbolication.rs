//! A split module symbolicates exactly like the unsplit one: for every
//! fixture and crash mode, the dump of the stripped module (run in the host)
//! resolves to the same functions, files, lines and inlined chains through
//! the debug file found by `external_debug_info`, by build id in a debug
//! directory (both layouts), as it does through the original module's own
//! DWARF.

use std::path::Path;

use coredump_host::Capture;
use crash_fixtures::Manifest;
use debuginfo_split::{build_id_tree_path, debug_file_name};
use end_to_end::{Prepared, scratch};
use wasm_coredump::CodeLocation;
use wasm_symbolicate::{DebugInfoLocator, DebugInfoSource, Symbolicator};

/// Every frame of `dump`, symbolicated by `symbols`, one line per source frame.
fn resolved(symbols: &Symbolicator, dump: &wasm_coredump::CoreDump) -> Vec<String> {
    let mut lines = Vec::new();
    for frame in dump.threads.iter().flat_map(|t| &t.frames) {
        let location = CodeLocation {
            function: frame.function,
            offset: frame.code_offset,
        };
        match symbols.symbolicate(location) {
            Ok(frames) => lines.extend(frames.iter().map(|f| {
                format!(
                    "{}:{}: {} {:?}:{:?}:{:?} inlined={}",
                    frame.function,
                    frame.code_offset,
                    f.function_name(),
                    f.file,
                    f.line,
                    f.column,
                    f.inlined
                )
            })),
            Err(e) => lines.push(format!(
                "{}:{}: error {e}",
                frame.function, frame.code_offset
            )),
        }
    }
    lines
}

fn open(path: &Path, locator: &DebugInfoLocator) -> Symbolicator {
    Symbolicator::open(path, locator).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_symbolicates_the_same_through_its_debug_file() {
    let manifest = Manifest::load().expect("fixture manifest");
    let host = end_to_end::host(Capture::Native);
    let mut compared = 0;
    for program in &manifest.programs {
        let prepared = Prepared::new(program);
        let (_keep, dir) = scratch(&program.id);
        let id = &prepared.split.build_id.id;

        // Beside the stripped module, as its external_debug_info names it.
        let beside = dir.join("beside");
        std::fs::create_dir_all(&beside).expect("dir");
        let stripped_beside = beside.join(&prepared.file_name);
        std::fs::write(&stripped_beside, &prepared.split.stripped).expect("write");
        std::fs::write(
            beside.join(&prepared.split.external_url),
            &prepared.split.debug,
        )
        .expect("write");

        // Alone, with the debug file in a directory: flat and build-id tree layouts.
        let alone = dir.join("alone");
        let (flat, tree) = (dir.join("flat"), dir.join("tree"));
        std::fs::create_dir_all(&alone).expect("dir");
        std::fs::create_dir_all(&flat).expect("dir");
        let stripped_alone = alone.join(&prepared.file_name);
        std::fs::write(&stripped_alone, &prepared.split.stripped).expect("write");
        std::fs::write(flat.join(debug_file_name(id)), &prepared.split.debug).expect("write");
        let tree_file = build_id_tree_path(&tree, id);
        std::fs::create_dir_all(tree_file.parent().expect("parent")).expect("dir");
        std::fs::write(&tree_file, &prepared.split.debug).expect("write");

        let original = open(&program.wasm_path(), &DebugInfoLocator::new());
        assert!(
            matches!(original.source(), DebugInfoSource::Embedded),
            "{}",
            original.source()
        );
        let through_url = open(&stripped_beside, &DebugInfoLocator::new());
        assert!(
            matches!(
                through_url.source(),
                DebugInfoSource::ExternalDebugInfo { .. }
            ),
            "{}: {}",
            program.id,
            through_url.source()
        );
        let mut via_dirs = Vec::new();
        for debug_dir in [&flat, &tree] {
            let symbols = open(
                &stripped_alone,
                &DebugInfoLocator::new().with_debug_dir(debug_dir),
            );
            assert!(
                matches!(symbols.source(), DebugInfoSource::DebugDir { .. }),
                "{} in {}: {}",
                program.id,
                debug_dir.display(),
                symbols.source()
            );
            via_dirs.push(symbols);
        }

        let module = host
            .compile(&prepared.file_name, &prepared.split.stripped)
            .expect("compiles");
        for mode in program.modes.iter().filter(|m| m.crashes()) {
            let mut request = coredump_host::RunRequest::new(
                prepared.file_name.clone(),
                prepared.split.stripped.clone(),
            );
            request.args = mode.args.clone();
            let outcome = host.run_compiled(&module, &request).expect("runs");
            let dump = outcome
                .crash
                .and_then(|c| c.dump)
                .unwrap_or_else(|| panic!("{} {}: no dump", program.id, mode.mode));
            let want = resolved(&original, &dump);
            assert!(
                want.iter()
                    .any(|l| l.contains(".c\"") || l.contains(".rs\"") || l.contains(".zig\"")),
                "{} {}: nothing resolved: {want:#?}",
                program.id,
                mode.mode
            );
            for (how, symbols) in [
                ("external_debug_info", &through_url),
                ("debug dir", &via_dirs[0]),
                ("build-id tree", &via_dirs[1]),
            ] {
                assert_eq!(
                    resolved(symbols, &dump),
                    want,
                    "{} {} via {how}",
                    program.id,
                    mode.mode
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 40, "only {compared} crashes compared");
}
