//! A dump written by a module instrumented with coredump-rewrite: offsets
//! are in the input module's coordinates, so wasmgdb, given the rewritten
//! module, must read code and DWARF from the input's debug file, found by
//! the build id the rewritten module keeps (`--debug-dir`). Every local is
//! in such a dump.

mod common;

use common::{demo, path_str, value_matches, wasmgdb};
use coredump_host::{Host, HostOptions, RunRequest};
use crash_fixtures::function_name_matches;
use wasm_coredump::{BUILD_ID_SECTION, BuildId, append_custom_section};

#[test]
fn rewritten_module_dump_symbolicates_through_the_debug_dir() {
    let program = demo().programs.first().expect("demo");
    let mode = program.modes.first().expect("overflow mode");
    let dir = tempfile::tempdir().expect("tempdir");

    // The input: the demo with a build id; it doubles as its own debug file.
    let mut input = program.wasm_bytes().expect("demo module");
    let id = BuildId::new(vec![0x5a; 16]);
    append_custom_section(&mut input, BUILD_ID_SECTION, &id.to_section_payload());
    let debug_dir = dir.path().join("debug");
    std::fs::create_dir_all(&debug_dir).expect("mkdir");
    std::fs::write(debug_dir.join(format!("debug-{id}.wasm")), &input).expect("write debug file");

    let rewritten = coredump_rewrite::rewrite(&input, &coredump_rewrite::Options::default())
        .expect("rewrites")
        .wasm;
    let module = dir.path().join("app.rewritten.wasm");
    std::fs::write(&module, &rewritten).expect("write module");

    let host = Host::new(HostOptions::default()).expect("host");
    let outcome = host
        .run(&RunRequest {
            args: mode.args.clone(),
            ..RunRequest::new("app.rewritten.wasm", rewritten)
        })
        .expect("runs");
    let dump = outcome
        .crash
        .and_then(|c| c.dump)
        .expect("the rewritten module dumps itself");
    assert!(
        dump.main_frames().iter().any(|f| !f.locals.is_empty()),
        "rewriter dumps carry locals"
    );
    let core = dir.path().join("app.core");
    std::fs::write(&core, dump.to_bytes()).expect("write dump");

    let mut args = vec![
        "--batch",
        "-q",
        "--debug-dir",
        path_str(&debug_dir),
        "-ex",
        "bt",
    ];
    let selects: Vec<String> = mode
        .variables
        .iter()
        .flat_map(|v| {
            let function = &mode.frames[v.frame].function;
            [
                format!("frame function {function}"),
                format!("p {}", v.expr),
            ]
        })
        .collect();
    for s in &selects {
        args.push("-ex");
        args.push(s);
    }
    args.push(path_str(&module));
    args.push(path_str(&core));
    let out = wasmgdb(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("instrumented by coredump-rewrite"), "{err}");
    // The backtrace: the manifest's frames, in order, with file:line.
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    let start = lines
        .iter()
        .position(|l| l.contains(&format!(" {} (", mode.frames[0].function)))
        .unwrap_or_else(|| panic!("no {} in\n{text}", mode.frames[0].function));
    for (i, want) in mode.frames.iter().enumerate() {
        let line = lines.get(start + i).copied().unwrap_or("");
        let name = line
            .split(" in ")
            .nth(1)
            .and_then(|r| r.split(" (").next())
            .unwrap_or("");
        assert!(
            function_name_matches(&want.function, name)
                && line.ends_with(&format!(" at {}:{}", want.file, want.line)),
            "frame {i}: want {} {}:{}\n{text}",
            want.function,
            want.file,
            want.line
        );
    }
    let values: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('$'))
        .filter_map(|l| l.split_once(" = ").map(|(_, v)| v))
        .collect();
    assert_eq!(values.len(), mode.variables.len(), "{text}\n{err}");
    for (v, printed) in mode.variables.iter().zip(values) {
        assert!(
            value_matches(v, printed),
            "p {}: want {}, got {printed}",
            v.expr,
            v.value
        );
    }
}
