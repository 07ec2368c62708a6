//! The command line: exit codes, refusals, error messages, `verify`.

mod common;

use common::*;
use debuginfo_split::BuildId;
use wasm_coredump::ModuleLayout;

#[test]
fn already_split_input_exits_4_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    copy_in(&fixture("c/crash-O2.wasm"), dir.path(), "a.wasm");
    let out = run_str(&["a.wasm", "-o", "b.wasm"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = snapshot(dir.path());
    for args in [
        &["b.wasm"][..],
        &["b.wasm", "--in-place"],
        &["b.wasm", "-o", "c.wasm", "--debug-dir", "syms"],
    ] {
        let out = run_str(args, dir.path());
        assert_fails(&out, 4, "already split");
        assert!(stderr(&out).contains("already split"), "{}", stderr(&out));
        assert_eq!(snapshot(dir.path()), before, "{args:?}: files changed");
    }
}

#[test]
fn module_without_dwarf_exits_3_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The empty module, and a real program with its DWARF cut out by hand.
    std::fs::write(dir.path().join("empty.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let input = std::fs::read(fixture("zig/crash-Debug.wasm")).unwrap();
    let mut bare = input[..8].to_vec();
    for s in raw_sections(&input).into_iter().filter(|s| !s.is_dwarf()) {
        bare.extend_from_slice(&s.bytes);
    }
    validate(&bare, "module without DWARF");
    std::fs::write(dir.path().join("bare.wasm"), &bare).unwrap();
    let before = snapshot(dir.path());
    for name in ["empty.wasm", "bare.wasm"] {
        let out = run_str(&[name, "--json"], dir.path());
        assert_fails(&out, 3, name);
        assert!(stderr(&out).contains("no DWARF"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{name}: printed {}", stdout(&out));
        assert_eq!(snapshot(dir.path()), before, "{name}: files changed");
    }
}

#[test]
fn malformed_input_exits_1_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("rust/crash-debug.wasm")).unwrap();
    let sections = raw_sections(&good);
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty file".into(), vec![]),
        ("garbage".into(), b"this is not wasm at all".to_vec()),
        ("bad version".into(), b"\0asm\x02\0\0\0".to_vec()),
        ("component".into(), b"\0asm\x0d\0\x01\0".to_vec()),
        (
            "section size past the end".into(),
            b"\0asm\x01\0\0\0\x00\xff\x01\x04name".to_vec(),
        ),
        (
            "overlong LEB".into(),
            b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\xff\x0f".to_vec(),
        ),
    ];
    // Cut inside the header, inside a section header, inside the code
    // section, inside DWARF, and one byte short of the end.
    let code = sections.iter().find(|s| s.id == 10).unwrap();
    let dwarf = sections.iter().find(|s| s.is_dwarf()).unwrap();
    for cut in [
        5,
        9,
        code.payload.start - 1,
        code.payload.start + code.payload.len() / 2,
        dwarf.payload.start + 3,
        good.len() - 1,
    ] {
        cases.push((format!("truncated at {cut}"), good[..cut].to_vec()));
    }
    // Sections out of order: the Code section twice.
    let mut twice = good.clone();
    twice.extend_from_slice(&code.bytes);
    cases.push(("code section twice".into(), twice));

    for (what, bytes) in cases {
        std::fs::write(dir.path().join("bad.wasm"), &bytes).unwrap();
        let out = run_str(&["bad.wasm"], dir.path());
        assert_fails(&out, 1, &what);
        let err = stderr(&out);
        assert!(
            err.contains("bad.wasm"),
            "{what}: message does not name the file: {err}"
        );
        assert!(
            !dir.path().join("bad.stripped.wasm").exists(),
            "{what}: wrote an output"
        );
        // The library says the same, without panicking either.
        assert!(
            debuginfo_split::split(&bytes, &Default::default()).is_err(),
            "{what}"
        );
    }

    // The truncation message says so.
    std::fs::write(
        dir.path().join("cut.wasm"),
        &good[..code.payload.start + 10],
    )
    .unwrap();
    let err = stderr(&run_str(&["cut.wasm"], dir.path()));
    assert!(err.contains("truncated"), "{err}");

    // A missing file.
    let out = run_str(&["missing.wasm"], dir.path());
    assert_fails(&out, 1, "missing file");
    assert!(
        stderr(&out).contains("cannot read missing.wasm"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[][..],
        &["a.wasm", "--no-such-flag"],
        &["a.wasm", "-o", "x.wasm", "--in-place"],
        &["a.wasm", "-d", "x.wasm", "--debug-dir", "d"],
        &["verify", "only-one.wasm"],
    ] {
        let out = run_str(args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let help = stdout(&run_str(&["--help"], dir.path()));
    for needle in [
        "Exit codes",
        "already split",
        "no DWARF",
        "--in-place",
        "ab/cdef",
        "debug-<uuid>.wasm",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn the_input_is_only_overwritten_with_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_in(&fixture("c/crash-O0.wasm"), dir.path(), "app.wasm");
    let original = std::fs::read(&input).unwrap();

    // -o naming the input, or the input through another path, is refused.
    for out_path in ["app.wasm", "./app.wasm", "../app.wasm"] {
        let cwd = if out_path.starts_with("..") {
            std::fs::create_dir_all(dir.path().join("sub")).unwrap();
            dir.path().join("sub")
        } else {
            dir.path().to_path_buf()
        };
        let input_arg = if out_path.starts_with("..") {
            "../app.wasm"
        } else {
            "app.wasm"
        };
        let out = run_str(&[input_arg, "-o", out_path], &cwd);
        assert_fails(&out, 1, out_path);
        assert!(stderr(&out).contains("--in-place"), "{}", stderr(&out));
        assert_eq!(
            std::fs::read(&input).unwrap(),
            original,
            "{out_path}: input overwritten"
        );
    }
    // So is a debug file that would replace the input.
    let out = run_str(&["app.wasm", "-d", "app.wasm"], dir.path());
    assert_fails(&out, 1, "-d input");
    assert_eq!(std::fs::read(&input).unwrap(), original);
    let out = run_str(&["app.wasm", "-d", "app.wasm", "--in-place"], dir.path());
    assert_fails(&out, 1, "-d input --in-place");
    assert_eq!(std::fs::read(&input).unwrap(), original);
    // A plain run leaves the input alone.
    let out = run_str(&["app.wasm"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(&input).unwrap(), original);

    // --in-place replaces it, keeping its permissions, with the debug file next to it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let out = run_str(&["app.wasm", "--in-place", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let replaced = std::fs::read(&input).unwrap();
    assert_ne!(replaced, original);
    let layout = ModuleLayout::parse(&replaced).unwrap();
    assert!(!layout.has_dwarf());
    let debug_name = format!("debug-{}.wasm", json["build_id"].as_str().unwrap());
    assert_eq!(layout.external_debug_info(), Some(debug_name.as_str()));
    assert!(
        ModuleLayout::parse(&std::fs::read(dir.path().join(&debug_name)).unwrap())
            .unwrap()
            .has_dwarf()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&input).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "--in-place lost the input's permissions");
    }
    // No temporary files are left behind.
    let names: Vec<String> = snapshot(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn output_locations_and_urls() {
    let dir = tempfile::tempdir().unwrap();
    copy_in(&fixture("zig/crash-Debug.wasm"), dir.path(), "z.wasm");
    std::fs::create_dir_all(dir.path().join("dist")).unwrap();

    // --debug-dir: DIR/debug-<uuid>.wasm, created on demand; URL relative to the stripped module.
    let out = run_str(
        &[
            "z.wasm",
            "-o",
            "dist/z.wasm",
            "--debug-dir",
            "syms/wasm",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = json["build_id"].as_str().unwrap();
    let debug_rel = format!("syms/wasm/debug-{id}.wasm");
    assert!(dir.path().join(&debug_rel).is_file());
    assert_eq!(json["external_url"], format!("../{debug_rel}"));
    let stripped = std::fs::read(dir.path().join("dist/z.wasm")).unwrap();
    assert_eq!(
        ModuleLayout::parse(&stripped)
            .unwrap()
            .external_debug_info(),
        Some(format!("../{debug_rel}").as_str())
    );

    // -d: that exact file; --external-url with {build_id}.
    let out = run_str(
        &[
            "z.wasm",
            "-o",
            "dist/z2.wasm",
            "-d",
            "z.debug.wasm",
            "--external-url",
            "https://symbols.example.com/{build_id}/z.wasm",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["debug_file"], "z.debug.wasm");
    let url = format!("https://symbols.example.com/{id}/z.wasm");
    assert_eq!(json["external_url"], url.as_str());
    let stripped = std::fs::read(dir.path().join("dist/z2.wasm")).unwrap();
    assert_eq!(
        ModuleLayout::parse(&stripped)
            .unwrap()
            .external_debug_info(),
        Some(url.as_str())
    );
    assert!(dir.path().join("z.debug.wasm").is_file());

    // Text output names the id and both files.
    let out = run_str(&["z.wasm"], dir.path());
    let text = stdout(&out);
    assert!(
        text.contains(id) && text.contains("z.stripped.wasm"),
        "{text}"
    );
    assert!(text.contains(&format!("debug-{id}.wasm")), "{text}");

    // The gdb-style tree path that debuggers will also search.
    let tree = debuginfo_split::build_id_tree_path("syms".as_ref(), &BuildId::parse(id).unwrap());
    let hex = id.replace('-', "");
    assert_eq!(
        tree,
        std::path::Path::new("syms")
            .join(&hex[..2])
            .join(format!("{}.debug", &hex[2..]))
    );
}

#[test]
fn verify_matches_and_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    copy_in(&fixture("c/crash-O0.wasm"), dir.path(), "a.wasm");
    copy_in(&fixture("c/crash-O2.wasm"), dir.path(), "b.wasm");
    let split = |name: &str, debug: &str| {
        let out = run_str(&[name, "-d", debug], dir.path());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    split("a.wasm", "a.debug.wasm");
    split("b.wasm", "b.debug.wasm");

    let out = run_str(&["verify", "a.stripped.wasm", "a.debug.wasm"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok:"), "{}", stdout(&out));

    let out = run_str(
        &["verify", "a.stripped.wasm", "a.debug.wasm", "--json"],
        dir.path(),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["matches"], true);

    // Another program's debug file: different id and code.
    let out = run_str(&["verify", "a.stripped.wasm", "b.debug.wasm"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("do not belong together"), "{err}");
    assert!(
        err.contains("build ids differ") && err.contains("Code sections differ"),
        "{err}"
    );

    // Same id forced onto a different module: caught by the code comparison.
    let forced = "abababababababababababababababab";
    let out = run_str(
        &[
            "a.wasm",
            "-o",
            "fa.wasm",
            "-d",
            "fa.debug.wasm",
            "--build-id",
            forced,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run_str(
        &[
            "b.wasm",
            "-o",
            "fb.wasm",
            "-d",
            "fb.debug.wasm",
            "--build-id",
            forced,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run_str(
        &["verify", "fa.wasm", "fb.debug.wasm", "--json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["matches"], false);
    assert_eq!(json["mismatches"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["mismatches"][0]["kind"], "code-differs");

    // Same code, different id.
    let out = run_str(&["verify", "fa.wasm", "a.debug.wasm"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("build ids differ"),
        "{}",
        stderr(&out)
    );

    // The original module has no build id at all.
    let out = run_str(&["verify", "a.stripped.wasm", "a.wasm"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no build_id"), "{}", stderr(&out));

    // Unreadable input is an error, also exit 1.
    let out = run_str(&["verify", "a.stripped.wasm", "nope.wasm"], dir.path());
    assert_fails(&out, 1, "verify missing");
}
