//! A debugging session: one module, one core dump, the selected frame and
//! the value history. Loading does only what a backtrace needs; variables,
//! statics, types and disassembly are computed when a command asks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use wasm_coredump::{CodeLocation, CoreDump, DwarfAddress, Memory, Value};
use wasm_symbolicate::variables::{FrameScope, Type, TypeKind, VariableValue};
use wasm_symbolicate::{DebugFileFetcher, DebugInfoLocator, ModuleFile, SourceFrame, Symbolicator};

use crate::error::{Error, Result, bail};
use crate::expr::{self, Data, Env, Obj, TypeOracle};
use crate::print::{Examine, Lang};
use wasm_symbolicate::module_info::ModuleInfo;
use wasm_symbolicate::unwind::StackModel;

/// How to find debug info and sources.
#[derive(Default)]
pub struct Options {
    /// Directories searched by build id.
    pub debug_dirs: Vec<PathBuf>,
    /// Extra fetchers (a symbol server), asked last.
    pub fetchers: Vec<Box<dyn DebugFileFetcher>>,
    /// Directories searched for source files.
    pub source_dirs: Vec<PathBuf>,
    /// Print `bt`, `info locals` and `print` results as JSON.
    pub json: bool,
}

/// One source-level frame of the backtrace (an inlined call is one too).
#[derive(Debug, Clone)]
pub struct FrameEntry {
    /// Index of the Wasm frame in the dump.
    pub physical: usize,
    pub location: CodeLocation,
    pub source: SourceFrame,
    /// Position among the source frames of its Wasm frame, innermost 0.
    pub inline_index: usize,
    /// Why the location could not be symbolicated, if it could not.
    pub error: Option<String>,
}

/// Lines of Wasm text with the module offset each stands for.
pub(crate) type Disassembly = Rc<Vec<(Option<usize>, String)>>;

/// A loaded module and dump.
pub struct Session {
    pub(crate) dump: CoreDump,
    pub(crate) dump_path: PathBuf,
    pub(crate) symbols: Symbolicator,
    pub(crate) module: ModuleInfo,
    pub(crate) stack: StackModel,
    pub(crate) frames: Vec<FrameEntry>,
    pub(crate) selected: usize,
    /// The dump's thread numbers (from 0, in file order) in the order
    /// `dump.threads` now holds them: the selected thread is moved to the
    /// front, where every frame lookup reads.
    pub(crate) thread_order: Vec<usize>,
    pub(crate) history: Vec<Obj>,
    pub(crate) source_dirs: Vec<PathBuf>,
    pub(crate) substitutions: Vec<(String, String)>,
    pub(crate) json: bool,
    pub(crate) warnings: Vec<String>,
    pub(crate) list_next: Option<(PathBuf, u32)>,
    pub(crate) listsize: u32,
    pub(crate) examine: (Examine, Option<u64>),
    scopes: RefCell<HashMap<usize, Rc<Vec<FrameScope>>>>,
    disassembly: RefCell<Option<Disassembly>>,
}

/// The source-level frames of the dump's first thread (the one
/// `dump.main_frames()` gives), youngest first, inlined calls expanded.
/// `trapping`: the thread is the one that trapped, whose youngest pc may be
/// corrected to the trapping instruction.
fn source_frames(dump: &CoreDump, symbols: &Symbolicator, trapping: bool) -> Vec<FrameEntry> {
    let mut frames = Vec::new();
    for (physical, frame) in dump.main_frames().iter().enumerate() {
        let mut location = CodeLocation {
            function: frame.function,
            offset: frame.code_offset,
        };
        if trapping
            && physical == 0
            && let Some(trap) = &dump.trap
            && trap.kind == wasm_coredump::TrapKind::Unreachable
            && let Some(fixed) =
                unreachable_after_br_if(symbols.module().bytes(), symbols.layout(), location)
        {
            location = fixed;
        }
        match symbols.symbolicate(location) {
            Ok(sources) => {
                for (inline_index, source) in sources.into_iter().enumerate() {
                    frames.push(FrameEntry {
                        physical,
                        location,
                        source,
                        inline_index,
                        error: None,
                    });
                }
            }
            Err(e) => {
                let function = symbols.function_name(frame.function);
                frames.push(FrameEntry {
                    physical,
                    location,
                    source: SourceFrame::name_only(function),
                    inline_index: 0,
                    error: Some(e.to_string()),
                });
            }
        }
    }
    frames
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

impl Session {
    /// Loads `module` (the original, stripped or rewritten module) and `core`.
    pub fn open(module: &Path, core: &Path, options: Options) -> Result<Session> {
        let core_bytes = read_file(core)?;
        Self::from_parts(module, &core_bytes, core, options)
    }

    /// Like [`Session::open`] with the dump already in memory (`core_name` names it).
    pub fn from_parts(
        module: &Path,
        core_bytes: &[u8],
        core_name: &Path,
        options: Options,
    ) -> Result<Session> {
        let dump = CoreDump::parse(core_bytes).map_err(|source| Error::BadDump {
            path: core_name.to_owned(),
            source,
        })?;
        let mut file = ModuleFile::read(module)?;
        let mut module_info = ModuleInfo::parse(file.bytes()).map_err(|e| {
            Error::command(format!(
                "\"{}\" is not a valid WebAssembly module: {e}",
                module.display()
            ))
        })?;
        let mut warnings = Vec::new();
        // A module instrumented by coredump-rewrite records offsets in its
        // input's coordinates: read code and DWARF from the input's debug
        // file (same build id), which holds the input's Code section.
        let rewritten = module_info
            .exports
            .iter()
            .any(|e| e.name == REWRITER_EXPORT);
        if rewritten {
            match input_module_for(&file, &options) {
                Some((input, origin)) => {
                    warnings.push(format!(
                        "{} was instrumented by coredump-rewrite; code offsets and DWARF come from its input's debug file {origin}",
                        module.display()
                    ));
                    module_info = ModuleInfo::parse(input.bytes()).map_err(|e| {
                        Error::command(format!("{origin} is not a valid WebAssembly module: {e}"))
                    })?;
                    file = input;
                }
                None => warnings.push(format!(
                    "{} was instrumented by coredump-rewrite, and its input's debug file was not found by build id \
                     (use --debug-dir or --symbol-server, or give the original module): only function names are shown",
                    module.display()
                )),
            }
        }
        let mut locator = DebugInfoLocator::new();
        for dir in &options.debug_dirs {
            locator = locator.with_debug_dir(dir);
        }
        for fetcher in options.fetchers {
            locator = locator.with_fetcher(fetcher);
        }
        let symbols = if rewritten && !file.has_embedded_dwarf() {
            Symbolicator::names_only(
                file.clone(),
                "the rewritten module's own code does not match the dump's offsets",
            )
        } else {
            match Symbolicator::new(file.clone(), &locator) {
                Ok(s) => s,
                Err(
                    e @ (wasm_symbolicate::Error::Io { .. }
                    | wasm_symbolicate::Error::InvalidModule { .. }),
                ) if !file.layout().has_dwarf() && file.layout().build_id().is_none() => {
                    return Err(e.into());
                }
                Err(e) => {
                    warnings.push(format!("debug info not used: {e}"));
                    Symbolicator::names_only(file.clone(), &e.to_string())
                }
            }
        };
        warnings.extend(symbols.warnings().iter().cloned());
        if !symbols.source().found() {
            warnings.push(symbols.source().to_string());
        }
        // The dump should come from this module.
        if let (Some(ours), Some(theirs)) = (
            symbols.layout().build_id(),
            dump.modules.first().and_then(|m| m.build_id.as_ref()),
        ) && ours != theirs
        {
            warnings.push(format!(
                "the core dump's module has build id {theirs}, but {} has {ours}: symbols may be wrong",
                module.display()
            ));
        }
        if dump.modules.len() > 1 {
            warnings.push(format!(
                "the dump holds {} modules; only frames of the first are symbolicated",
                dump.modules.len()
            ));
        }
        let stack = StackModel::for_module(&dump, &symbols, &module_info, usize::MAX);
        let frames = source_frames(&dump, &symbols, true);
        let mut source_dirs = options.source_dirs;
        for dir in [module.parent(), core_name.parent()].into_iter().flatten() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            source_dirs.push(dir.to_path_buf());
        }
        Ok(Session {
            thread_order: (0..dump.threads.len()).collect(),
            dump,
            dump_path: core_name.to_owned(),
            symbols,
            module: module_info,
            stack,
            frames,
            selected: 0,
            history: Vec::new(),
            source_dirs,
            substitutions: Vec::new(),
            json: options.json,
            warnings,
            list_next: None,
            listsize: 10,
            examine: (Examine::default(), None),
            scopes: RefCell::new(HashMap::new()),
            disassembly: RefCell::new(None),
        })
    }

    /// The loaded dump.
    pub fn dump(&self) -> &CoreDump {
        &self.dump
    }

    pub fn symbols(&self) -> &Symbolicator {
        &self.symbols
    }

    /// Every source-level frame, youngest first (gdb's numbering).
    pub fn frames(&self) -> &[FrameEntry] {
        &self.frames
    }

    /// The selected frame number.
    pub fn selected_frame(&self) -> usize {
        self.selected
    }

    /// The selected thread's number in the dump (from 0, in file order).
    pub fn selected_thread(&self) -> usize {
        self.thread_order.first().copied().unwrap_or(0)
    }

    /// Makes the dump's thread `thread` (from 0, in file order) the one
    /// whose frames `bt`, `frame` and the rest show, with its youngest frame
    /// selected. Only the first thread of the file is the one that trapped.
    pub(crate) fn select_thread(&mut self, thread: usize) -> Result<()> {
        let Some(at) = self.thread_order.iter().position(|&t| t == thread) else {
            bail!("Invalid thread ID: {}", thread + 1);
        };
        if at == 0 {
            return Ok(());
        }
        self.dump.threads.swap(0, at);
        self.thread_order.swap(0, at);
        self.stack = StackModel::for_module(&self.dump, &self.symbols, &self.module, usize::MAX);
        self.frames = source_frames(&self.dump, &self.symbols, thread == 0);
        self.selected = 0;
        self.list_next = None;
        self.scopes.borrow_mut().clear();
        Ok(())
    }

    /// Whether results are printed as JSON (`--json`).
    pub fn json_output(&self) -> bool {
        self.json
    }

    /// Warnings from loading (missing DWARF, build-id mismatch…).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether no frame of the dump records locals (a native wasmtime dump).
    pub fn lacks_locals(&self) -> bool {
        self.dump.main_frames().iter().all(|f| f.locals.is_empty())
    }

    pub(crate) fn memory(&self) -> Option<&Memory> {
        let instance = self.dump.main_frames().first().map_or(0, |f| f.instance);
        self.dump
            .instance_memory(instance, 0)
            .or_else(|| self.dump.memories.first())
    }

    /// The variables in scope in frame `index` (cached per Wasm frame).
    pub(crate) fn scope(&self, index: usize) -> Result<Option<(Rc<Vec<FrameScope>>, usize)>> {
        let Some(entry) = self.frames.get(index) else {
            return Ok(None);
        };
        if entry.error.is_some() {
            return Ok(None);
        }
        let physical = entry.physical;
        if let Some(scopes) = self.scopes.borrow().get(&physical) {
            return Ok(Some((scopes.clone(), entry.inline_index)));
        }
        let Some(state) = self.stack.state(&self.dump, physical) else {
            return Ok(None);
        };
        let scopes = Rc::new(self.symbols.frame_variables(entry.location, &state)?);
        self.scopes.borrow_mut().insert(physical, scopes.clone());
        Ok(Some((scopes, entry.inline_index)))
    }

    /// The DWARF address of frame `index`, for unit-local lookups.
    pub(crate) fn frame_address(&self, index: usize) -> Option<DwarfAddress> {
        let entry = self.frames.get(index)?;
        self.symbols.layout().to_dwarf_address(entry.location).ok()
    }

    /// The whole-module offset of frame `index` (what gdb shows as the pc).
    pub fn frame_pc(&self, index: usize) -> Option<u64> {
        let entry = self.frames.get(index)?;
        self.symbols
            .layout()
            .to_module_offset(entry.location)
            .ok()
            .map(|o| o.0)
    }

    /// The source language of frame `index`, from its file name.
    pub(crate) fn language(&self, index: usize) -> Lang {
        let file = self
            .frames
            .get(index)
            .and_then(|f| f.source.file.as_deref())
            .unwrap_or("");
        if file.ends_with(".rs") {
            Lang::Rust
        } else {
            Lang::C
        }
    }

    pub(crate) fn language_name(&self, index: usize) -> &'static str {
        let file = self
            .frames
            .get(index)
            .and_then(|f| f.source.file.as_deref())
            .unwrap_or("");
        match file.rsplit('.').next() {
            Some("rs") => "rust",
            Some("zig") => "zig",
            Some("c" | "h") => "c",
            Some("cc" | "cpp" | "cxx" | "hpp") => "c++",
            _ => "unknown",
        }
    }

    /// An evaluation environment for the selected frame.
    pub(crate) fn env(&self) -> FrameEnv<'_> {
        FrameEnv {
            session: self,
            frame: self.selected,
        }
    }

    /// Parses and evaluates `text` in the selected frame.
    pub fn evaluate(&self, text: &str) -> Result<Obj> {
        let env = self.env();
        let parsed = expr::parse(text, &env)?;
        expr::evaluate(&parsed, &env)
    }

    pub(crate) fn disassembly(&self) -> Result<Disassembly> {
        if let Some(lines) = self.disassembly.borrow().as_ref() {
            return Ok(lines.clone());
        }
        let lines = Rc::new(crate::disasm::render(self.symbols.module().bytes())?);
        *self.disassembly.borrow_mut() = Some(lines.clone());
        Ok(lines)
    }

    /// The text shown when the session starts, as gdb shows on loading a core.
    pub fn banner(&mut self) -> String {
        let mut out = String::new();
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        let name = self
            .dump
            .executable_name
            .clone()
            .unwrap_or_else(|| self.symbols.module().display_name());
        out.push_str(&format!("Core was generated by `{name}'.\n"));
        match &self.dump.trap {
            Some(trap) => out.push_str(&format!(
                "Program terminated with wasm trap {}: {}.\n",
                trap.kind, trap.message
            )),
            None => out.push_str("Program terminated (the dump does not say why).\n"),
        }
        if self.dump.threads.is_empty() || self.frames.is_empty() {
            out.push_str("The dump has no stack frames.\n");
            return out;
        }
        if self.lacks_locals() {
            out.push_str(
                "note: this dump records no Wasm locals or operand stack (a native wasmtime dump): \
                 variables held in locals are unavailable; those in linear memory are found \
                 through the recovered stack pointer.\n",
            );
        }
        out.push_str(&self.frame_header(0));
        out
    }
}

/// The export that marks a module instrumented by coredump-rewrite.
const REWRITER_EXPORT: &str = "__coredump_ptr";

/// The debug file of a rewritten module's input, found by build id in the
/// debug directories or through the fetchers.
fn input_module_for(module: &ModuleFile, options: &Options) -> Option<(ModuleFile, String)> {
    use wasm_symbolicate::{DebugDirLayout, FetchRequest};
    let id = module.layout().build_id()?;
    let accept = |bytes: Vec<u8>, origin: String| -> Option<(ModuleFile, String)> {
        let file = ModuleFile::from_bytes(bytes, Some(PathBuf::from(&origin))).ok()?;
        (file.layout().build_id() == Some(id) && file.layout().code_payload().is_some())
            .then_some((file, origin))
    };
    for dir in &options.debug_dirs {
        for layout in [DebugDirLayout::DebugIdWasm, DebugDirLayout::BuildIdTree] {
            for path in layout.candidates(dir, id) {
                if let Ok(bytes) = std::fs::read(&path)
                    && let Some(found) = accept(bytes, path.display().to_string())
                {
                    return Some(found);
                }
            }
        }
    }
    let name = module.display_name();
    let request = FetchRequest {
        build_id: Some(id),
        external_debug_info: None,
        module_name: &name,
    };
    options.fetchers.iter().find_map(|f| {
        let fetched = f.fetch(&request).ok()??;
        accept(fetched.bytes, fetched.origin)
    })
}

/// wasmtime's native traps fold a `br_if` that leads only to `unreachable`
/// into one conditional trap, and report the `br_if`. The trap is the
/// `unreachable` on whichever side of the branch has one: the next
/// instruction (not taken), or the one after the target block's `end`
/// (taken). Had the other side run, nothing here would have trapped.
fn unreachable_after_br_if(
    wasm: &[u8],
    layout: &wasm_coredump::ModuleLayout,
    location: CodeLocation,
) -> Option<CodeLocation> {
    use wasmparser::{BinaryReader, FunctionBody, Operator};
    let body = layout.function_body(location.function)?;
    let bytes = wasm.get(body.clone())?;
    let reader = FunctionBody::new(BinaryReader::new(bytes, body.start));
    let mut ops = reader.get_operators_reader().ok()?;
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        Open { is_loop: bool },
        End,
        BrIf(u32),
        Unreachable,
        Other,
    }
    let mut list: Vec<(Op, u32)> = Vec::new();
    while !ops.eof() {
        let (op, at) = ops.read_with_offset().ok()?;
        let op = match op {
            Operator::Block { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => Op::Open { is_loop: false },
            Operator::Loop { .. } => Op::Open { is_loop: true },
            Operator::End => Op::End,
            Operator::BrIf { relative_depth } => Op::BrIf(relative_depth),
            Operator::Unreachable => Op::Unreachable,
            _ => Op::Other,
        };
        list.push((op, (at - body.start) as u32));
    }
    let at = list.iter().position(|(_, o)| *o == location.offset)?;
    let Op::BrIf(depth) = list[at].0 else {
        return None;
    };
    let found = |index: usize| {
        list.get(index).and_then(|(op, offset)| {
            (*op == Op::Unreachable).then_some(CodeLocation {
                function: location.function,
                offset: *offset,
            })
        })
    };
    if let Some(hit) = found(at + 1) {
        return Some(hit);
    }
    // The target: the depth-th enclosing construct; it must be a block.
    let mut stack: Vec<(bool, usize)> = vec![(false, usize::MAX)];
    let mut target = None;
    for (i, (op, _)) in list.iter().enumerate() {
        if i == at {
            let t = stack.len().checked_sub(1 + depth as usize)?;
            let (is_loop, _) = stack[t];
            if is_loop {
                return None;
            }
            target = Some(t);
        }
        match op {
            Op::Open { is_loop } => stack.push((*is_loop, i)),
            Op::End => {
                if let Some(t) = target
                    && stack.len() == t + 1
                {
                    return found(i + 1);
                }
                stack.pop();
            }
            _ => {}
        }
    }
    None
}

/// Expression environment of one frame.
pub(crate) struct FrameEnv<'a> {
    pub(crate) session: &'a Session,
    pub(crate) frame: usize,
}

pub(crate) fn obj_of(ty: Type, value: &VariableValue, address: Option<u64>) -> Obj {
    let data = match value {
        VariableValue::Bytes(b) => Data::Bytes(b.clone()),
        VariableValue::OptimizedOut => Data::Missing("<optimized out>".into()),
        VariableValue::Unavailable(e) => Data::Missing(e.to_string()),
    };
    Obj { ty, data, address }
}

fn wasm_obj(value: Option<Value>) -> Result<Obj> {
    use crate::expr::eval::base_type;
    let (ty, bytes) = match value {
        Some(Value::I32(v)) => (
            base_type("int", gimli::DW_ATE_signed, 4),
            v.to_le_bytes().to_vec(),
        ),
        Some(Value::I64(v)) => (
            base_type("long long", gimli::DW_ATE_signed, 8),
            v.to_le_bytes().to_vec(),
        ),
        Some(Value::F32(v)) => (
            base_type("float", gimli::DW_ATE_float, 4),
            v.to_le_bytes().to_vec(),
        ),
        Some(Value::F64(v)) => (
            base_type("double", gimli::DW_ATE_float, 8),
            v.to_le_bytes().to_vec(),
        ),
        Some(Value::V128(v)) => (
            Type {
                name: "v128".into(),
                size: Some(16),
                kind: TypeKind::Base {
                    encoding: gimli::DW_ATE_unsigned,
                },
            },
            v.to_le_bytes().to_vec(),
        ),
        Some(Value::RefNull(kind)) => {
            return Ok(Obj {
                ty: Type::void(),
                data: Data::Missing(format!("ref.null {kind}")),
                address: None,
            });
        }
        Some(Value::Missing) | None => {
            return Ok(Obj {
                ty: base_type("int", gimli::DW_ATE_signed, 4),
                data: Data::Missing("<not saved>".into()),
                address: None,
            });
        }
    };
    Ok(Obj {
        ty,
        data: Data::Bytes(bytes),
        address: None,
    })
}

impl FrameEnv<'_> {
    fn local_variable(&self, name: &str) -> Result<Option<Obj>> {
        let Some((scopes, index)) = self.session.scope(self.frame)? else {
            return Ok(None);
        };
        let Some(scope) = scopes.get(index) else {
            return Ok(None);
        };
        // Inner blocks come last; they shadow outer names.
        Ok(scope
            .variables
            .iter()
            .rev()
            .find(|v| v.name == name)
            .map(|v| obj_of(v.ty.clone(), &v.value, v.address)))
    }
}

impl Env for FrameEnv<'_> {
    fn variable(&self, name: &str) -> Result<Option<Obj>> {
        if let Some(obj) = self.local_variable(name)? {
            return Ok(Some(obj));
        }
        let session = self.session;
        let physical = session.frames.get(self.frame).map_or(0, |f| f.physical);
        let near = session.frame_address(self.frame);
        let found = match session.stack.state(&session.dump, physical) {
            Some(state) => session.symbols.static_variable(name, near, &state)?,
            None => {
                let empty = wasm_coredump::Frame::default();
                let state = wasm_symbolicate::variables::DumpFrameState {
                    dump: &session.dump,
                    frame: &empty,
                };
                session.symbols.static_variable(name, near, &state)?
            }
        };
        if let Some(found) = found {
            return Ok(Some(obj_of(found.ty, &found.value, found.address)));
        }
        // Enumerators name constants: `p color == GREEN`.
        Ok(session
            .symbols
            .enumerator(name)?
            .map(|(ty, value)| Obj::from_int(value, ty)))
    }

    fn dollar(&self, name: &str) -> Result<Obj> {
        let session = self.session;
        let history = &session.history;
        let from_end = |back: usize| -> Result<Obj> {
            match history
                .len()
                .checked_sub(1 + back)
                .and_then(|i| history.get(i))
            {
                Some(obj) => Ok(obj.clone()),
                None if history.is_empty() => bail!("History is empty."),
                None => bail!("History has not yet reached ${}.", back),
            }
        };
        if name.is_empty() {
            return from_end(0);
        }
        if name == "$" {
            return from_end(1);
        }
        if let Some(n) = name.strip_prefix('$')
            && let Ok(back) = n.parse::<usize>()
        {
            return from_end(back);
        }
        if let Ok(n) = name.parse::<usize>() {
            return match n.checked_sub(1).and_then(|i| history.get(i)) {
                Some(obj) => Ok(obj.clone()),
                None => bail!("History has not yet reached ${n}."),
            };
        }
        let physical = session.frames.get(self.frame).map_or(0, |f| f.physical);
        let frame = session.dump.main_frames().get(physical);
        let number = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|n| n.parse::<u32>().ok())
        };
        if let Some(i) = number("local") {
            let Some(frame) = frame else {
                bail!("No frame selected.")
            };
            if frame.locals.is_empty()
                && let Some(state) = session.stack.state(&session.dump, physical)
            {
                use wasm_symbolicate::variables::FrameState;
                return wasm_obj(state.local(i));
            }
            return match frame.locals.get(i as usize) {
                Some(v) => wasm_obj(Some(*v)),
                None if frame.locals.is_empty() => wasm_obj(None),
                None => bail!(
                    "The frame has {} locals; there is no $local{i}.",
                    frame.locals.len()
                ),
            };
        }
        if let Some(i) = number("stack") {
            let Some(frame) = frame else {
                bail!("No frame selected.")
            };
            return match frame.stack.get(i as usize) {
                Some(v) => wasm_obj(Some(*v)),
                None if frame.stack.is_empty() => wasm_obj(None),
                None => bail!(
                    "The operand stack has {} values; there is no $stack{i}.",
                    frame.stack.len()
                ),
            };
        }
        if let Some(i) = number("global") {
            let instance = frame.map_or(0, |f| f.instance);
            return match session.dump.instance_global(instance, i) {
                Some(g) => wasm_obj(Some(g.value)),
                None => bail!("The instance has no global {i}."),
            };
        }
        if name == "sp" {
            return match session.stack.frame_sp(physical) {
                Some(sp) => Ok(Obj::from_int(
                    i128::from(sp),
                    expr::pointer_to(Type::void()),
                )),
                None => bail!("The stack pointer of this frame is not known."),
            };
        }
        if name == "pc" {
            return match session.frame_pc(self.frame) {
                Some(pc) => Ok(Obj::from_int(
                    i128::from(pc),
                    crate::expr::eval::base_type("unsigned int", gimli::DW_ATE_unsigned, 4),
                )),
                None => bail!("The pc of this frame is not known."),
            };
        }
        // gdb: unknown convenience variables are void.
        Ok(Obj {
            ty: Type::void(),
            data: Data::Bytes(Vec::new()),
            address: None,
        })
    }

    fn find_type(&self, name: &str) -> Result<Option<Type>> {
        Ok(self.session.symbols.find_type(name)?)
    }

    fn memory(&self) -> Option<&Memory> {
        self.session.memory()
    }
}

impl TypeOracle for FrameEnv<'_> {
    fn is_type(&self, name: &str) -> bool {
        if expr::builtin_type(name).is_some() {
            return true;
        }
        if matches!(self.local_variable(name), Ok(Some(_))) {
            return false;
        }
        matches!(self.session.symbols.find_type(name), Ok(Some(_)))
    }
}
