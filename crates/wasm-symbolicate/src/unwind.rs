//! Recovering each frame's stack pointer, so that memory-resident variables
//! can be found when the dump does not record them.
//!
//! Two problems, one answer. A dump's globals hold their values at the
//! trap, so `__stack_pointer` is right for the youngest frame only, while
//! optimised code uses it as every frame's frame base. And native wasmtime
//! dumps have no locals at all, while unoptimised code keeps its frame
//! pointer in a local. Both are fixed by reading each function's prologue
//! (`global.get $sp; i32.const N; i32.sub; local.set $fp; [global.set $sp]`),
//! which says how far the function moves the stack pointer and which locals
//! hold `sp - N`, then walking from the youngest frame (whose stack pointer
//! is the dumped global) to the oldest, each caller's stack pointer being
//! its callee's on entry. Where a frame does have locals, they anchor the
//! walk exactly.
//!
//! The model also records where each function writes its locals, so that a
//! local whose DWARF location is only valid before a later rewrite is shown
//! as optimized out rather than with a stale value. wasmgdb and the
//! collector both evaluate variables through it.

use std::collections::HashMap;

use crate::Symbolicator;
use crate::module_info::ModuleInfo;
use crate::variables::{DumpFrameState, FrameState, LocalWrites};
use wasm_coredump::{CoreDump, Frame, Memory, ModuleLayout, Value};
use wasmparser::{BinaryReader, FunctionBody, Operator};

/// What a function's prologue does to the stack pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prologue {
    /// Locals holding `sp_on_entry - offset`, by local index.
    pub locals: HashMap<u32, i64>,
    /// `Some(n)`: the function stores `sp_on_entry - n` back into the global.
    pub writes_back: Option<i64>,
}

#[derive(Clone, Copy)]
enum Sym {
    /// `sp_on_entry - offset`.
    Sp(i64),
    Const(i64),
}

/// Reads the start of a function body (at most a few dozen instructions,
/// up to the first one that is not part of a stack-pointer prologue).
pub fn analyze_prologue(body: &[u8], offset: usize, sp_global: u32) -> Prologue {
    let mut prologue = Prologue::default();
    let body = FunctionBody::new(BinaryReader::new(body, offset));
    let Ok(mut ops) = body.get_operators_reader() else {
        return prologue;
    };
    let mut stack: Vec<Option<Sym>> = Vec::new();
    let mut locals: HashMap<u32, Sym> = HashMap::new();
    for _ in 0..48 {
        let Ok(op) = ops.read() else { break };
        match op {
            Operator::GlobalGet { global_index } if global_index == sp_global => {
                stack.push(Some(Sym::Sp(0)))
            }
            Operator::I32Const { value } => stack.push(Some(Sym::Const(i64::from(value)))),
            Operator::LocalGet { local_index } => {
                stack.push(locals.get(&local_index).copied());
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                let tee = matches!(op, Operator::LocalTee { .. });
                let Some(value) = stack.pop() else { break };
                match value {
                    Some(sym) => {
                        locals.insert(local_index, sym);
                    }
                    None => {
                        locals.remove(&local_index);
                    }
                }
                if tee {
                    stack.push(value);
                }
            }
            Operator::I32Sub | Operator::I32Add => {
                let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                    break;
                };
                let sub = matches!(op, Operator::I32Sub);
                stack.push(match (a, b) {
                    (Some(Sym::Sp(s)), Some(Sym::Const(c))) => {
                        Some(Sym::Sp(if sub { s + c } else { s - c }))
                    }
                    (Some(Sym::Const(c)), Some(Sym::Sp(s))) if !sub => Some(Sym::Sp(s - c)),
                    (Some(Sym::Const(x)), Some(Sym::Const(y))) => {
                        Some(Sym::Const(if sub { x - y } else { x + y }))
                    }
                    _ => None,
                });
            }
            Operator::GlobalSet { global_index } if global_index == sp_global => {
                match stack.pop() {
                    Some(Some(Sym::Sp(n))) => prologue.writes_back = Some(n),
                    _ => break,
                }
            }
            _ => break,
        }
    }
    prologue.locals = locals
        .into_iter()
        .filter_map(|(i, s)| match s {
            Sym::Sp(n) => Some((i, n)),
            Sym::Const(_) => None,
        })
        .collect();
    prologue
}

/// Every `local.set`/`local.tee` of a body: (local, offset from the body start).
pub fn local_writes(body: &[u8], offset: usize) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let body = FunctionBody::new(BinaryReader::new(body, offset));
    let Ok(mut ops) = body.get_operators_reader() else {
        return out;
    };
    while !ops.eof() {
        let Ok((op, at)) = ops.read_with_offset() else {
            break;
        };
        if let Operator::LocalSet { local_index } | Operator::LocalTee { local_index } = op {
            out.push((local_index, at.saturating_sub(offset) as u32));
        }
    }
    out
}

/// The stack pointer of every physical frame, youngest first, and how each
/// frame's function writes its locals.
#[derive(Debug, Clone, Default)]
pub struct StackModel {
    pub sp_global: Option<u32>,
    frames: Vec<FrameSp>,
    writes: HashMap<u32, Vec<(u32, u32)>>,
    params: HashMap<u32, u32>,
}

#[derive(Debug, Clone, Default)]
struct FrameSp {
    /// The stack pointer on entry.
    entry: Option<u64>,
    /// The stack pointer while the body runs (after the prologue).
    current: Option<u64>,
    prologue: Prologue,
}

impl StackModel {
    /// The model of the `youngest` youngest frames of the dump's main thread
    /// (`usize::MAX`: all of them), for the module `symbolicator` reads and
    /// `info` describes. A frame's stack pointer depends only on the frames
    /// younger than it, so asking for frame N needs N + 1 frames.
    pub fn for_module(
        dump: &CoreDump,
        symbolicator: &Symbolicator,
        info: &ModuleInfo,
        youngest: usize,
    ) -> Self {
        Self::build(
            dump,
            symbolicator.layout(),
            symbolicator.module().bytes(),
            info.stack_pointer(),
            &info.param_counts,
            youngest,
        )
    }

    /// Walks the `youngest` youngest frames of the dump's main thread (see
    /// the module docs).
    pub fn build(
        dump: &CoreDump,
        layout: &ModuleLayout,
        wasm: &[u8],
        sp_global: Option<u32>,
        param_counts: &[u32],
        youngest: usize,
    ) -> Self {
        let all = dump.main_frames();
        let frames = &all[..youngest.min(all.len())];
        let mut writes = HashMap::new();
        let mut params = HashMap::new();
        for f in frames {
            if writes.contains_key(&f.function) {
                continue;
            }
            let found = layout
                .function_body(f.function)
                .and_then(|range| Some((wasm.get(range.clone())?, range.start)))
                .map(|(bytes, start)| local_writes(bytes, start))
                .unwrap_or_default();
            writes.insert(f.function, found);
            params.insert(
                f.function,
                param_counts.get(f.function as usize).copied().unwrap_or(0),
            );
        }
        let Some(sp) = sp_global else {
            return StackModel {
                sp_global,
                frames: vec![FrameSp::default(); frames.len()],
                writes,
                params,
            };
        };
        let prologues: Vec<Prologue> = frames
            .iter()
            .map(|f| {
                layout
                    .function_body(f.function)
                    .and_then(|range| Some((wasm.get(range.clone())?, range.start)))
                    .map(|(bytes, start)| analyze_prologue(bytes, start, sp))
                    .unwrap_or_default()
            })
            .collect();
        let global = frames
            .first()
            .and_then(|f| dump.instance_global(f.instance, sp))
            .and_then(|g| g.value.as_u64());
        let mut out = Vec::with_capacity(frames.len());
        // The youngest frame runs on the dumped stack pointer.
        let mut current = global;
        for (frame, prologue) in frames.iter().zip(prologues) {
            // A local holding sp - n pins the entry value exactly.
            let anchored = prologue.locals.iter().find_map(|(&i, &n)| {
                let v = frame.locals.get(i as usize)?.as_u64()?;
                Some((v as i64 + n) as u64 & 0xffff_ffff)
            });
            let entry = anchored.or_else(|| {
                current.map(|c| (c as i64 + prologue.writes_back.unwrap_or(0)) as u64 & 0xffff_ffff)
            });
            let here = match (anchored, prologue.writes_back) {
                (Some(e), Some(n)) => Some((e as i64 - n) as u64 & 0xffff_ffff),
                (Some(e), None) => Some(e),
                _ => current,
            };
            out.push(FrameSp {
                entry,
                current: here,
                prologue,
            });
            // The caller's stack pointer is this frame's on entry.
            current = entry;
        }
        StackModel {
            sp_global,
            frames: out,
            writes,
            params,
        }
    }

    /// The frame state for physical frame `index`, with the stack pointer
    /// and prologue locals filled in where the dump lacks or misstates them.
    pub fn state<'a>(&'a self, dump: &'a CoreDump, index: usize) -> Option<FrameWithSp<'a>> {
        let frame = dump.main_frames().get(index)?;
        Some(FrameWithSp {
            inner: DumpFrameState { dump, frame },
            frame,
            sp_global: self.sp_global,
            sp: self.frames.get(index),
            youngest: index == 0,
            writes: self.writes.get(&frame.function).map(Vec::as_slice),
            params: self.params.get(&frame.function).copied(),
        })
    }

    /// The stack pointer while frame `index` runs, as recovered.
    pub fn frame_sp(&self, index: usize) -> Option<u64> {
        self.frames.get(index).and_then(|f| f.current)
    }
}

/// A dumped frame seen through the [`StackModel`].
pub struct FrameWithSp<'a> {
    inner: DumpFrameState<'a>,
    frame: &'a Frame,
    sp_global: Option<u32>,
    sp: Option<&'a FrameSp>,
    youngest: bool,
    writes: Option<&'a [(u32, u32)]>,
    params: Option<u32>,
}

impl FrameWithSp<'_> {
    /// Whether the value of local `index` is recovered, not dumped.
    pub fn is_recovered_local(&self, index: u32) -> bool {
        self.frame
            .locals
            .get(index as usize)
            .is_none_or(|v| *v == Value::Missing)
            && self.recovered_local(index).is_some()
    }

    fn recovered_local(&self, index: u32) -> Option<Value> {
        let sp = self.sp?;
        let n = *sp.prologue.locals.get(&index)?;
        let entry = sp.entry?;
        Some(Value::I32((entry as i64 - n) as u32 as i32))
    }
}

impl FrameState for FrameWithSp<'_> {
    fn local(&self, index: u32) -> Option<Value> {
        match self.inner.local(index) {
            Some(Value::Missing) | None => self.recovered_local(index),
            found => found,
        }
    }

    fn global(&self, index: u32) -> Option<Value> {
        if !self.youngest
            && Some(index) == self.sp_global
            && let Some(current) = self.sp.and_then(|s| s.current)
        {
            return Some(Value::I32(current as u32 as i32));
        }
        self.inner.global(index)
    }

    fn stack(&self, index: u32) -> Option<Value> {
        self.inner.stack(index)
    }

    fn memory(&self) -> Option<&Memory> {
        self.inner.memory()
    }

    fn local_writes(&self, index: u32) -> Option<LocalWrites> {
        let writes = self.writes?;
        let pc = self.frame.code_offset;
        let mut out = LocalWrites {
            is_param: index < self.params?,
            ..LocalWrites::default()
        };
        for &(local, at) in writes.iter().filter(|(l, _)| *l == index) {
            let _ = local;
            out.total += 1;
            if at < pc {
                out.before_pc += 1;
            }
        }
        Some(out)
    }
}
