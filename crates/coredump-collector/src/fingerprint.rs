//! Grouping: which frames are the application's own ("in-app"), and the
//! versioned fingerprint that puts dumps of the same crash in one group.
//!
//! # In-app frames
//!
//! A symbolicated source location is **in-app** when DWARF gives it a source
//! file and that file is not under a toolchain, standard-library or libc
//! path ([`is_toolchain_path`]): Rust's `/rustc/<hash>/library/…`, crates
//! from `~/.cargo/registry` or `~/.cargo/git`, Zig's `lib/std`, wasi-libc,
//! compiler-rt, emscripten's `system/lib`, `/usr/include`, `/usr/lib`, the
//! wasi-sdk sysroot. Locations with no file (code built without debug info,
//! such as a prebuilt libc) are not in-app. Unsymbolicated frames (no debug
//! file yet) are treated as in-app, since nothing says otherwise.
//!
//! # Fingerprint, version 1
//!
//! The fingerprint text is
//!
//! ```text
//! v1
//! trap:<trap kind>
//! <key of frame 1>
//! …
//! ```
//!
//! over at most [`MAX_FRAMES`] frames: the in-app ones when the stack has
//! any, else all of them. A symbolicated frame's key is its function names
//! (innermost inlined first, joined by ` < `) — names, not lines, so that an
//! unrelated edit that shifts lines keeps the group. An unsymbolicated frame's
//! key is `<build id or module name>#<function index>`. The group id is the
//! first 32 hex digits of the text's SHA-256. Changing any rule here must
//! bump [`FINGERPRINT_VERSION`], which starts new groups instead of silently
//! mixing old and new ones.

use sha2::{Digest, Sha256};

use crate::model::{StackFrame, StackTrace};

/// The version of the fingerprint rules, written into every fingerprint.
pub const FINGERPRINT_VERSION: i64 = 1;

/// How many frames the fingerprint looks at.
pub const MAX_FRAMES: usize = 5;

/// Path fragments of toolchain, standard-library and libc sources.
const TOOLCHAIN_FRAGMENTS: &[&str] = &[
    "/rustc/",
    "/.cargo/registry/",
    "/.cargo/git/",
    "/.rustup/",
    "library/std/src/",
    "library/core/src/",
    "library/alloc/src/",
    "library/panic_abort/",
    "library/panic_unwind/",
    "/lib/std/",
    "/zig/lib/",
    "wasi-libc",
    "libc-top-half",
    "libc-bottom-half",
    "wasi-sysroot",
    "wasi-sdk",
    "compiler-rt",
    "/emsdk/",
    "system/lib/",
    "/usr/include/",
    "/usr/lib/",
    "/usr/local/include/",
];

/// Whether a DWARF source path belongs to a toolchain, std or libc.
pub fn is_toolchain_path(path: &str) -> bool {
    let normalized = path.replace('\\', "/");
    let padded = format!("/{normalized}");
    TOOLCHAIN_FRAGMENTS.iter().any(|f| padded.contains(f))
}

/// Whether a location with this file is in-app (see the module docs).
pub fn is_in_app(file: Option<&str>) -> bool {
    match file {
        Some(file) if !file.is_empty() => !is_toolchain_path(file),
        _ => false,
    }
}

/// The grouping facts of one dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The hashed text (see the module docs).
    pub text: String,
    /// First 32 hex digits of SHA-256(text).
    pub group_id: String,
    /// `trap kind in top frame`, for lists.
    pub title: String,
    /// The first frame the fingerprint used.
    pub top_frame: String,
}

fn frame_key(frame: &StackFrame) -> String {
    if frame.symbolicated && frame.locations.iter().any(|l| l.function.is_some()) {
        frame
            .locations
            .iter()
            .map(|l| l.function.clone().unwrap_or_else(|| "??".to_string()))
            .collect::<Vec<_>>()
            .join(" < ")
    } else {
        let module = frame
            .build_id
            .clone()
            .or_else(|| frame.module_name.clone())
            .unwrap_or_else(|| format!("module{}", frame.module.unwrap_or(0)));
        format!("{module}#{}", frame.function_index)
    }
}

/// Whether a frame counts for grouping when the stack has in-app frames.
fn counts_as_in_app(frame: &StackFrame) -> bool {
    !frame.symbolicated || frame.in_app()
}

/// Computes the fingerprint of a stack.
pub fn fingerprint(trap_kind: &str, stack: &StackTrace) -> Fingerprint {
    let any_symbolicated_in_app = stack.frames.iter().any(|f| f.symbolicated && f.in_app());
    let chosen: Vec<&StackFrame> = if any_symbolicated_in_app {
        stack
            .frames
            .iter()
            .filter(|f| counts_as_in_app(f))
            .take(MAX_FRAMES)
            .collect()
    } else {
        stack.frames.iter().take(MAX_FRAMES).collect()
    };
    let mut text = format!("v{FINGERPRINT_VERSION}\ntrap:{trap_kind}\n");
    for frame in &chosen {
        text.push_str(&frame_key(frame));
        text.push('\n');
    }
    let digest = Sha256::digest(text.as_bytes());
    let group_id: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let top_frame = chosen
        .first()
        .map(|f| top_frame_label(f))
        .unwrap_or_else(|| "(no frames)".to_string());
    let title = format!(
        "{trap_kind} in {}",
        chosen
            .first()
            .map_or("(no frames)".to_string(), |f| f.function_name())
    );
    Fingerprint {
        text,
        group_id,
        title,
        top_frame,
    }
}

/// The frame a dump is named after: the first frame the fingerprint uses
/// (the first in-app frame when the stack has one, else the first frame).
pub fn headline_frame(stack: &StackTrace) -> Option<&StackFrame> {
    let any_symbolicated_in_app = stack.frames.iter().any(|f| f.symbolicated && f.in_app());
    if any_symbolicated_in_app {
        stack.frames.iter().find(|f| counts_as_in_app(f))
    } else {
        stack.frames.first()
    }
}

/// `function (file:line)` of a frame's outermost location, or `func[N]`.
pub fn top_frame_label(frame: &StackFrame) -> String {
    match frame.locations.last() {
        Some(location) => {
            let name = location
                .function
                .clone()
                .unwrap_or_else(|| format!("func[{}]", frame.function_index));
            match (&location.file, location.line) {
                (Some(file), Some(line)) => {
                    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
                    format!("{name} ({base}:{line})")
                }
                _ => name,
            }
        }
        None => format!("func[{}]", frame.function_index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SourceLocation, SymbolicationState};

    fn frame(index: usize, function: u32, names: &[(&str, Option<&str>)]) -> StackFrame {
        StackFrame {
            index,
            instance: 0,
            module: Some(0),
            module_name: Some("app.wasm".into()),
            build_id: Some("abcd".into()),
            function_index: function,
            code_offset: 10,
            symbolicated: !names.is_empty(),
            locations: names
                .iter()
                .map(|(name, file)| SourceLocation {
                    function: Some(name.to_string()),
                    linkage_name: None,
                    file: file.map(str::to_string),
                    line: Some(3),
                    column: None,
                    inlined: false,
                    in_app: is_in_app(*file),
                })
                .collect(),
            note: None,
        }
    }

    fn stack(frames: Vec<StackFrame>) -> StackTrace {
        StackTrace {
            thread: "main".into(),
            frames,
            state: SymbolicationState::Complete,
            missing_build_ids: vec![],
        }
    }

    #[test]
    fn toolchain_paths() {
        assert!(is_toolchain_path(
            "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs"
        ));
        assert!(is_toolchain_path(
            "/home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/serde-1.0/src/de.rs"
        ));
        assert!(is_toolchain_path("/opt/zig/lib/std/debug.zig"));
        assert!(is_toolchain_path(
            "wasi-libc/libc-top-half/musl/src/exit/abort.c"
        ));
        assert!(!is_toolchain_path("./fixtures/c/crash.c"));
        assert!(!is_toolchain_path("/src/app/src/main.rs"));
        assert!(!is_in_app(None));
    }

    #[test]
    fn runtime_frames_are_skipped_and_lines_do_not_matter() {
        let a = stack(vec![
            frame(0, 1, &[("abort", None)]),
            frame(
                1,
                7,
                &[(
                    "core::panicking::panic",
                    Some("/rustc/x/library/core/src/panicking.rs"),
                )],
            ),
            frame(2, 9, &[("app::line_total", Some("app.rs"))]),
            frame(3, 10, &[("app::main", Some("app.rs"))]),
        ]);
        let fp = fingerprint("unreachable", &a);
        assert_eq!(
            fp.text,
            "v1\ntrap:unreachable\napp::line_total\napp::main\n"
        );
        assert_eq!(fp.group_id.len(), 32);
        assert_eq!(fp.title, "unreachable in app::line_total");
        let mut b = a.clone();
        b.frames[2].locations[0].line = Some(99);
        b.frames[2].code_offset = 77;
        assert_eq!(fingerprint("unreachable", &b).group_id, fp.group_id);
        assert_ne!(
            fingerprint("integer-divide-by-zero", &a).group_id,
            fp.group_id
        );
    }

    #[test]
    fn unsymbolicated_frames_use_indices() {
        let s = stack(vec![frame(0, 12, &[]), frame(1, 13, &[])]);
        let fp = fingerprint("unreachable", &s);
        assert_eq!(fp.text, "v1\ntrap:unreachable\nabcd#12\nabcd#13\n");
        assert_eq!(fp.top_frame, "func[12]");
    }

    #[test]
    fn no_in_app_frames_falls_back_to_all() {
        let s = stack(vec![
            frame(0, 1, &[("abort", None)]),
            frame(1, 2, &[("_start", None)]),
        ]);
        assert_eq!(
            fingerprint("unreachable", &s).text,
            "v1\ntrap:unreachable\nabort\n_start\n"
        );
    }
}
