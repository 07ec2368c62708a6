//! Static checks of the manifests against the committed modules and sources.

use std::collections::{BTreeSet, HashSet};

use crash_fixtures::{Language, Manifest, Program, TrapKind};

fn manifests() -> Vec<Manifest> {
    vec![
        Manifest::load().expect("fixtures/manifest.json loads"),
        Manifest::load_demo().expect("demo/expected.json loads"),
    ]
}

const REQUIRED_MODES: &[&str] = &[
    "abort",
    "unreachable",
    "divide-by-zero",
    "integer-overflow",
    "out-of-bounds",
    "null-function-pointer",
    "stack-overflow",
    "float-to-int",
    "ok",
];

#[test]
fn manifest_covers_every_language_build_and_mode() {
    let manifest = Manifest::load().expect("manifest loads");
    let ids: Vec<&str> = manifest.programs.iter().map(|p| p.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "program ids are unique: {ids:?}");
    for language in [Language::C, Language::Zig, Language::Rust] {
        let builds: Vec<&Program> = manifest
            .programs
            .iter()
            .filter(|p| p.language == language)
            .collect();
        assert_eq!(
            builds.len(),
            2,
            "{language:?} has a debug and an optimised build"
        );
        assert!(builds.iter().any(|p| p.optimized) && builds.iter().any(|p| !p.optimized));
    }
    for program in &manifest.programs {
        let names: BTreeSet<&str> = program.modes.iter().map(|m| m.mode.as_str()).collect();
        assert_eq!(
            names.len(),
            program.modes.len(),
            "{}: mode names are unique",
            program.id
        );
        for required in REQUIRED_MODES {
            assert!(
                names.contains(required),
                "{}: mode {required} missing",
                program.id
            );
        }
        if program.language == Language::Rust {
            assert!(
                names.contains("unwrap-none"),
                "{}: mode unwrap-none missing",
                program.id
            );
        }
    }
}

#[test]
fn modes_are_well_formed() {
    for manifest in manifests() {
        for (program, mode) in manifest.cases() {
            let what = format!("{} {}", program.id, mode.mode);
            match mode.trap {
                Some(_) => {
                    assert_eq!(
                        mode.exit_code, None,
                        "{what}: a trapping mode has no exit code"
                    );
                    assert!(mode.frames.len() >= 4, "{what}: at least 4 frames");
                    assert!(mode.variables.len() >= 3, "{what}: at least 3 variables");
                    let frames: HashSet<usize> = mode.variables.iter().map(|v| v.frame).collect();
                    assert!(
                        frames.len() >= 2,
                        "{what}: variables spread over at least 2 frames"
                    );
                }
                None => {
                    assert!(
                        mode.exit_code.is_some(),
                        "{what}: a non-trapping mode has an exit code"
                    );
                    assert!(
                        mode.frames.is_empty() && mode.variables.is_empty(),
                        "{what}"
                    );
                }
            }
            if mode.mode == "ok" {
                assert_eq!(mode.trap, None, "{what}");
                assert_eq!(mode.exit_code, Some(0), "{what}");
                assert!(
                    mode.stdout.as_deref().is_some_and(|s| !s.is_empty()),
                    "{what}: stdout recorded"
                );
            }
            for v in &mode.variables {
                assert!(
                    v.frame < mode.frames.len(),
                    "{what}: variable {} frame {} out of range",
                    v.expr,
                    v.frame
                );
                assert!(
                    !v.expr.trim().is_empty() && !v.value.trim().is_empty(),
                    "{what}: {v:?}"
                );
                if v.kind.as_deref() == Some("string") {
                    assert!(
                        v.string_contents().is_some(),
                        "{what}: {} is a quoted string",
                        v.value
                    );
                }
                if v.may_be_optimized_out {
                    assert!(
                        program.optimized,
                        "{what}: only optimised builds may lose {}",
                        v.expr
                    );
                }
            }
        }
    }
}

#[test]
fn every_module_exists_and_validates() {
    for manifest in manifests() {
        for program in &manifest.programs {
            let bytes = program
                .wasm_bytes()
                .unwrap_or_else(|e| panic!("{}: {e}", program.id));
            assert!(
                bytes.starts_with(b"\0asm"),
                "{}: not a Wasm module",
                program.id
            );
            program
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", program.id));
            // Built with DWARF.
            let has_dwarf = wasmparser::Parser::new(0).parse_all(&bytes).any(|payload| {
                matches!(payload, Ok(wasmparser::Payload::CustomSection(c)) if c.name() == ".debug_info")
            });
            assert!(has_dwarf, "{}: no .debug_info section", program.id);
        }
    }
}

/// Finds the line of each function definition in a source file, for the
/// function names a debugger shows. Returns (line, source-level name) pairs.
fn definitions(program: &Program, text: &str) -> Vec<(u32, String)> {
    let stem = program
        .source_file_name()
        .rsplit_once('.')
        .map_or("", |(s, _)| s)
        .to_owned();
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).expect("line number fits in u32");
        let name = match program.language {
            Language::C => c_definition(line),
            Language::Rust => keyword_definition(line, &["fn "]).map(|n| format!("{stem}::{n}")),
            Language::Zig => keyword_definition(line, &["fn "]).map(|n| format!("{stem}.{n}")),
        };
        if let Some(name) = name {
            out.push((number, name));
        }
    }
    out
}

/// A C function definition starts in column 0 with a type and has the
/// parameter list's opening parenthesis on that line, with no `;` after it.
fn c_definition(line: &str) -> Option<String> {
    let first = line.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') || line.trim_end().ends_with(';') {
        return None;
    }
    if line.starts_with("typedef") {
        return None;
    }
    let open = line.find('(')?;
    let before = line[..open].trim_end();
    let name: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // `NOINLINE int divide(` has a return type before the name.
    (!name.is_empty() && before.len() > name.len()).then_some(name)
}

/// `fn NAME` (Rust, Zig), possibly after `pub`, `noinline`, `inline`, `export`.
fn keyword_definition(line: &str, keywords: &[&str]) -> Option<String> {
    let code = line.split("//").next().unwrap_or("");
    for keyword in keywords {
        if let Some(pos) = code.find(keyword) {
            let prefix = code[..pos].trim();
            let allowed = [
                "",
                "pub",
                "noinline",
                "pub noinline",
                "inline",
                "export",
                "pub inline",
            ];
            if !allowed.contains(&prefix) {
                continue;
            }
            let rest = &code[pos + keyword.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    None
}

#[test]
fn frames_point_into_the_named_functions() {
    for manifest in manifests() {
        for program in &manifest.programs {
            let text = program
                .source_text()
                .unwrap_or_else(|e| panic!("{}: {e}", program.id));
            let lines: Vec<&str> = text.lines().collect();
            let defs = definitions(program, &text);
            assert!(
                !defs.is_empty(),
                "{}: no function definitions found",
                program.id
            );
            for mode in &program.modes {
                for (i, frame) in mode.frames.iter().enumerate() {
                    let what = format!(
                        "{} {} frame {i} ({} {}:{})",
                        program.id, mode.mode, frame.function, frame.file, frame.line
                    );
                    assert_eq!(frame.file, program.source_file_name(), "{what}: file");
                    assert!(
                        !frame.function.contains("::h"),
                        "{what}: no hash in expected names"
                    );
                    let index = usize::try_from(frame.line).expect("line fits in usize");
                    assert!(
                        index >= 1 && index <= lines.len(),
                        "{what}: line beyond the file's {} lines",
                        lines.len()
                    );
                    let source_line = lines[index - 1];
                    assert!(!source_line.trim().is_empty(), "{what}: blank line");
                    assert!(
                        defs.iter().any(|(_, name)| name == &frame.function),
                        "{what}: {} is not defined in {}",
                        frame.function,
                        program.source
                    );
                    // The line lies in the named function: the closest
                    // definition at or above it is that function's.
                    let enclosing = defs.iter().rev().find(|(line, _)| *line <= frame.line);
                    assert_eq!(
                        enclosing.map(|(_, name)| name.as_str()),
                        Some(frame.function.as_str()),
                        "{what}: line {} ({:?}) is not inside {}",
                        frame.line,
                        source_line.trim(),
                        frame.function
                    );
                }
            }
        }
    }
}

#[test]
fn trap_kinds_are_consistent_across_builds_where_the_language_guarantees_it() {
    // Rust and Zig turn arithmetic faults into panics at every optimisation
    // level; C traps natively.
    let manifest = Manifest::load().expect("manifest loads");
    for program in &manifest.programs {
        let trap = |name: &str| program.mode(name).and_then(|m| m.trap.clone());
        match program.language {
            Language::C => {
                assert_eq!(
                    trap("divide-by-zero"),
                    Some(TrapKind::IntegerDivideByZero),
                    "{}",
                    program.id
                );
                assert_eq!(
                    trap("integer-overflow"),
                    Some(TrapKind::IntegerOverflow),
                    "{}",
                    program.id
                );
                assert_eq!(
                    trap("float-to-int"),
                    Some(TrapKind::IntegerOverflow),
                    "{}",
                    program.id
                );
            }
            Language::Zig | Language::Rust => {
                assert_eq!(
                    trap("divide-by-zero"),
                    Some(TrapKind::Unreachable),
                    "{}",
                    program.id
                );
                assert_eq!(
                    trap("integer-overflow"),
                    Some(TrapKind::Unreachable),
                    "{}",
                    program.id
                );
            }
        }
        assert_eq!(trap("abort"), Some(TrapKind::Unreachable), "{}", program.id);
        assert_eq!(
            trap("unreachable"),
            Some(TrapKind::Unreachable),
            "{}",
            program.id
        );
        assert_eq!(
            trap("out-of-bounds"),
            Some(TrapKind::MemoryOutOfBounds),
            "{}",
            program.id
        );
        assert_eq!(
            trap("null-function-pointer"),
            Some(TrapKind::IndirectCallToNull),
            "{}",
            program.id
        );
    }
}
