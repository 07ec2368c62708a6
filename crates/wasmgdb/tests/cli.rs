//! The real binary in batch mode (`--batch -ex …`), against the manifest,
//! and its behaviour on bad input: clear errors and a non-zero exit for bad
//! files, error messages (never panics) for bad commands.

mod common;

use common::{crash_cases, dumps, path_str, wasmgdb};
use crash_fixtures::function_name_matches;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `#N  0x… in NAME (…) at FILE:LINE` lines of a `bt`.
fn bt_frames(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.split_once(" in ").map_or_else(
                || {
                    l[1..]
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .trim()
                },
                |(_, r)| r,
            );
            let name = rest.split(" (").next()?.to_string();
            let at = l
                .rsplit_once(" at ")
                .map(|(_, a)| a.to_string())
                .unwrap_or_default();
            Some((name, at))
        })
        .collect()
}

#[test]
fn batch_bt_and_print_match_the_manifest() {
    let mut failures = Vec::new();
    for id in ["c-O0", "zig-Debug", "rust-debug", "demo"] {
        let program_dumps = dumps(id);
        let module = program_dumps.program.wasm_path();
        for (_, mode) in crash_cases(id) {
            let dump = &program_dumps.modes[&mode.mode].guest;
            // First pass: where the user frames start.
            let out = wasmgdb(&[
                "--batch",
                "-q",
                "-ex",
                "bt",
                path_str(&module),
                path_str(dump),
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
            let text = stdout(&out);
            let frames = bt_frames(&text);
            let Some(start) = frames
                .iter()
                .position(|(name, _)| function_name_matches(&mode.frames[0].function, name))
            else {
                failures.push(format!(
                    "{id} {}: no {} in\n{text}",
                    mode.mode, mode.frames[0].function
                ));
                continue;
            };
            for (i, want) in mode.frames.iter().enumerate() {
                let ok = frames.get(start + i).is_some_and(|(name, at)| {
                    function_name_matches(&want.function, name)
                        && *at == format!("{}:{}", want.file, want.line)
                });
                if !ok {
                    failures.push(format!(
                        "{id} {} frame {i}: want {} {}:{}\n{text}",
                        mode.mode, want.function, want.file, want.line
                    ));
                }
            }
            // Second pass: every variable, each after selecting its frame.
            let mut args: Vec<String> = vec!["--batch".into(), "-q".into()];
            for v in &mode.variables {
                args.push("-ex".into());
                args.push(format!("frame {}", start + v.frame));
                args.push("-ex".into());
                args.push(format!("p {}", v.expr));
            }
            args.push(path_str(&module).into());
            args.push(path_str(dump).into());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = wasmgdb(&refs);
            let text = stdout(&out);
            let values: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with('$'))
                .filter_map(|l| l.split_once(" = ").map(|(_, v)| v))
                .collect();
            for (i, v) in mode.variables.iter().enumerate() {
                let printed = values.get(i).copied().unwrap_or("<nothing printed>");
                if !common::value_matches(v, printed) {
                    failures.push(format!(
                        "{id} {} `p {}`: want {}, got {printed}\nstderr: {}",
                        mode.mode,
                        v.expr,
                        v.value,
                        stderr(&out)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn demo_walkthrough_prints_like_gdb() {
    let program_dumps = dumps("demo");
    let module = program_dumps.program.wasm_path();
    let dump = &program_dumps.modes["overflow"].guest;
    let out = wasmgdb(&[
        "--batch",
        "-ex",
        "bt",
        "-ex",
        "frame function app::order_total",
        "-ex",
        "up",
        "-ex",
        "down",
        "-ex",
        "p *item",
        "-ex",
        "p item->sku",
        "-ex",
        "p $1.quantity * 2",
        "-ex",
        "p/x index",
        "-ex",
        "ptype item",
        "-ex",
        "whatis index",
        "-ex",
        "info frame",
        "-ex",
        "list",
        "-ex",
        "info source",
        "-ex",
        "disassemble",
        "-ex",
        "info registers",
        "-ex",
        "x/4xw item",
        path_str(&module),
        path_str(dump),
    ]);
    let text = stdout(&out);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        text.contains("Core was generated by `demo.wasm'."),
        "{text}"
    );
    assert!(
        text.contains("Program terminated with wasm trap unreachable"),
        "{text}"
    );
    // The `frame 1` header line and its source line.
    assert!(
        text.lines().any(|l| l.starts_with("#10 0x")
            && l.contains(" in app::order_total (order=0x")
            && l.ends_with(" at app.rs:31")),
        "{text}"
    );
    assert!(
        text.contains("31\t        let line = line_total(item); // @line: demo-order-total"),
        "{text}"
    );
    // order_total has `item` = the third line item: sku LAMP-200, 250000 x 19999.
    assert!(
        text.contains(
            "$1 = app::LineItem {sku: \"LAMP-200\", quantity: 250000, unit_price_cents: 19999}"
        ) || text
            .contains("$1 = {sku = \"LAMP-200\", quantity = 250000, unit_price_cents = 19999}"),
        "{text}"
    );
    assert!(text.contains("$2 = \"LAMP-200\""), "{text}");
    assert!(text.contains("$3 = 500000"), "{text}");
    assert!(text.contains("$4 = 0x2"), "{text}");
    assert!(
        text.contains("type = struct LineItem {") || text.contains("type = struct app::LineItem {"),
        "{text}"
    );
    assert!(text.contains("type = usize"), "{text}");
    assert!(text.contains("Stack level 10"), "{text}");
    assert!(text.contains("Current source file is"), "{text}");
    assert!(
        text.contains("Dump of assembler code for function app::order_total"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("=> 0x") && l.contains("call")),
        "{text}"
    );
    assert!(text.contains("local0"), "{text}");
    // x/4xw on item: quantity (250000 = 0x3d090) and the price (19999 = 0x4e1f) follow the &str.
    assert!(text.contains("0x0003d090\t0x00004e1f"), "{text}");
}

#[test]
fn json_output_for_bt_locals_and_print() {
    let program_dumps = dumps("demo");
    let module = program_dumps.program.wasm_path();
    let dump = &program_dumps.modes["overflow"].guest;
    let out = wasmgdb(&[
        "--batch",
        "-q",
        "--json",
        "-ex",
        "bt",
        "-ex",
        "frame function app::line_total",
        "-ex",
        "info args",
        "-ex",
        "p item.quantity",
        path_str(&module),
        path_str(dump),
    ]);
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    let frames = lines[0]["frames"].as_array().expect("frames");
    let top = frames
        .iter()
        .find(|f| f["function"] == "app::line_total")
        .expect("line_total frame");
    assert_eq!(top["line"], 24);
    assert_eq!(
        lines[1]["selected"]["function"], "app::line_total",
        "{text}"
    );
    assert_eq!(lines[2]["args"][0]["name"], "item", "{text}");
    assert_eq!(lines[3]["value"], "250000", "{text}");
}

#[test]
fn bad_files_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program_dumps = dumps("c-O0");
    let module = program_dumps.program.wasm_path();
    let dump = &program_dumps.modes["abort"].guest;
    let bytes = std::fs::read(dump).expect("dump");

    let truncated = dir.path().join("truncated.core");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let out = wasmgdb(&[
        "--batch",
        "-ex",
        "bt",
        path_str(&module),
        path_str(&truncated),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a WebAssembly core dump"),
        "{}",
        stderr(&out)
    );

    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "not wasm at all").expect("write");
    let out = wasmgdb(&["--batch", path_str(&text_file), path_str(dump)]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a valid WebAssembly module"),
        "{}",
        stderr(&out)
    );

    let out = wasmgdb(&[
        "--batch",
        path_str(&module),
        path_str(&dir.path().join("missing.core")),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.core"), "{}", stderr(&out));

    // A module that is not the dump's: still no panic, frames just make no sense.
    let other = dumps("rust-debug").program.wasm_path();
    let out = wasmgdb(&[
        "--batch",
        "-ex",
        "bt",
        "-ex",
        "info locals",
        path_str(&other),
        path_str(dump),
    ]);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));

    // Every truncation of a dump is an error or a session, never a panic.
    for cut in (0..bytes.len()).step_by((bytes.len() / 200).max(1)) {
        let path = dir.path().join("cut.core");
        std::fs::write(&path, &bytes[..cut]).expect("write");
        let result = std::panic::catch_unwind(|| {
            if let Ok(mut s) = wasmgdb::Session::open(&module, &path, wasmgdb::Options::default()) {
                let mut out = String::new();
                let _ = s.execute("bt full", &mut out);
            }
        });
        assert!(result.is_ok(), "panic on a dump cut at {cut}");
    }
}

#[test]
fn garbage_commands_give_errors() {
    let program_dumps = dumps("c-O0");
    let module = program_dumps.program.wasm_path();
    let dump = &program_dumps.modes["divide-by-zero"].guest;
    let commands = [
        "down",
        "xyzzy",
        "p",
        "p 1 +",
        "p nosuchvar",
        "p ((",
        "p 1/0",
        "frame 99999",
        "frame -3",
        "up 100000",
        "x/100000000xb 0",
        "x/s 0xffffffff",
        "x/4xg 0xfffffffc",
        "x/2i 0",
        "info nothing",
        "info",
        "list 999999",
        "list nosuchfunction",
        "find 0, +16",
        "find 0xfffffff0, +1000, 1",
        "p (struct nosuch *)0",
        "frame 1",
        "p values[1000000000]",
        "p values[0]@100000",
        "p *(char (*)[100000000])0",
        "p $local99999",
        "p $stack5000",
        "p $global99",
        "p $999",
        "ptype struct nosuch",
        "info functions ((",
        "set var x = 1",
        "p 'x",
        "p \"unterminated",
        "p sizeof(int) * 3",
        "p/q 1",
        "p -2147483648 / -1",
        "p é + ℵ",
        "ℵ",
        "list 4294967295",
        "down -9223372036854775808",
        "bt -9223372036854775808",
        "p values[170141183460469231731687303715884105727]",
        "p (char *)values + 170141183460469231731687303715884105727",
        "x/99999999999999999999999xb 0",
        "find /99999 0, +0x100000000, 0",
        "output 1+1",
    ];
    let mut args: Vec<&str> = vec!["--batch"];
    for c in &commands {
        args.push("-ex");
        args.push(c);
    }
    args.push(path_str(&module));
    args.push(path_str(dump));
    let out = wasmgdb(&args);
    let err = stderr(&out);
    let text = stdout(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("Undefined command: \"xyzzy\".  Try \"help\"."),
        "{err}"
    );
    assert!(
        err.contains("No symbol \"nosuchvar\" in current context."),
        "{err}"
    );
    assert!(err.contains("No frame at level 99999."), "{err}");
    assert!(
        err.contains("Bottom (innermost) frame selected; you cannot go down."),
        "{err}"
    );
    assert!(
        err.contains("Cannot access memory at address 0x0")
            || text.contains("Cannot access memory"),
        "{err}"
    );
    assert!(err.contains("Division by zero"), "{err}");
    assert!(err.contains("Undefined info command: \"nothing\""), "{err}");
    assert!(text.contains("(output limited to 4096 units"), "{text}");
    assert!(err.contains("max-value-size"), "{err}");
    assert!(text.contains("$1 = 12"), "{text}");
}

#[test]
fn sources_follow_source_dir_and_substitute_path() {
    let program_dumps = dumps("demo");
    let dir = tempfile::tempdir().expect("tempdir");
    // Module and dump away from the sources, run from elsewhere.
    let module = dir.path().join("app.wasm");
    std::fs::copy(program_dumps.program.wasm_path(), &module).expect("copy module");
    let dump = &program_dumps.modes["overflow"].guest;
    let demo_dir = std::fs::canonicalize(crash_fixtures::demo_dir()).expect("demo dir");
    let repo = demo_dir.parent().expect("repo root").to_path_buf();
    let run = |extra: &[&str], commands: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wasmgdb"));
        cmd.current_dir(dir.path())
            .env("HOME", dir.path())
            .args(["--batch", "-q"])
            .args(extra);
        for c in commands {
            cmd.args(["-ex", c]);
        }
        cmd.arg(path_str(&module)).arg(path_str(dump));
        cmd.output().expect("runs")
    };
    let select = "frame function app::line_total";
    let out = run(&[], &[select, "list"]);
    assert!(
        stderr(&out).contains("No such file or directory"),
        "{}",
        stderr(&out)
    );

    let substitute = format!("set substitute-path ./demo {}", demo_dir.display());
    let out = run(&[], &[&substitute, select, "list", "info source"]);
    let text = stdout(&out);
    assert!(
        text.contains("24\t    item.quantity * item.unit_price_cents // @line: demo-multiply"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Located in {}", demo_dir.join("app.rs").display())),
        "{text}"
    );

    let out = run(
        &["--source-dir", path_str(&repo)],
        &[select, "list 20,22", "list line_total"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("23\tfn line_total(item: &LineItem) -> u32 {"),
        "{text}\n{}",
        stderr(&out)
    );
    assert!(
        text.contains("\n20\t}\n21\t\n22\t#[inline(never)]\n"),
        "{text}"
    );
}
