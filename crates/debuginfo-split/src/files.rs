//! File-level operations: default paths, atomic writes, the split and verify commands.

use std::fs::{self, File, Permissions};
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use wasm_coredump::BuildId;

use crate::Error;
use crate::module::Module;
use crate::split::{BuildIdSource, Output, debug_file_name, expand_url_template};
use crate::verify::{Verification, Which, verify};

/// Where the debug file goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DebugOutput {
    /// `debug-<uuid>.wasm` next to the stripped module.
    #[default]
    NextToStripped,
    /// This exact path (`-d`).
    File(PathBuf),
    /// `DIR/debug-<uuid>.wasm` (`--debug-dir`); `DIR` is created if missing.
    Dir(PathBuf),
}

/// The options of [`split_file`].
#[derive(Debug, Clone, Default)]
pub struct SplitFileOptions {
    /// The module to split.
    pub input: PathBuf,
    /// The stripped module's path; default [`default_stripped_path`] (or the
    /// input itself with `in_place`).
    pub output: Option<PathBuf>,
    pub debug_output: DebugOutput,
    /// Use this build id instead of the existing or derived one.
    pub build_id: Option<BuildId>,
    /// Remove the `name` section from the stripped module too.
    pub strip_names: bool,
    /// The `external_debug_info` URL (`{build_id}` is expanded); default:
    /// the debug file's path relative to the stripped module's directory.
    pub external_url: Option<String>,
    /// Replace the input with the stripped module.
    pub in_place: bool,
    /// `fsync` both outputs and their directories before returning.
    pub sync: bool,
}

/// What [`split_file`] did; `--json` prints this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitReport {
    /// The build id, as a hyphenated UUID (or hex when it is not 16 bytes).
    pub build_id: String,
    /// `existing`, `derived` or `override`.
    pub build_id_source: BuildIdSource,
    pub input: PathBuf,
    pub stripped: PathBuf,
    pub debug_file: PathBuf,
    /// The URL written to the stripped module's `external_debug_info`.
    pub external_url: String,
    pub sizes: Sizes,
    /// The DWARF sections moved out, in file order.
    pub dwarf_sections: Vec<String>,
}

/// Sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sizes {
    pub input: u64,
    pub stripped: u64,
    pub debug_file: u64,
    /// The removed DWARF sections, section headers included.
    pub dwarf: u64,
}

/// `app.wasm` -> `app.stripped.wasm` (next to the input); a name without a
/// `.wasm` extension gets `.stripped.wasm` appended.
pub fn default_stripped_path(input: &Path) -> PathBuf {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module".to_string());
    let stem = name.strip_suffix(".wasm").unwrap_or(&name);
    input.with_file_name(format!("{stem}.stripped.wasm"))
}

/// The path under which a debug file is stored in a build-id directory
/// tree, gdb-style: `DIR/ab/cdef0123….debug`, where `abcdef0123…` is the
/// build id in lower-case hex (no dashes). `debuginfo-split` writes the
/// flat `DIR/debug-<uuid>.wasm` name; debuggers look up both.
pub fn build_id_tree_path(dir: &Path, id: &BuildId) -> PathBuf {
    let hex = id.to_hex();
    let (head, tail) = hex.split_at(hex.len().min(2));
    dir.join(head).join(format!("{tail}.debug"))
}

/// Splits a module file: reads it, writes the debug file, then the stripped
/// module, each atomically. Writes nothing when the module has no DWARF
/// (exit code 3) or is already split (exit code 4).
pub fn split_file(options: &SplitFileOptions) -> Result<SplitReport, Error> {
    let input_path = &options.input;
    let bytes = fs::read(input_path).map_err(|source| Error::Read {
        path: input_path.clone(),
        source,
    })?;
    let in_module = |source| Error::Module {
        path: input_path.clone(),
        source,
    };
    let module = Module::parse(&bytes).map_err(in_module)?;
    module.check_splittable().map_err(in_module)?;
    let build_id = module
        .choose_build_id(options.build_id.as_ref())
        .map_err(in_module)?;

    let stripped_path = match (&options.output, options.in_place) {
        (Some(path), _) => path.clone(),
        (None, true) => input_path.clone(),
        (None, false) => default_stripped_path(input_path),
    };
    let debug_path = match &options.debug_output {
        DebugOutput::File(path) => path.clone(),
        DebugOutput::Dir(dir) => dir.join(debug_file_name(&build_id.id)),
        DebugOutput::NextToStripped => stripped_path.with_file_name(debug_file_name(&build_id.id)),
    };
    for path in [&stripped_path, &debug_path] {
        if path.file_name().is_none() {
            return Err(Error::NotAFilePath { path: path.clone() });
        }
    }
    if !options.in_place && same_file(&stripped_path, input_path) {
        return Err(Error::WouldOverwriteInput {
            path: input_path.clone(),
        });
    }
    if same_file(&debug_path, input_path) {
        return Err(Error::DebugFileClash {
            debug: debug_path,
            what: "input",
            other: input_path.clone(),
        });
    }
    if same_file(&debug_path, &stripped_path) {
        return Err(Error::DebugFileClash {
            debug: debug_path,
            what: "stripped module",
            other: stripped_path,
        });
    }
    if let DebugOutput::Dir(dir) = &options.debug_output {
        fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
    }

    let external_url = match &options.external_url {
        Some(template) => expand_url_template(template, &build_id.id),
        None => relative_url(&parent_dir(&stripped_path), &debug_path),
    };
    let plan = module
        .plan_split(&build_id, &external_url, options.strip_names)
        .map_err(in_module)?;

    // The debug file first: once the stripped module exists (or has replaced
    // the input), its DWARF must already be safe.
    write_atomically(&debug_path, &plan.debug, None, options.sync)?;
    let keep_mode = if options.in_place && same_file(&stripped_path, input_path) {
        fs::metadata(input_path).ok().map(|m| m.permissions())
    } else {
        None
    };
    write_atomically(&stripped_path, &plan.stripped, keep_mode, options.sync)?;

    Ok(SplitReport {
        build_id: build_id.id.to_string(),
        build_id_source: build_id.source,
        input: input_path.clone(),
        stripped: stripped_path,
        debug_file: debug_path,
        external_url: plan.external_url,
        sizes: Sizes {
            input: bytes.len() as u64,
            stripped: plan.stripped.len() as u64,
            debug_file: plan.debug.len() as u64,
            dwarf: plan.dwarf_bytes as u64,
        },
        dwarf_sections: plan.dwarf_sections.iter().map(|s| s.to_string()).collect(),
    })
}

/// Reads both files and runs [`verify`] on them.
pub fn verify_files(stripped: &Path, debug: &Path) -> Result<Verification, Error> {
    let read = |path: &Path| {
        fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let stripped_bytes = read(stripped)?;
    let debug_bytes = read(debug)?;
    verify(&stripped_bytes, &debug_bytes).map_err(|err| Error::Module {
        path: match err.which {
            Which::Stripped => stripped.to_path_buf(),
            Which::Debug => debug.to_path_buf(),
        },
        source: err.source,
    })
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether two paths name the same file: same device and inode when both
/// exist, else the same canonical directory and file name.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (normalized(a), normalized(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// The canonical directory joined with the file name (the file itself may not exist).
fn normalized(path: &Path) -> Option<PathBuf> {
    let dir = parent_dir(path).canonicalize().ok()?;
    Some(dir.join(path.file_name()?))
}

/// The debug file's path relative to the stripped module's directory, with
/// `/` separators: what a reader resolves `external_debug_info` against.
/// Falls back to the bare file name when no relative path exists.
fn relative_url(from_dir: &Path, to_file: &Path) -> String {
    let file_name = to_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let relative = || -> Option<String> {
        let from = from_dir.canonicalize().ok()?;
        let to = parent_dir(to_file).canonicalize().ok()?;
        let from: Vec<Component<'_>> = from.components().collect();
        let to: Vec<Component<'_>> = to.components().collect();
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        if common == 0 {
            return None;
        }
        let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
        for component in &to[common..] {
            parts.push(component.as_os_str().to_str()?.to_string());
        }
        parts.push(file_name.clone());
        Some(parts.join("/"))
    };
    relative().unwrap_or(file_name)
}

/// Writes `output` to a temporary file in `path`'s directory, then renames it
/// over `path`: readers see the old file or the complete new one, never a
/// part. `mode` (when given) is applied exactly; otherwise the file gets the
/// usual `0666 & !umask`.
fn write_atomically(
    path: &Path,
    output: &Output<'_>,
    mode: Option<Permissions>,
    sync: bool,
) -> Result<(), Error> {
    let fail = |source: io::Error| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent_dir(path);
    let prefix = format!(
        ".{}.",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(&dir).map_err(fail)?;
    output.write_to(temp.as_file_mut()).map_err(fail)?;
    if let Some(mode) = mode {
        temp.as_file().set_permissions(mode).map_err(fail)?;
    }
    if sync {
        temp.as_file().sync_all().map_err(fail)?;
    }
    temp.persist(path).map_err(|err| fail(err.error))?;
    if sync {
        // The rename itself is durable once the directory is synced.
        #[cfg(unix)]
        File::open(&dir).and_then(|d| d.sync_all()).map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_stripped_names() {
        assert_eq!(
            default_stripped_path(Path::new("dir/app.wasm")),
            Path::new("dir/app.stripped.wasm")
        );
        assert_eq!(
            default_stripped_path(Path::new("app")),
            Path::new("app.stripped.wasm")
        );
    }

    #[test]
    fn build_id_tree_layout() {
        let id = BuildId::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            build_id_tree_path(Path::new("/syms"), &id),
            Path::new("/syms/01/23456789abcdef0123456789abcdef.debug")
        );
    }

    #[test]
    fn relative_urls() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join("syms")).unwrap();
        assert_eq!(
            relative_url(root, &root.join("debug-x.wasm")),
            "debug-x.wasm"
        );
        assert_eq!(relative_url(root, &root.join("syms/d.wasm")), "syms/d.wasm");
        assert_eq!(
            relative_url(&root.join("a/b"), &root.join("syms/d.wasm")),
            "../../syms/d.wasm"
        );
        // A directory that does not exist: just the name.
        assert_eq!(
            relative_url(&root.join("missing"), &root.join("d.wasm")),
            "d.wasm"
        );
    }
}
