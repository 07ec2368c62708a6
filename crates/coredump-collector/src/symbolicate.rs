//! The collector's one door to symbolication: it turns a dump's frames into a
//! [`StackTrace`] and fills in source locations with the `wasm-symbolicate`
//! crate, from the debug files stored for the frames' build ids.
//!
//! Debug files are full modules (code plus DWARF, as `debuginfo-split` writes
//! them, or a module built with debug info), so each one is opened as a module
//! with embedded DWARF. Opened debug files are kept in a small LRU cache: the
//! DWARF units a lookup parsed stay parsed for the next dump.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use wasm_coredump::{CodeLocation, CoreDump};
use wasm_symbolicate::module_info::ModuleInfo as ModuleSections;
use wasm_symbolicate::unwind::StackModel;
use wasm_symbolicate::variables::{DumpFrameState, FrameState};
use wasm_symbolicate::{DebugInfoLocator, ModuleFile, Symbolicator};

use crate::fingerprint::is_in_app;
use crate::model::{
    FrameValues, FrameVariables, ModuleInfo, ScopeVariables, SourceLocation, StackFrame,
    StackTrace, SymbolicationState, VariableInfo,
};

/// Values kept per frame before the rest are dropped.
const MAX_VALUES_PER_FRAME: usize = 256;
/// Frames whose values are kept.
const MAX_FRAMES_WITH_VALUES: usize = 64;
/// Variables kept per scope, and characters per printed value.
const MAX_VARIABLES: usize = 64;
const MAX_VALUE_CHARS: usize = 512;
/// Frames kept in a stack record (a runaway recursion keeps its youngest).
pub const MAX_STACK_FRAMES: usize = 1024;

/// One opened debug file, ready for lookups.
pub struct ModuleSymbols {
    // addr2line's lazily parsed units are not `Sync`: one lookup at a time.
    inner: Mutex<Symbolicator>,
    /// The stack-pointer global and parameter counts, for the frame model.
    module_info: Option<ModuleSections>,
    pub has_dwarf: bool,
}

impl std::fmt::Debug for ModuleSymbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleSymbols")
            .field("has_dwarf", &self.has_dwarf)
            .finish()
    }
}

impl ModuleSymbols {
    /// Opens a debug file (a Wasm module carrying DWARF).
    pub fn from_debug_file(bytes: Vec<u8>, name: &str) -> Result<Self, String> {
        let module = ModuleFile::from_bytes(bytes, Some(name.into())).map_err(|e| e.to_string())?;
        let module_info = ModuleSections::parse(module.bytes()).ok();
        // A stored debug file never points elsewhere: no file-system lookups.
        let locator = DebugInfoLocator::new().ignore_external_debug_info_paths(true);
        let symbolicator = Symbolicator::new(module, &locator).map_err(|e| e.to_string())?;
        let has_dwarf = symbolicator.has_dwarf();
        Ok(ModuleSymbols {
            inner: Mutex::new(symbolicator),
            module_info,
            has_dwarf,
        })
    }

    /// Source locations at a dump code location, innermost inlined first.
    pub fn locate(
        &self,
        function: u32,
        offset: u32,
    ) -> Result<Vec<SourceLocation>, (String, Option<String>)> {
        let symbolicator = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match symbolicator.symbolicate(CodeLocation { function, offset }) {
            Ok(frames) => Ok(frames
                .into_iter()
                .map(|f| SourceLocation {
                    function: f.function.as_ref().map(|n| n.name.clone()),
                    linkage_name: f.function.as_ref().and_then(|n| n.linkage_name.clone()),
                    in_app: is_in_app(f.file.as_deref()),
                    file: f.file,
                    line: f.line,
                    column: f.column,
                    inlined: f.inlined,
                })
                .collect()),
            Err(err) => Err((
                err.to_string(),
                symbolicator.function_name(function).map(|n| n.name),
            )),
        }
    }
}

impl ModuleSymbols {
    /// The whole-module offset (from the start of the file) of a dump code
    /// location: the function body's start plus the dump's code offset.
    /// `None` for an unknown offset (0), an imported function or an offset
    /// past the body.
    ///
    /// Computed on the debug file's layout, which is the shipped module's up
    /// to and including the Code section (`debuginfo-split` only drops the
    /// sections after it and appends its own at the end), so the offset is
    /// valid in the shipped module too.
    pub fn module_offset(&self, function: u32, offset: u32) -> Option<u64> {
        let symbolicator = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        symbolicator
            .layout()
            .to_module_offset(CodeLocation { function, offset })
            .ok()
            .map(|o| o.0)
    }

    /// The parameters and locals in scope at dump frame `index`, evaluated
    /// against the dump through the same frame model wasmgdb uses (each
    /// frame's stack pointer recovered, a local rewritten after the frame's
    /// pc shown as optimized out). `None` when the frame is not in this
    /// module or has no DWARF scope.
    pub fn variables(&self, dump: &CoreDump, index: usize) -> Option<FrameVariables> {
        let frame = dump.main_frames().get(index)?;
        let symbolicator = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let model = self
            .module_info
            .as_ref()
            .map(|info| StackModel::for_module(dump, &symbolicator, info, index + 1));
        let modelled = model.as_ref().and_then(|m| m.state(dump, index));
        let plain = DumpFrameState { dump, frame };
        let state: &dyn FrameState = match &modelled {
            Some(s) => s,
            None => &plain,
        };
        let scopes = symbolicator
            .frame_variables(
                CodeLocation {
                    function: frame.function,
                    offset: frame.code_offset,
                },
                state,
            )
            .ok()?;
        let memory = dump.instance_memory(frame.instance, 0);
        let clip = |mut text: String| {
            if text.chars().count() > MAX_VALUE_CHARS {
                text = text.chars().take(MAX_VALUE_CHARS).collect::<String>() + "…";
            }
            text
        };
        let scopes: Vec<ScopeVariables> = scopes
            .into_iter()
            .map(|scope| ScopeVariables {
                function: scope.frame.function_name().to_string(),
                inlined: scope.frame.inlined,
                variables: scope
                    .variables
                    .iter()
                    .take(MAX_VARIABLES)
                    .map(|v| VariableInfo {
                        name: v.name.clone(),
                        parameter: v.is_parameter,
                        type_name: v.ty.name.clone(),
                        value: clip(v.display_value(memory)),
                    })
                    .collect(),
            })
            .collect();
        scopes
            .iter()
            .any(|s| !s.variables.is_empty())
            .then_some(FrameVariables {
                frame: index,
                scopes,
            })
    }
}

/// The frame whose variables a dump page shows: the first symbolicated
/// in-app frame, else the first symbolicated one.
pub fn variables_frame(stack: &StackTrace) -> Option<usize> {
    stack
        .frames
        .iter()
        .find(|f| f.symbolicated && f.in_app())
        .or_else(|| stack.frames.iter().find(|f| f.symbolicated))
        .map(|f| f.index)
}

/// Variables of the frame [`variables_frame`] picks, when its debug file is in `symbols`.
pub fn frame_variables(
    stack: &StackTrace,
    dump: &CoreDump,
    symbols: &HashMap<String, Arc<ModuleSymbols>>,
) -> Option<FrameVariables> {
    let index = variables_frame(stack)?;
    let build_id = stack.frames.get(index)?.build_id.as_ref()?;
    symbols.get(build_id)?.variables(dump, index)
}

type CacheMap = HashMap<String, (u64, Arc<ModuleSymbols>)>;

/// A bounded cache of opened debug files by build id, least recently used out first.
pub struct SymbolCache {
    capacity: usize,
    /// A use clock, and each entry with its last use.
    entries: Mutex<(u64, CacheMap)>,
}

impl SymbolCache {
    pub fn new(capacity: usize) -> Self {
        SymbolCache {
            capacity: capacity.max(1),
            entries: Mutex::new((0, HashMap::new())),
        }
    }

    pub fn get(&self, build_id: &str) -> Option<Arc<ModuleSymbols>> {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (clock, map) = &mut *guard;
        *clock += 1;
        let now = *clock;
        map.get_mut(build_id).map(|(used, symbols)| {
            *used = now;
            symbols.clone()
        })
    }

    pub fn insert(&self, build_id: &str, symbols: Arc<ModuleSymbols>) {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (clock, map) = &mut *guard;
        *clock += 1;
        map.insert(build_id.to_string(), (*clock, symbols));
        while map.len() > self.capacity {
            let oldest = map
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => map.remove(&key),
                None => break,
            };
        }
    }

    pub fn remove(&self, build_id: &str) {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.remove(build_id);
    }

    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The dump's modules, with build ids from the dump or, failing that, from
/// the upload's metadata (`overrides`: by module index, then by name).
pub fn modules_of(dump: &CoreDump, overrides: &BuildIdOverrides) -> Vec<ModuleInfo> {
    dump.modules
        .iter()
        .enumerate()
        .map(|(index, module)| {
            let build_id = module
                .build_id
                .as_ref()
                .map(|id| id.to_hex())
                .or_else(|| overrides.by_index.get(&(index as u32)).cloned())
                .or_else(|| overrides.by_name.get(&module.name).cloned());
            ModuleInfo {
                index: index as u32,
                name: module.name.clone(),
                build_id,
                path: module.path.clone(),
                has_debug_file: false,
            }
        })
        .collect()
}

/// Build ids given in the upload's metadata, for modules the dump does not identify.
#[derive(Debug, Clone, Default)]
pub struct BuildIdOverrides {
    pub by_index: HashMap<u32, String>,
    pub by_name: HashMap<String, String>,
}

/// A module's short name: its file name when the dump knows the path (engines
/// often name modules `<anonymous-module-0>`), else its dump name.
pub fn module_display_name(module: &ModuleInfo) -> String {
    match module.path.as_deref() {
        Some(path) if !path.is_empty() => {
            path.rsplit(['/', '\\']).next().unwrap_or(path).to_string()
        }
        _ => module.name.clone(),
    }
}

/// The crashing thread's frames, not yet symbolicated, plus their raw values.
pub fn unsymbolicated_stack(
    dump: &CoreDump,
    modules: &[ModuleInfo],
) -> (StackTrace, Vec<FrameValues>) {
    let thread = dump.threads.first();
    let mut frames = Vec::new();
    let mut values = Vec::new();
    for (index, frame) in dump.main_frames().iter().take(MAX_STACK_FRAMES).enumerate() {
        let module = match dump.instances.get(frame.instance as usize) {
            Some(instance) => Some(instance.module),
            None if dump.instances.is_empty() && !dump.modules.is_empty() => Some(0),
            None => None,
        };
        let info = module.and_then(|m| modules.get(m as usize));
        frames.push(StackFrame {
            index,
            instance: frame.instance,
            module,
            module_name: info.map(module_display_name),
            build_id: info.and_then(|m| m.build_id.clone()),
            function_index: frame.function,
            code_offset: frame.code_offset,
            symbolicated: false,
            locations: Vec::new(),
            note: None,
        });
        if index < MAX_FRAMES_WITH_VALUES && (!frame.locals.is_empty() || !frame.stack.is_empty()) {
            let render = |vals: &[wasm_coredump::Value]| {
                vals.iter()
                    .take(MAX_VALUES_PER_FRAME)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            };
            values.push(FrameValues {
                frame: index,
                locals: render(&frame.locals),
                stack: render(&frame.stack),
                truncated: frame.locals.len() > MAX_VALUES_PER_FRAME
                    || frame.stack.len() > MAX_VALUES_PER_FRAME,
            });
        }
    }
    let mut stack = StackTrace {
        thread: thread.map(|t| t.name.clone()).unwrap_or_default(),
        frames,
        state: SymbolicationState::Unavailable,
        missing_build_ids: Vec::new(),
    };
    update_state(&mut stack, &HashMap::new());
    (stack, values)
}

/// Build ids of the stack's frames that are not symbolicated yet.
pub fn wanted_build_ids(stack: &StackTrace) -> BTreeSet<String> {
    stack
        .frames
        .iter()
        .filter(|f| !f.symbolicated)
        .filter_map(|f| f.build_id.clone())
        .collect()
}

/// Symbolicates every frame whose module's debug file is in `symbols`;
/// frames already symbolicated are left alone. Returns how many frames
/// were symbolicated now.
pub fn symbolicate_stack(
    stack: &mut StackTrace,
    symbols: &HashMap<String, Arc<ModuleSymbols>>,
) -> usize {
    let mut done = 0;
    for frame in &mut stack.frames {
        if frame.symbolicated {
            continue;
        }
        let Some(module) = frame.build_id.as_ref().and_then(|id| symbols.get(id)) else {
            continue;
        };
        match module.locate(frame.function_index, frame.code_offset) {
            Ok(locations) => {
                frame.locations = locations;
                frame.note = None;
            }
            Err((error, name)) => {
                frame.locations = vec![SourceLocation {
                    function: name,
                    linkage_name: None,
                    file: None,
                    line: None,
                    column: None,
                    inlined: false,
                    in_app: false,
                }];
                frame.note = Some(error);
            }
        }
        frame.symbolicated = true;
        done += 1;
    }
    update_state(stack, symbols);
    done
}

fn update_state(stack: &mut StackTrace, _symbols: &HashMap<String, Arc<ModuleSymbols>>) {
    let missing: BTreeSet<String> = wanted_build_ids(stack);
    let any_done = stack.frames.iter().any(|f| f.symbolicated);
    stack.state = match (missing.is_empty(), any_done) {
        (false, false) => SymbolicationState::Pending,
        (false, true) => SymbolicationState::Partial,
        (true, true) => SymbolicationState::Complete,
        (true, false) => {
            if stack.frames.is_empty() {
                SymbolicationState::Complete
            } else {
                SymbolicationState::Unavailable
            }
        }
    };
    for frame in &mut stack.frames {
        if !frame.symbolicated && frame.note.is_none() {
            frame.note = Some(match &frame.build_id {
                Some(id) => format!("waiting for the debug file of build id {id}"),
                None => "the module has no build id: no debug file can be matched".to_string(),
            });
        }
    }
    stack.missing_build_ids = missing.into_iter().collect();
}
