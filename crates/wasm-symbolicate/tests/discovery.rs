//! Finding debug info: embedded, `external_debug_info`, by build id in debug
//! directories (both layouts), through a fetcher; refusing a debug file whose
//! build id differs; and falling back to the `name` section, with a message
//! saying so, when nothing is found.
//!
//! Ground truth: the C -O0 fixture's `divide-by-zero` run under node, whose
//! frames the manifest lists. Split pairs are built here: the module with its
//! `.debug_*` sections removed (every other byte copied as it is) plus
//! `build_id` / `external_debug_info`, and a debug file that is the original
//! module plus the same `build_id`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crash_fixtures::{ExpectedFrame, Manifest, run_under_node};
use wasm_coredump::{
    BUILD_ID_SECTION, BuildId, CodeLocation, EXTERNAL_DEBUG_INFO_SECTION, ModuleLayout,
    append_custom_section, external_debug_info_payload,
};
use wasm_symbolicate::{
    DebugDirLayout, DebugFileFetcher, DebugInfoLocator, DebugInfoSource, Error, FetchRequest,
    FetchedDebugFile, ModuleFile, NameSource, Symbolicator,
};

/// The fixture module, the dump locations of its divide-by-zero backtrace,
/// and the frames the manifest expects.
struct Case {
    original: Vec<u8>,
    locations: Vec<CodeLocation>,
    expected: Vec<ExpectedFrame>,
}

fn case() -> Case {
    let manifest = Manifest::load().expect("manifest");
    let program = manifest.program("c-O0").expect("c-O0");
    let mode = program.mode("divide-by-zero").expect("mode");
    let original = program.wasm_bytes().expect("module");
    let run = run_under_node(program, &mode.args).expect("node runs");
    let layout = ModuleLayout::parse(&original).expect("layout");
    let locations = common::v8_frames(&run.stderr)
        .into_iter()
        .map(|(_, offset)| layout.location_of_module_offset(offset).expect("in code"))
        .collect::<Vec<_>>();
    assert!(locations.len() >= 5, "node backtrace: {}", run.stderr);
    Case {
        original,
        locations,
        expected: mode.frames.clone(),
    }
}

impl Case {
    fn backtrace(&self, symbols: &Symbolicator) -> Vec<wasm_symbolicate::SourceFrame> {
        self.locations
            .iter()
            .flat_map(|loc| symbols.symbolicate(*loc).expect("symbolicates"))
            .collect()
    }

    fn assert_symbolicates(&self, symbols: &Symbolicator) {
        if let Err(message) = common::match_frames(&self.backtrace(symbols), &self.expected) {
            panic!("with {}: {message}", symbols.source());
        }
    }

    /// The stripped module carrying `id` and `external_debug_info` URLs.
    fn stripped(&self, id: Option<&BuildId>, urls: &[&str]) -> Vec<u8> {
        let mut module = common::strip_debug(&self.original, true);
        if let Some(id) = id {
            append_custom_section(&mut module, BUILD_ID_SECTION, &id.to_section_payload());
        }
        for url in urls {
            append_custom_section(
                &mut module,
                EXTERNAL_DEBUG_INFO_SECTION,
                &external_debug_info_payload(url),
            );
        }
        module
    }

    /// The debug file: the original module plus `id`.
    fn debug_file(&self, id: &BuildId) -> Vec<u8> {
        let mut debug = self.original.clone();
        append_custom_section(&mut debug, BUILD_ID_SECTION, &id.to_section_payload());
        debug
    }
}

fn id(n: u8) -> BuildId {
    BuildId::new([
        n, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
    ])
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn the_stripped_module_keeps_its_code_bytes() {
    let case = case();
    let stripped = case.stripped(Some(&id(1)), &["x.wasm"]);
    let a = ModuleLayout::parse(&case.original).expect("original");
    let b = ModuleLayout::parse(&stripped).expect("stripped");
    assert!(!b.has_dwarf());
    let (ca, cb) = (
        a.code_payload().expect("code"),
        b.code_payload().expect("code"),
    );
    assert_eq!(case.original[ca], stripped[cb]);
}

#[test]
fn embedded_dwarf() {
    let case = case();
    let symbols = Symbolicator::new(
        ModuleFile::from_bytes(case.original.clone(), None).expect("module"),
        &DebugInfoLocator::new(),
    )
    .expect("symbolicator");
    assert_eq!(symbols.source(), &DebugInfoSource::Embedded);
    assert!(symbols.has_dwarf());
    case.assert_symbolicates(&symbols);
}

#[test]
fn external_debug_info_relative_to_the_module() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let build_id = id(2);
    let module_path = dir.path().join("bin/app.wasm");
    write(
        &module_path,
        &case.stripped(Some(&build_id), &["../debug/app.debug.wasm"]),
    );
    write(
        &dir.path().join("debug/app.debug.wasm"),
        &case.debug_file(&build_id),
    );

    let symbols = Symbolicator::open(&module_path, &DebugInfoLocator::new()).expect("symbolicator");
    match symbols.source() {
        DebugInfoSource::ExternalDebugInfo { url, path } => {
            assert_eq!(url, "../debug/app.debug.wasm");
            assert_eq!(path, &dir.path().join("bin/../debug/app.debug.wasm"));
        }
        other => panic!("unexpected source {other}"),
    }
    assert!(symbols.warnings().is_empty(), "{:?}", symbols.warnings());
    case.assert_symbolicates(&symbols);
}

#[test]
fn the_last_external_debug_info_wins() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let build_id = id(3);
    let module_path = dir.path().join("app.wasm");
    write(
        &module_path,
        &case.stripped(Some(&build_id), &["missing.wasm", "app.debug.wasm"]),
    );
    write(
        &dir.path().join("app.debug.wasm"),
        &case.debug_file(&build_id),
    );
    let symbols = Symbolicator::open(&module_path, &DebugInfoLocator::new()).expect("symbolicator");
    assert!(
        matches!(symbols.source(), DebugInfoSource::ExternalDebugInfo { url, .. } if url == "app.debug.wasm"),
        "{}",
        symbols.source()
    );
    case.assert_symbolicates(&symbols);
}

#[test]
fn external_debug_info_makes_embedded_dwarf_ignored() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    // Embedded DWARF kept, but the module points elsewhere, at nothing.
    let mut module = case.original.clone();
    append_custom_section(
        &mut module,
        EXTERNAL_DEBUG_INFO_SECTION,
        &external_debug_info_payload("gone.wasm"),
    );
    let module_path = dir.path().join("app.wasm");
    write(&module_path, &module);
    let symbols = Symbolicator::open(&module_path, &DebugInfoLocator::new()).expect("symbolicator");
    let DebugInfoSource::NotFound(not_found) = symbols.source() else {
        panic!("embedded DWARF must be ignored, got {}", symbols.source());
    };
    let message = not_found.to_string();
    assert!(
        message.contains("gone.wasm") && message.contains("no such file"),
        "{message}"
    );
    assert!(!symbols.has_dwarf());
}

#[test]
fn by_build_id_in_debug_dirs_both_layouts() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let build_id = id(0xab);
    let module = case.stripped(Some(&build_id), &[]);
    let module_path = dir.path().join("app.wasm");
    write(&module_path, &module);

    // debug-<uuid>.wasm
    let flat = dir.path().join("flat");
    let flat_file = flat.join(format!("debug-{build_id}.wasm"));
    assert_eq!(
        flat_file.file_name().and_then(|n| n.to_str()),
        Some("debug-ab213243-5465-7687-98a9-bacbdcedfe0f.wasm")
    );
    write(&flat_file, &case.debug_file(&build_id));
    // ab/cdef….debug
    let tree = dir.path().join("tree");
    let tree_file = tree.join("ab").join("2132435465768798a9bacbdcedfe0f.debug");
    write(&tree_file, &case.debug_file(&build_id));

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    for (dirs, path, layout) in [
        (
            vec![empty.clone(), flat.clone()],
            &flat_file,
            DebugDirLayout::DebugIdWasm,
        ),
        (
            vec![empty.clone(), tree.clone()],
            &tree_file,
            DebugDirLayout::BuildIdTree,
        ),
    ] {
        let locator = dirs
            .into_iter()
            .fold(DebugInfoLocator::new(), DebugInfoLocator::with_debug_dir);
        let symbols = Symbolicator::open(&module_path, &locator).expect("symbolicator");
        assert_eq!(
            symbols.source(),
            &DebugInfoSource::DebugDir {
                path: path.clone(),
                layout
            }
        );
        case.assert_symbolicates(&symbols);
    }
}

#[test]
fn a_debug_file_with_another_build_id_is_refused() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let wanted = id(4);
    let module_path = dir.path().join("app.wasm");
    write(&module_path, &case.stripped(Some(&wanted), &[]));
    let debug_dir = dir.path().join("debug");
    write(
        &debug_dir.join(format!("debug-{wanted}.wasm")),
        &case.debug_file(&id(5)),
    );

    let err = Symbolicator::open(
        &module_path,
        &DebugInfoLocator::new().with_debug_dir(&debug_dir),
    )
    .expect_err("mismatch refused");
    assert!(
        matches!(&err, Error::BuildIdMismatch { expected, found: Some(found), .. }
        if *expected == wanted && *found == id(5))
    );
    let message = err.to_string();
    assert!(
        message.contains("refusing debug file") && message.contains(&id(5).to_string()),
        "{message}"
    );

    // Through external_debug_info too, and a debug file with no build id at
    // all is refused when found by build id.
    let module_path = dir.path().join("app2.wasm");
    write(&module_path, &case.stripped(Some(&wanted), &["other.wasm"]));
    write(&dir.path().join("other.wasm"), &case.debug_file(&id(6)));
    assert!(matches!(
        Symbolicator::open(&module_path, &DebugInfoLocator::new()),
        Err(Error::BuildIdMismatch { .. })
    ));
    write(
        &debug_dir.join(format!("debug-{wanted}.wasm")),
        &case.original,
    );
    let module_path = dir.path().join("app3.wasm");
    write(&module_path, &case.stripped(Some(&wanted), &[]));
    assert!(matches!(
        Symbolicator::open(
            &module_path,
            &DebugInfoLocator::new().with_debug_dir(&debug_dir)
        ),
        Err(Error::BuildIdMismatch { found: None, .. })
    ));
}

#[test]
fn a_refused_candidate_does_not_hide_a_good_one() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let wanted = id(7);
    let module_path = dir.path().join("app.wasm");
    write(&module_path, &case.stripped(Some(&wanted), &["stale.wasm"]));
    write(&dir.path().join("stale.wasm"), &case.debug_file(&id(8)));
    let debug_dir = dir.path().join("debug");
    write(
        &debug_dir.join(format!("debug-{wanted}.wasm")),
        &case.debug_file(&wanted),
    );
    let symbols = Symbolicator::open(
        &module_path,
        &DebugInfoLocator::new().with_debug_dir(&debug_dir),
    )
    .expect("symbolicator");
    assert!(matches!(symbols.source(), DebugInfoSource::DebugDir { .. }));
    assert!(
        symbols.warnings().iter().any(|w| w.contains("stale.wasm")),
        "{:?}",
        symbols.warnings()
    );
    case.assert_symbolicates(&symbols);
}

#[test]
fn nothing_found_falls_back_to_the_name_section() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let build_id = id(9);
    let module_path = dir.path().join("app.wasm");
    write(&module_path, &case.stripped(Some(&build_id), &[]));
    let debug_dir = dir.path().join("debug");
    std::fs::create_dir_all(&debug_dir).expect("mkdir");

    let symbols = Symbolicator::open(
        &module_path,
        &DebugInfoLocator::new().with_debug_dir(&debug_dir),
    )
    .expect("no debug info is not an error");
    let DebugInfoSource::NotFound(not_found) = symbols.source() else {
        panic!("unexpected source {}", symbols.source());
    };
    let message = symbols.source().to_string();
    assert!(
        message.starts_with("no DWARF debug info found for"),
        "{message}"
    );
    assert!(message.contains(&build_id.to_string()), "{message}");
    assert!(
        message.contains(&format!("debug-{build_id}.wasm")),
        "{message}"
    );
    assert!(
        message.contains("2132435465768798a9bacbdcedfe0f.debug"),
        "{message}"
    );
    assert!(message.contains("name` section"), "{message}");
    assert!(not_found.has_name_section);

    // One frame per location, named from the name section, without lines.
    let backtrace = case.backtrace(&symbols);
    assert_eq!(backtrace.len(), case.locations.len());
    let names: Vec<&str> = backtrace.iter().map(|f| f.function_name()).collect();
    assert_eq!(&names[..4], ["divide", "dispatch", "process", "run_mode"]);
    for frame in &backtrace {
        assert_eq!(
            frame.function.as_ref().map(|f| f.source),
            Some(NameSource::NameSection)
        );
        assert_eq!(
            (frame.file.as_deref(), frame.line, frame.inlined),
            (None, None, false)
        );
    }

    // With neither DWARF nor a build id, the message says there was nothing to go on.
    let bare = ModuleFile::from_bytes(case.stripped(None, &[]), None).expect("module");
    let symbols = Symbolicator::new(bare, &DebugInfoLocator::new()).expect("symbolicator");
    assert!(
        symbols.source().to_string().contains("no build id"),
        "{}",
        symbols.source()
    );
}

/// A fetcher serving one debug file from memory, recording what it was asked.
struct MemoryFetcher {
    file: Vec<u8>,
    asked: Arc<Mutex<Vec<Option<BuildId>>>>,
}

impl DebugFileFetcher for MemoryFetcher {
    fn describe(&self) -> String {
        "in-memory test fetcher".to_string()
    }

    fn fetch(
        &self,
        request: &FetchRequest<'_>,
    ) -> Result<Option<FetchedDebugFile>, Box<dyn std::error::Error + Send + Sync>> {
        self.asked
            .lock()
            .map_err(|e| e.to_string())?
            .push(request.build_id.cloned());
        Ok(Some(FetchedDebugFile {
            bytes: self.file.clone(),
            origin: "memory://debug".to_string(),
        }))
    }
}

#[test]
fn a_fetcher_is_asked_after_local_sources() {
    let case = case();
    let build_id = id(10);
    let module = ModuleFile::from_bytes(case.stripped(Some(&build_id), &[]), None).expect("module");
    let asked = Arc::new(Mutex::new(Vec::new()));
    let locator = DebugInfoLocator::new()
        .with_debug_dir(PathBuf::from("/nonexistent-debug-dir"))
        .with_fetcher(Box::new(MemoryFetcher {
            file: case.debug_file(&build_id),
            asked: asked.clone(),
        }));
    let symbols = Symbolicator::new(module, &locator).expect("symbolicator");
    assert_eq!(
        symbols.source(),
        &DebugInfoSource::Fetched {
            fetcher: "in-memory test fetcher".to_string(),
            origin: "memory://debug".to_string()
        }
    );
    assert_eq!(*asked.lock().expect("lock"), vec![Some(build_id)]);
    case.assert_symbolicates(&symbols);

    // What it returns is checked like a local file.
    let module = ModuleFile::from_bytes(case.stripped(Some(&id(11)), &[]), None).expect("module");
    let locator = DebugInfoLocator::new().with_fetcher(Box::new(MemoryFetcher {
        file: case.debug_file(&id(12)),
        asked: Arc::new(Mutex::new(Vec::new())),
    }));
    assert!(matches!(
        Symbolicator::new(module, &locator),
        Err(Error::BuildIdMismatch { .. })
    ));
}

#[test]
fn an_explicit_debug_file() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let build_id = id(13);
    let debug_path = dir.path().join("app.debug.wasm");
    write(&debug_path, &case.debug_file(&build_id));
    let module = ModuleFile::from_bytes(case.stripped(Some(&build_id), &[]), None).expect("module");
    let symbols = Symbolicator::with_debug_file(module, &debug_path).expect("symbolicator");
    assert!(matches!(symbols.source(), DebugInfoSource::Explicit { .. }));
    case.assert_symbolicates(&symbols);

    let module = ModuleFile::from_bytes(case.stripped(Some(&id(14)), &[]), None).expect("module");
    assert!(matches!(
        Symbolicator::with_debug_file(module, &debug_path),
        Err(Error::BuildIdMismatch { .. })
    ));
}

#[test]
fn local_external_paths_can_be_disabled() {
    let case = case();
    let dir = tempfile::tempdir().expect("tempdir");
    let build_id = id(15);
    let module_path = dir.path().join("app.wasm");
    write(
        &module_path,
        &case.stripped(Some(&build_id), &["app.debug.wasm"]),
    );
    write(
        &dir.path().join("app.debug.wasm"),
        &case.debug_file(&build_id),
    );
    let locator = DebugInfoLocator::new().ignore_external_debug_info_paths(true);
    let symbols = Symbolicator::open(&module_path, &locator).expect("symbolicator");
    assert!(!symbols.source().found(), "{}", symbols.source());
}
