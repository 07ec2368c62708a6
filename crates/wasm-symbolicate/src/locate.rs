//! Finding the DWARF for a module, and saying where it came from.
//!
//! A module's debug info can live in four places, tried in this order:
//!
//! 1. **`external_debug_info`** (tool-conventions Debugging.md): when the
//!    module has this section, the last one wins and any DWARF embedded in
//!    the module is ignored. A relative URL is resolved against the module's
//!    directory; `file://` URLs and absolute paths are used as they are;
//!    other URLs (`https://…`) are left to the plugged-in fetchers.
//! 2. **Embedded DWARF**: the module's own `.debug_*` custom sections.
//! 3. **By build id in debug directories** (`--debug-dir`), in two layouts
//!    (see [`DebugDirLayout`]): `DIR/debug-<id>.wasm`, and the GNU
//!    `.build-id`-style tree `DIR/<first byte in hex>/<remaining bytes in hex>.debug`.
//! 4. **Fetchers**: anything implementing [`DebugFileFetcher`], e.g. a
//!    symbol-server client with a local cache. None is built in.
//!
//! A debug file found by any route must be a Wasm module with a `.debug_info`
//! section, and when the module has a build id the debug file must carry the
//! same one (a debug file named by `external_debug_info` may lack one: the
//! module named it explicitly). A refused candidate does not stop the search;
//! if nothing else is found, the first refusal is the error.
//!
//! When nothing is found, the result is [`DebugInfoSource::NotFound`], whose
//! `Display` says what was tried and that function names come from the
//! `name` section.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasm_coredump::{BuildId, ModuleLayout};

use crate::dwarf;
use crate::error::{Error, Result};

/// A Wasm module file: its bytes, its layout, and where it came from.
#[derive(Clone)]
pub struct ModuleFile {
    bytes: Arc<[u8]>,
    layout: ModuleLayout,
    path: Option<PathBuf>,
}

impl fmt::Debug for ModuleFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleFile")
            .field("path", &self.path)
            .field("len", &self.bytes.len())
            .field("build_id", &self.layout.build_id())
            .finish()
    }
}

impl ModuleFile {
    /// Reads and lays out a module file. Its directory anchors a relative
    /// `external_debug_info` URL.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(bytes, Some(path.to_owned()))
    }

    /// Lays out a module held in memory. `path`, when known, is where it was
    /// loaded from (used for messages and for relative `external_debug_info`).
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>, path: Option<PathBuf>) -> Result<Self> {
        let bytes = bytes.into();
        let what = path
            .as_ref()
            .map_or_else(|| "the module".to_string(), |p| p.display().to_string());
        let layout =
            ModuleLayout::parse(&bytes).map_err(|source| Error::InvalidModule { what, source })?;
        Ok(ModuleFile {
            bytes,
            layout,
            path,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn shared_bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    pub fn layout(&self) -> &ModuleLayout {
        &self.layout
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A name for messages: the path if known, else the build id, else "the module".
    pub fn display_name(&self) -> String {
        match (&self.path, self.layout.build_id()) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(id)) => format!("module {id}"),
            (None, None) => "the module".to_string(),
        }
    }

    /// Whether the module itself carries DWARF.
    pub fn has_embedded_dwarf(&self) -> bool {
        dwarf::has_debug_info(&self.layout)
    }
}

/// The two build-id layouts of a debug directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DebugDirLayout {
    /// `DIR/debug-<id>.wasm`, where `<id>` is the build id as a hyphenated
    /// lower-case UUID for 16-byte ids (`debug-10213243-5465-7687-98a9-bacbdcedfe0f.wasm`);
    /// plain lower-case hex (no hyphens) is accepted too, and is the only
    /// form for ids of other lengths.
    DebugIdWasm,
    /// `DIR/<b0>/<b1…bn>.debug`: the first id byte as two lower-case hex
    /// digits names a subdirectory, the remaining bytes in lower-case hex,
    /// plus `.debug`, name the file: for build id
    /// `10213243-5465-7687-98a9-bacbdcedfe0f`, `DIR/10/2132435465768798a9bacbdcedfe0f.debug`.
    BuildIdTree,
}

impl DebugDirLayout {
    /// The paths, in the order tried, at which a debug file for `id` may be
    /// stored in `dir` with this layout.
    pub fn candidates(self, dir: &Path, id: &BuildId) -> Vec<PathBuf> {
        let hex = id.to_hex();
        match self {
            DebugDirLayout::DebugIdWasm => {
                let mut names = vec![format!("debug-{id}.wasm")];
                let plain = format!("debug-{hex}.wasm");
                if plain != names[0] {
                    names.push(plain);
                }
                names.into_iter().map(|name| dir.join(name)).collect()
            }
            DebugDirLayout::BuildIdTree => match (hex.get(..2), hex.get(2..)) {
                (Some(first), Some(rest)) if !rest.is_empty() => {
                    vec![dir.join(first).join(format!("{rest}.debug"))]
                }
                _ => Vec::new(),
            },
        }
    }
}

impl fmt::Display for DebugDirLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DebugDirLayout::DebugIdWasm => "debug-<build id>.wasm",
            DebugDirLayout::BuildIdTree => "<xx>/<build id rest>.debug",
        })
    }
}

/// What a [`DebugFileFetcher`] is asked for.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    /// The module's build id, if it has one.
    pub build_id: Option<&'a BuildId>,
    /// The module's `external_debug_info` URL, if any (absolute or relative).
    pub external_debug_info: Option<&'a str>,
    /// The module's path or name, for the fetcher's own messages.
    pub module_name: &'a str,
}

/// A debug file a fetcher produced.
#[derive(Debug, Clone)]
pub struct FetchedDebugFile {
    pub bytes: Vec<u8>,
    /// Where it came from (URL, cache path…), for messages.
    pub origin: String,
}

/// A pluggable source of debug files, e.g. a symbol server with a local cache.
///
/// The locator asks fetchers last, after `external_debug_info`, embedded
/// DWARF and the debug directories, and checks what they return exactly as it
/// checks local files.
pub trait DebugFileFetcher: Send + Sync {
    /// A short description for messages, e.g. `symbol server https://…`.
    fn describe(&self) -> String;

    /// Returns the debug file, `Ok(None)` when this fetcher does not have it.
    fn fetch(
        &self,
        request: &FetchRequest<'_>,
    ) -> std::result::Result<Option<FetchedDebugFile>, Box<dyn std::error::Error + Send + Sync>>;
}

/// Where a module's debug info came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebugInfoSource {
    /// The module's own `.debug_*` sections.
    Embedded,
    /// The file named by the module's `external_debug_info` section.
    ExternalDebugInfo { url: String, path: PathBuf },
    /// A debug directory, found by build id.
    DebugDir {
        path: PathBuf,
        layout: DebugDirLayout,
    },
    /// A plugged-in fetcher.
    Fetched { fetcher: String, origin: String },
    /// A debug file the caller named explicitly.
    Explicit { what: String },
    /// Nothing was found: names come from the `name` section.
    NotFound(NotFound),
}

impl DebugInfoSource {
    /// Whether DWARF was found.
    pub fn found(&self) -> bool {
        !matches!(self, DebugInfoSource::NotFound(_))
    }
}

impl fmt::Display for DebugInfoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DebugInfoSource::Embedded => f.write_str("DWARF embedded in the module"),
            DebugInfoSource::ExternalDebugInfo { url, path } => {
                write!(f, "external_debug_info `{url}` ({})", path.display())
            }
            DebugInfoSource::DebugDir { path, layout } => {
                write!(
                    f,
                    "debug directory file {} ({layout} layout)",
                    path.display()
                )
            }
            DebugInfoSource::Fetched { fetcher, origin } => write!(f, "{origin} (via {fetcher})"),
            DebugInfoSource::Explicit { what } => write!(f, "debug file {what}"),
            DebugInfoSource::NotFound(not_found) => not_found.fmt(f),
        }
    }
}

/// The report when no debug info was found; print it with `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// The module's path or name.
    pub module: String,
    pub build_id: Option<BuildId>,
    pub external_debug_info: Option<String>,
    /// Every place looked at, in order, with why it did not serve.
    pub tried: Vec<String>,
    /// Whether the module has `name`-section function names to fall back on.
    pub has_name_section: bool,
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no DWARF debug info found for {}", self.module)?;
        if let Some(id) = &self.build_id {
            write!(f, " (build id {id})")?;
        }
        if self.tried.is_empty() {
            f.write_str(": it has no DWARF, no external_debug_info section and no build id to look one up by")?;
        } else {
            write!(f, "; tried: {}", self.tried.join("; "))?;
        }
        if self.has_name_section {
            f.write_str(
                ". Function names come from the `name` section; there are no file or line numbers",
            )
        } else {
            f.write_str(". The module has no `name` section either: functions are shown by index")
        }
    }
}

/// A debug file that was found and accepted.
pub(crate) struct DebugFile {
    pub bytes: Arc<[u8]>,
    pub layout: ModuleLayout,
}

/// The outcome of [`DebugInfoLocator::locate`].
pub struct Located {
    pub source: DebugInfoSource,
    /// Candidates refused on the way to `source`, and other remarks.
    pub warnings: Vec<String>,
    pub(crate) file: Option<DebugFile>,
}

impl fmt::Debug for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Located")
            .field("source", &self.source)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Finds a module's debug info (see the module docs for the order).
#[derive(Default)]
pub struct DebugInfoLocator {
    debug_dirs: Vec<PathBuf>,
    fetchers: Vec<Box<dyn DebugFileFetcher>>,
    ignore_external_debug_info: bool,
}

impl fmt::Debug for DebugInfoLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DebugInfoLocator")
            .field("debug_dirs", &self.debug_dirs)
            .field(
                "fetchers",
                &self
                    .fetchers
                    .iter()
                    .map(|x| x.describe())
                    .collect::<Vec<_>>(),
            )
            .field(
                "ignore_external_debug_info",
                &self.ignore_external_debug_info,
            )
            .finish()
    }
}

/// Whether a candidate may lack a build id when the module has one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IdPolicy {
    MustMatch,
    MayBeMissing,
}

impl DebugInfoLocator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory searched by build id (`--debug-dir`); they are searched in the order added.
    pub fn with_debug_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.debug_dirs.push(dir.into());
        self
    }

    /// Adds a fetcher, asked after every local source.
    pub fn with_fetcher(mut self, fetcher: Box<dyn DebugFileFetcher>) -> Self {
        self.fetchers.push(fetcher);
        self
    }

    /// Stop resolving `external_debug_info` against the local file system (a
    /// service handling untrusted modules should). The section still makes
    /// embedded DWARF be ignored, and fetchers still see its URL.
    pub fn ignore_external_debug_info_paths(mut self, ignore: bool) -> Self {
        self.ignore_external_debug_info = ignore;
        self
    }

    pub fn debug_dirs(&self) -> &[PathBuf] {
        &self.debug_dirs
    }

    /// Finds the debug info for `module`.
    ///
    /// Returns `Ok` with [`DebugInfoSource::NotFound`] when there is none, and
    /// `Err` only when a candidate was found but refused (wrong build id, not
    /// Wasm, no DWARF) and nothing else served.
    pub fn locate(&self, module: &ModuleFile) -> Result<Located> {
        let layout = module.layout();
        let expected = layout.build_id();
        let mut tried = Vec::new();
        let mut refused: Vec<Error> = Vec::new();
        let mut warnings = Vec::new();

        let done = |source, file, refused: Vec<Error>, mut warnings: Vec<String>| {
            warnings.extend(refused.iter().map(ToString::to_string));
            Ok(Located {
                source,
                warnings,
                file: Some(file),
            })
        };

        // 1. external_debug_info.
        if let Some(url) = layout.external_debug_info() {
            match self.external_path(module, url) {
                Ok(path) => match read_candidate(&path)? {
                    Some(bytes) => {
                        let what = path.display().to_string();
                        match check_candidate(bytes, &what, expected, IdPolicy::MayBeMissing) {
                            Ok((file, warning)) => {
                                warnings.extend(warning);
                                let source = DebugInfoSource::ExternalDebugInfo {
                                    url: url.to_string(),
                                    path,
                                };
                                return done(source, file, refused, warnings);
                            }
                            Err(err) => {
                                tried.push(format!(
                                    "external_debug_info {}: refused",
                                    path.display()
                                ));
                                refused.push(err);
                            }
                        }
                    }
                    None => tried.push(format!(
                        "external_debug_info `{url}` -> {} (no such file)",
                        path.display()
                    )),
                },
                Err(why) => tried.push(format!("external_debug_info `{url}` ({why})")),
            }
        } else if module.has_embedded_dwarf() {
            // 2. Embedded DWARF.
            let file = DebugFile {
                bytes: module.shared_bytes().clone(),
                layout: layout.clone(),
            };
            return done(DebugInfoSource::Embedded, file, refused, warnings);
        }

        // 3. Debug directories, by build id.
        if let Some(id) = expected {
            for dir in &self.debug_dirs {
                for dir_layout in [DebugDirLayout::DebugIdWasm, DebugDirLayout::BuildIdTree] {
                    for path in dir_layout.candidates(dir, id) {
                        let Some(bytes) = read_candidate(&path)? else {
                            tried.push(format!("{} (no such file)", path.display()));
                            continue;
                        };
                        let what = path.display().to_string();
                        match check_candidate(bytes, &what, expected, IdPolicy::MustMatch) {
                            Ok((file, warning)) => {
                                warnings.extend(warning);
                                let source = DebugInfoSource::DebugDir {
                                    path,
                                    layout: dir_layout,
                                };
                                return done(source, file, refused, warnings);
                            }
                            Err(err) => {
                                tried.push(format!("{}: refused", path.display()));
                                refused.push(err);
                            }
                        }
                    }
                }
            }
        } else if !self.debug_dirs.is_empty() {
            tried.push("debug directories (the module has no build id)".to_string());
        }

        // 4. Fetchers.
        let module_name = module.display_name();
        let request = FetchRequest {
            build_id: expected,
            external_debug_info: layout.external_debug_info(),
            module_name: &module_name,
        };
        for fetcher in &self.fetchers {
            let name = fetcher.describe();
            match fetcher.fetch(&request) {
                Ok(Some(fetched)) => {
                    let policy = if expected.is_some() {
                        IdPolicy::MustMatch
                    } else {
                        IdPolicy::MayBeMissing
                    };
                    match check_candidate(fetched.bytes.into(), &fetched.origin, expected, policy) {
                        Ok((file, warning)) => {
                            warnings.extend(warning);
                            let source = DebugInfoSource::Fetched {
                                fetcher: name,
                                origin: fetched.origin,
                            };
                            return done(source, file, refused, warnings);
                        }
                        Err(err) => {
                            tried.push(format!("{name}: {} refused", fetched.origin));
                            refused.push(err);
                        }
                    }
                }
                Ok(None) => tried.push(format!("{name} (not found)")),
                Err(source) => {
                    let err = Error::Fetch {
                        fetcher: name.clone(),
                        source,
                    };
                    tried.push(format!("{err}"));
                    warnings.push(err.to_string());
                }
            }
        }

        if !refused.is_empty() {
            return Err(refused.remove(0));
        }
        Ok(Located {
            source: DebugInfoSource::NotFound(NotFound {
                module: module_name,
                build_id: expected.cloned(),
                external_debug_info: layout.external_debug_info().map(str::to_string),
                tried,
                has_name_section: !layout.function_names().is_empty(),
            }),
            warnings,
            file: None,
        })
    }

    /// The local path an `external_debug_info` URL names.
    fn external_path(
        &self,
        module: &ModuleFile,
        url: &str,
    ) -> std::result::Result<PathBuf, String> {
        if self.ignore_external_debug_info {
            return Err("local paths are disabled".to_string());
        }
        let local = match url.strip_prefix("file://") {
            Some(rest) => rest,
            None if url.contains("://") => {
                return Err("not a local path; left to fetchers".to_string());
            }
            None => url,
        };
        if local.is_empty() {
            return Err("empty URL".to_string());
        }
        let local = Path::new(local);
        if local.is_absolute() {
            return Ok(local.to_owned());
        }
        match module.path() {
            Some(path) => {
                let dir = path.parent().unwrap_or_else(|| Path::new(""));
                Ok(dir.join(local))
            }
            None => Err("relative URL, but the module's location is unknown".to_string()),
        }
    }
}

/// Reads a candidate file; `Ok(None)` when it does not exist.
fn read_candidate(path: &Path) -> Result<Option<Arc<[u8]>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes.into())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Checks that a candidate is a Wasm module with DWARF and the right build id.
/// Returns the file and, possibly, a warning about an unverifiable build id.
fn check_candidate(
    bytes: Arc<[u8]>,
    what: &str,
    expected: Option<&BuildId>,
    policy: IdPolicy,
) -> Result<(DebugFile, Option<String>)> {
    let layout = ModuleLayout::parse(&bytes).map_err(|source| Error::InvalidModule {
        what: format!("debug file {what}"),
        source,
    })?;
    let found = layout.build_id();
    let mut warning = None;
    match (expected, found) {
        (Some(expected), Some(found)) if expected != found => {
            return Err(Error::BuildIdMismatch {
                what: what.to_string(),
                expected: expected.clone(),
                found: Some(found.clone()),
            });
        }
        (Some(expected), None) => {
            if policy == IdPolicy::MustMatch {
                return Err(Error::BuildIdMismatch {
                    what: what.to_string(),
                    expected: expected.clone(),
                    found: None,
                });
            }
            warning = Some(format!(
                "debug file {what} has no build id, so it cannot be checked against the module's ({expected})"
            ));
        }
        _ => {}
    }
    if !dwarf::has_debug_info(&layout) {
        return Err(Error::NoDwarf {
            what: what.to_string(),
        });
    }
    Ok((DebugFile { bytes, layout }, warning))
}

/// Accepts a debug file the caller names explicitly, checked like any other.
pub(crate) fn explicit_debug_file(
    bytes: Arc<[u8]>,
    what: &str,
    module: &ModuleFile,
) -> Result<(DebugFile, Option<String>)> {
    check_candidate(
        bytes,
        what,
        module.layout().build_id(),
        IdPolicy::MayBeMissing,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_dir_layouts() {
        let id = BuildId::parse("10213243-5465-7687-98a9-bacbdcedfe0f").expect("id");
        let dir = Path::new("/d");
        assert_eq!(
            DebugDirLayout::DebugIdWasm.candidates(dir, &id),
            vec![
                PathBuf::from("/d/debug-10213243-5465-7687-98a9-bacbdcedfe0f.wasm"),
                PathBuf::from("/d/debug-102132435465768798a9bacbdcedfe0f.wasm"),
            ]
        );
        assert_eq!(
            DebugDirLayout::BuildIdTree.candidates(dir, &id),
            vec![PathBuf::from("/d/10/2132435465768798a9bacbdcedfe0f.debug")]
        );
        let short = BuildId::new([0xab]);
        assert!(
            DebugDirLayout::BuildIdTree
                .candidates(dir, &short)
                .is_empty()
        );
        assert_eq!(
            DebugDirLayout::DebugIdWasm.candidates(dir, &short),
            vec![PathBuf::from("/d/debug-ab.wasm")]
        );
    }
}
