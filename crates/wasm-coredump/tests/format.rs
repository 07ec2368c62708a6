//! Round trips, layout variants and malformed input for the core-dump reader and writer.

use wasm_coredump::*;

fn validate(bytes: &[u8]) {
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator
        .validate_all(bytes)
        .expect("writer output must validate");
}

fn sample_dump() -> CoreDump {
    let mut heap = Memory::new(MemoryLimits {
        pages: 2,
        maximum: Some(10),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    heap.write(0, b"\x01\x02\x03").unwrap();
    heap.write(70_000, &[0xAA; 300]).unwrap();
    heap.write(131_000, b"end of memory").unwrap();
    heap.exclude(100_000..110_000).unwrap();
    let mut wide = Memory::new(MemoryLimits {
        pages: 1,
        maximum: None,
        memory64: true,
        shared: false,
        page_size_log2: None,
    });
    wide.write(8, &42u64.to_le_bytes()).unwrap();

    let globals = vec![
        Global {
            ty: ValType::I32,
            mutable: true,
            value: Value::I32(65_536),
        },
        Global {
            ty: ValType::I64,
            mutable: false,
            value: Value::I64(-5),
        },
        Global {
            ty: ValType::F32,
            mutable: true,
            value: Value::F32(0x7fc0_0001),
        },
        Global {
            ty: ValType::F64,
            mutable: true,
            value: Value::F64(2.5f64.to_bits()),
        },
        Global {
            ty: ValType::V128,
            mutable: true,
            value: Value::V128(u128::MAX - 7),
        },
        Global {
            ty: ValType::Ref(RefKind::Func),
            mutable: true,
            value: Value::RefNull(RefKind::Func),
        },
        Global {
            ty: ValType::Ref(RefKind::Extern),
            mutable: false,
            value: Value::RefNull(RefKind::Extern),
        },
    ];
    CoreDump {
        executable_name: Some("app.wasm".into()),
        modules: vec![
            DumpedModule {
                name: "app".into(),
                build_id: Some(BuildId::new([7u8; 16])),
                path: Some("/srv/app.wasm".into()),
            },
            DumpedModule {
                name: "lib".into(),
                build_id: None,
                path: None,
            },
        ],
        instances: vec![
            Instance {
                module: 0,
                memories: vec![0, 1],
                globals: vec![0, 1, 2, 3],
            },
            Instance {
                module: 1,
                memories: vec![0],
                globals: vec![4, 5, 6],
            },
        ],
        threads: vec![
            Thread {
                name: "main".into(),
                frames: vec![
                    Frame {
                        instance: 0,
                        function: 12,
                        code_offset: 0x41,
                        locals: vec![
                            Value::I32(-1),
                            Value::I64(i64::MIN),
                            Value::F32(1.5f32.to_bits()),
                            Value::F64(f64::NAN.to_bits() | 3),
                            Value::Missing,
                        ],
                        stack: vec![Value::I32(10), Value::I32(0)],
                    },
                    Frame {
                        instance: 1,
                        function: 3,
                        code_offset: 7,
                        locals: vec![],
                        stack: vec![],
                    },
                ],
            },
            Thread {
                name: "worker".into(),
                frames: vec![],
            },
        ],
        memories: vec![heap, wide],
        globals,
        trap: Some(TrapInfo {
            kind: TrapKind::IntegerDivideByZero,
            message: "wasm trap: integer divide by zero".into(),
        }),
        info: vec![
            ("capture".into(), "test".into()),
            ("host".into(), "unit".into()),
        ],
    }
}

#[test]
fn full_model_round_trips_and_validates() {
    let dump = sample_dump();
    let bytes = dump.to_bytes();
    validate(&bytes);
    let read = CoreDump::parse(&bytes).unwrap();
    assert_eq!(read, dump);
    // Writing what was read gives the same bytes.
    assert_eq!(read.to_bytes(), bytes);
}

#[test]
fn memory_is_written_sparsely() {
    let mut memory = Memory::new(MemoryLimits::pages(1024)); // 64 MiB
    memory.write(1 << 20, &[1; 4096]).unwrap();
    memory.write(40 << 20, b"far away").unwrap();
    let dump = CoreDump {
        memories: vec![memory.clone()],
        ..CoreDump::default()
    };
    let bytes = dump.to_bytes();
    assert!(bytes.len() < 8192, "dump is {} bytes", bytes.len());
    let read = CoreDump::parse(&bytes).unwrap();
    let m = read.memory(0).unwrap();
    assert_eq!(m.size(), 64 << 20);
    assert_eq!(m.read(40 << 20, 8).unwrap(), b"far away");
    assert_eq!(m.read((1 << 20) - 2, 4).unwrap(), vec![0, 0, 1, 1]);
    assert_eq!(m.read(30 << 20, 3).unwrap(), vec![0, 0, 0]);
}

#[test]
fn zero_runs_inside_a_region_are_skipped() {
    let mut bytes = vec![0u8; 10_000];
    bytes[0] = 1;
    bytes[9_999] = 2;
    let memory = Memory::from_snapshot(MemoryLimits::pages(1), &bytes).unwrap();
    let file = CoreDump {
        memories: vec![memory],
        ..CoreDump::default()
    }
    .to_bytes();
    assert!(file.len() < 200, "{} bytes", file.len());
}

#[test]
fn many_scattered_bytes_stay_under_the_segment_limit() {
    // 300,000 isolated bytes would be 300,000 segments; the writer must merge.
    let pages = 300u64;
    let mut snapshot = vec![0u8; (pages * 65536) as usize];
    for i in (0..snapshot.len()).step_by(64) {
        snapshot[i] = 0x5a;
    }
    let memory = Memory::from_snapshot(MemoryLimits::pages(pages), &snapshot).unwrap();
    let bytes = CoreDump {
        memories: vec![memory],
        ..CoreDump::default()
    }
    .to_bytes();
    validate(&bytes);
    let read = CoreDump::parse(&bytes).unwrap();
    assert_eq!(
        read.memory(0).unwrap().read(0, snapshot.len()).unwrap(),
        snapshot
    );
}

/// Encodes a custom section by hand.
fn custom(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    append_custom_section(&mut module, name, payload);
    module
}

#[test]
fn older_frame_layout_without_instance_index_is_read() {
    // 0x0 name vec(0x0 funcidx codeoffset locals stack)
    let payload = [
        0x00, 4, b'm', b'a', b'i', b'n', 2, // two frames
        0x00, 5, 0x20, 1, 0x7f, 0x7b, 0, // func 5, offset 0x20, locals [i32 -5], stack []
        0x00, 9, 3, 0, 1, 0x01, // func 9, offset 3, locals [], stack [missing]
    ];
    let dump = CoreDump::parse(&custom("corestack", &payload)).unwrap();
    let frames = dump.main_frames();
    assert_eq!(dump.threads[0].name, "main");
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].function, frames[0].code_offset), (5, 0x20));
    assert_eq!(frames[0].locals, vec![Value::I32(-5)]);
    assert_eq!(
        (frames[1].function, frames[1].stack.clone()),
        (9, vec![Value::Missing])
    );
}

#[test]
fn current_layout_with_empty_locals_and_stack() {
    let payload = [0x00, 1, b't', 1, 0x00, 0, 17, 0x81, 0x01, 0, 0];
    let dump = CoreDump::parse(&custom("corestack", &payload)).unwrap();
    let frame = &dump.main_frames()[0];
    assert_eq!(
        (frame.instance, frame.function, frame.code_offset),
        (0, 17, 0x81)
    );
    assert!(frame.locals.is_empty() && frame.stack.is_empty());
}

fn parse_err(bytes: &[u8]) -> ParseError {
    match CoreDump::parse(bytes) {
        Err(err) => err,
        Ok(dump) => panic!("expected an error, parsed {dump:?}"),
    }
}

#[test]
fn malformed_sections_are_errors_with_offsets() {
    // A bad value tag in a frame: wasmparser's own KnownCustom would silently
    // call this section Unknown.
    let err = parse_err(&custom(
        "corestack",
        &[0x00, 1, b't', 1, 0x00, 0, 1, 1, 1, 0x42, 0],
    ));
    assert!(err.message.contains("CoreDumpValue"), "{err}");
    assert!(err.offset > 8);

    let err = parse_err(&custom("core", &[0x01, 1, b'x']));
    assert!(err.to_string().contains("at byte offset"), "{err}");

    let err = parse_err(&custom("postmortem.trap", &[0x00, 30, b'x']));
    assert!(err.offset >= 8, "{err}");

    let mut twice = custom("core", &[0, 1, b'a']);
    append_custom_section(&mut twice, "core", &[0, 1, b'b']);
    assert!(parse_err(&twice).message.contains("more than one"));

    assert!(parse_err(b"").message.contains("empty"));
    assert!(
        parse_err(b"\x7fELF\x02\x01\x01\0")
            .message
            .contains("magic")
    );
}

#[test]
fn cross_references_are_checked() {
    let mut dump = sample_dump();
    dump.threads[0].frames[0].instance = 9;
    assert!(parse_err(&dump.to_bytes()).message.contains("instance 9"));

    let mut dump = sample_dump();
    dump.instances[1].globals.push(99);
    assert!(parse_err(&dump.to_bytes()).message.contains("global 99"));

    let mut dump = sample_dump();
    dump.instances[0].module = 5;
    assert!(parse_err(&dump.to_bytes()).message.contains("module 5"));
}

#[test]
fn data_outside_memory_is_an_error() {
    // Memory of 1 page; a data segment at 65535 holding 2 bytes.
    let wat = r#"(module (memory 1) (data (i32.const 65535) "ab"))"#;
    let err = parse_err(&wat::parse_str(wat).unwrap());
    assert!(err.message.contains("bad data segment"), "{err}");
    let wat = r#"(module (memory 1) (data "passive"))"#;
    assert!(
        parse_err(&wat::parse_str(wat).unwrap())
            .message
            .contains("passive")
    );
}

#[test]
fn overlapping_segments_apply_in_order() {
    let wat = r#"(module (memory 1)
        (data (i32.const 10) "aaaaaa")
        (data (i32.const 12) "bb")
        (data (i32.const 100) "c"))"#;
    let dump = CoreDump::parse(&wat::parse_str(wat).unwrap()).unwrap();
    let memory = dump.memory(0).unwrap();
    assert_eq!(memory.read(10, 6).unwrap(), b"aabbaa");
    assert_eq!(memory.read_u8(100).unwrap(), b'c');
    assert_eq!(memory.regions().len(), 2);
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let bytes = sample_dump().to_bytes();
    // Prefixes ending exactly on a section boundary are valid (smaller) modules.
    let mut boundaries = vec![8];
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let Some((_, range)) = payload.unwrap().as_section() {
            boundaries.push(range.end);
        }
    }
    for len in 0..bytes.len() {
        let result = CoreDump::parse(&bytes[..len]);
        if !boundaries.contains(&len) {
            let err = result.expect_err(&format!("prefix of {len} bytes parsed"));
            assert!(err.offset <= bytes.len(), "{err}");
        }
    }
}

#[test]
fn random_corruption_never_panics() {
    let original = sample_dump().to_bytes();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut errors = 0;
    for _ in 0..5_000 {
        let mut bytes = original.clone();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        if CoreDump::parse(&bytes).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0);
}

#[test]
fn trap_kinds_keep_their_names() {
    for kind in TrapKind::ALL {
        assert_eq!(kind.as_str().parse::<TrapKind>().unwrap(), kind);
    }
    assert_eq!(
        "something-new".parse::<TrapKind>().unwrap(),
        TrapKind::Other("something-new".into())
    );
}

/// `fuzz/regressions/coredump_parse/` in the repository.
fn regressions_dir() -> std::path::PathBuf {
    crash_fixtures::repo_root().join("fuzz/regressions/coredump_parse")
}

/// Every input the fuzzer saved (`fuzz/regressions/coredump_parse/`) is an
/// error or a dump that survives a write and a second read unchanged.
#[test]
fn fuzz_regressions_parse_or_fail_cleanly() {
    let dir = regressions_dir();
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions directory") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        inputs += 1;
        if let Ok(dump) = CoreDump::parse(&bytes) {
            let again = CoreDump::parse(&dump.to_bytes()).expect("written dump parses");
            assert_eq!(again, dump, "{} does not round-trip", path.display());
        }
    }
    assert!(inputs > 0, "no regression inputs in {}", dir.display());
}

/// A global whose initialiser is not of its declared type is refused, with
/// the offset: it could not be written back as it was read.
#[test]
fn global_initialised_with_another_type_is_an_error() {
    let path = regressions_dir().join("global-f32-with-i32-init.core.wasm");
    let err = CoreDump::parse(&std::fs::read(path).expect("read")).expect_err("mismatched global");
    let message = err.to_string();
    assert!(message.contains("global of type f32"), "{message}");
}
