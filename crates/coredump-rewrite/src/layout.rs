//! Where everything the rewriter adds goes: new types, functions (helpers
//! then wrappers, after every existing function), globals and exports.

use std::collections::{BTreeSet, HashMap};

use wasm_encoder::{AbstractHeapType, HeapType, RefType, ValType};

use crate::analysis::{Plan, TableKind};
use crate::asm::Ax;
use crate::module::Input;
use crate::sites::{Check, TruncOp};
use crate::{Error, Options};

/// Value types a dump frame can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Num {
    I32,
    I64,
    F32,
    F64,
}

impl Num {
    pub fn of(ty: wasmparser::ValType) -> Option<Num> {
        match ty {
            wasmparser::ValType::I32 => Some(Num::I32),
            wasmparser::ValType::I64 => Some(Num::I64),
            wasmparser::ValType::F32 => Some(Num::F32),
            wasmparser::ValType::F64 => Some(Num::F64),
            _ => None,
        }
    }

    pub fn ty(self) -> ValType {
        match self {
            Num::I32 => ValType::I32,
            Num::I64 => ValType::I64,
            Num::F32 => ValType::F32,
            Num::F64 => ValType::F64,
        }
    }

    /// The core-dump value tag.
    pub fn tag(self) -> u8 {
        match self {
            Num::I32 => 0x7f,
            Num::I64 => 0x7e,
            Num::F32 => 0x7d,
            Num::F64 => 0x7c,
        }
    }
}

/// The most values one `V` helper records.
pub(crate) const MAX_ARITY: u8 = 4;
/// The most locals one `FrameN` helper takes: a landing pad passes them all
/// in one call, so that none has to survive a call (which would make the
/// function save callee-saved registers on every entry).
pub(crate) const FRAME_MAX: u8 = 16;

/// Tags of the values `FrameN` takes (3 bits each, in an i64).
pub(crate) mod tag {
    pub const I32: i64 = 1;
    pub const I64: i64 = 2;
    pub const F32: i64 = 3;
    pub const F64: i64 = 4;
    pub const MISSING: i64 = 5;
}

/// The functions the rewriter adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Helper {
    /// Starts a dump (idempotent until the trap kind is set).
    Start,
    /// `(n) -> ok`: makes room for `n` more bytes.
    Ensure,
    U8,
    Uleb,
    Uleb64,
    Sleb64,
    /// `(value, signed)`: LEB128 of an i64.
    Leb,
    Raw4,
    Raw8,
    Reserve5,
    Patch5,
    /// `(code offset, function index)`: opens a frame.
    Frame,
    /// `(code offset, function index, tags, v0..vN-1: i64)`: opens a frame and
    /// records its first N locals.
    FrameN(u8),
    /// `(tag, bits)`: records one local.
    Val,
    CloseFrame,
    Finish,
    Raise,
    /// Finish the dump, then trap for real.
    RootEnd,

    /// Record `n` values of one type as frame locals.
    V(Num, u8),
    /// `(n)`: record `n` locals as missing.
    VMissing,
    /// Spill one operand-stack value of the trapping frame.
    Sp(Num),
    /// `(tag, bits)`: what `Sp` calls.
    SpRaw,
    SpMissing,
    /// `(n)`: the trapping frame has `n` more values below, unknown.
    SpBelow,
    Check(Check),
    /// The exact check of a `call_indirect` (which trap, if any), off its
    /// inline fast path.
    CallIndirect(u32),
    StackOverflow,
    DataScan(u32),
    Ptr,
    Len,
}

/// Indices of the globals the rewriter adds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Globals {
    /// Internal trap kind while unwinding, 0 otherwise.
    pub u: u32,
    /// Wrapper token: slot + 1 of the `call_indirect` in progress.
    pub wc: u32,
    pub base: u32,
    pub cap: u32,
    pub pre: u32,
    pub w: u32,
    pub len: u32,
    pub oom: u32,
    pub nfr: u32,
    pub fopen: u32,
    pub lcpos: u32,
    pub lc: u32,
    pub stkpos: u32,
    pub nfrpos: u32,
    pub pn: u32,
    pub pm: u32,
    pub te: u32,
    pub tt: u32,
    pub depth: u32,
    /// 1 once `Start` has set up the dump of the current trap.
    pub started: u32,
    /// Operand values an inline check stashed for the trapping frame's stack
    /// (top first), and their count and tags (`count | tag0 << 2 | tag1 << 5`).
    pub spv0: u32,
    pub spv1: u32,
    pub spt: u32,
    /// Expected signature class of a failed `call_indirect`.
    pub cls: u32,
}

/// Internal trap kinds (the value of the `u` global while unwinding).
pub(crate) mod kind {
    pub const UNREACHABLE: i32 = 1;
    pub const DIV_ZERO: i32 = 2;
    pub const DIV_OVERFLOW: i32 = 3;
    pub const TRUNC_OVERFLOW: i32 = 4;
    pub const BAD_CONVERSION: i32 = 5;
    pub const MEMORY_OOB: i32 = 6;
    pub const CALL_TABLE_OOB: i32 = 7;
    pub const CALL_NULL: i32 = 8;
    pub const CALL_SIGNATURE: i32 = 9;
    pub const TABLE_OOB: i32 = 10;
    pub const STACK_OVERFLOW: i32 = 11;
    pub const UNALIGNED: i32 = 12;
    /// Set by `Start` until the real kind is known.
    pub const PENDING: i32 = 255;
    /// A `call_indirect` check failed; `Frame` works out which way.
    pub const CI_PENDING: i32 = 254;

    /// Kind, dump name (`TrapKind`), message.
    pub const ALL: [(i32, &str, &str); 12] = [
        (UNREACHABLE, "unreachable", "unreachable"),
        (DIV_ZERO, "integer-divide-by-zero", "integer divide by zero"),
        (DIV_OVERFLOW, "integer-overflow", "integer overflow"),
        (TRUNC_OVERFLOW, "integer-overflow", "integer overflow"),
        (
            BAD_CONVERSION,
            "bad-conversion-to-integer",
            "invalid conversion to integer",
        ),
        (
            MEMORY_OOB,
            "memory-out-of-bounds",
            "out of bounds memory access",
        ),
        (CALL_TABLE_OOB, "table-out-of-bounds", "undefined element"),
        (CALL_NULL, "indirect-call-to-null", "uninitialized element"),
        (
            CALL_SIGNATURE,
            "bad-signature",
            "indirect call type mismatch",
        ),
        (
            TABLE_OOB,
            "table-out-of-bounds",
            "out of bounds table access",
        ),
        (STACK_OVERFLOW, "stack-overflow", "call stack exhausted"),
        (UNALIGNED, "unaligned-atomic", "unaligned atomic"),
    ];
}

/// Bytes of the pending-stack area at the start of the scratch region.
pub(crate) const PEND_SLOTS: i32 = 256;
pub(crate) const PEND_BYTES: i64 = 16 * PEND_SLOTS as i64;

/// The `V` helpers to record a run of `n` locals of one type: as many
/// values per call as possible.
pub(crate) fn arity_split(n: u32) -> impl Iterator<Item = u8> {
    let max = u32::from(MAX_ARITY);
    let full = n / max;
    let rest = n % max;
    std::iter::repeat_n(MAX_ARITY, full as usize).chain((rest > 0).then_some(rest as u8))
}

impl Helper {
    /// The name given to the helper in the `name` section.
    pub fn name(self) -> String {
        let num = |n: Num| match n {
            Num::I32 => "i32",
            Num::I64 => "i64",
            Num::F32 => "f32",
            Num::F64 => "f64",
        };
        match self {
            Helper::V(n, a) => format!("coredump:v_{}x{a}", num(n)),
            Helper::Sp(n) => format!("coredump:spill_{}", num(n)),
            Helper::Check(c) => format!("coredump:check_{c:?}"),
            Helper::CallIndirect(t) => format!("coredump:call_indirect_{t}"),
            Helper::DataScan(m) => format!("coredump:data_{m}"),
            Helper::FrameN(n) => format!("coredump:frame{n}"),
            other => format!("coredump:{}", format!("{other:?}").to_lowercase()),
        }
    }
}

/// Export names of the ABI.
pub const EXPORT_PTR: &str = "__coredump_ptr";
pub const EXPORT_LEN: &str = "__coredump_len";
pub const EXPORT_MEMORY: &str = "__coredump_memory";

/// Converts a parser value type to an encoder one.
pub(crate) fn ev(ty: wasmparser::ValType) -> Result<ValType, Error> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ValType::Ref(eref(r)?),
    })
}

pub(crate) fn eref(ty: wasmparser::RefType) -> Result<RefType, Error> {
    use wasmparser::AbstractHeapType as P;
    let index = |i: wasmparser::UnpackedIndex| {
        i.as_module_index()
            .ok_or_else(|| Error::Limit("reference to a type by recursion-group index".into()))
    };
    let heap_type = match ty.heap_type() {
        wasmparser::HeapType::Abstract { shared, ty } => HeapType::Abstract {
            shared,
            ty: match ty {
                P::Func => AbstractHeapType::Func,
                P::Extern => AbstractHeapType::Extern,
                P::Any => AbstractHeapType::Any,
                P::None => AbstractHeapType::None,
                P::NoExtern => AbstractHeapType::NoExtern,
                P::NoFunc => AbstractHeapType::NoFunc,
                P::Eq => AbstractHeapType::Eq,
                P::Struct => AbstractHeapType::Struct,
                P::Array => AbstractHeapType::Array,
                P::I31 => AbstractHeapType::I31,
                P::Exn => AbstractHeapType::Exn,
                P::NoExn => AbstractHeapType::NoExn,
                P::Cont => AbstractHeapType::Cont,
                P::NoCont => AbstractHeapType::NoCont,
            },
        },
        wasmparser::HeapType::Concrete(i) => HeapType::Concrete(index(i)?),
        wasmparser::HeapType::Exact(i) => HeapType::Exact(index(i)?),
    };
    Ok(RefType {
        nullable: ty.is_nullable(),
        heap_type,
    })
}

/// For a static table: the class of every slot (0 = null) and the class of
/// each signature class found in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct StaticTable {
    pub slots: Vec<u32>,
    pub class_of_sig: HashMap<u32, u32>,
    pub classes: u32,
    /// For each class, its longest run of consecutive slots `[first, last]`:
    /// the inline fast path of `call_indirect` checks only that.
    pub runs: HashMap<u32, (u64, u64)>,
}

/// The layout of everything added.
pub(crate) struct Layout {
    pub func_base: u32,
    pub helpers: Vec<Helper>,
    helper_index: HashMap<Helper, u32>,
    pub wrapper_base: u32,
    pub type_base: u32,
    pub new_types: Vec<(Vec<ValType>, Vec<ValType>)>,
    type_map: HashMap<(Vec<ValType>, Vec<ValType>), u32>,
    pub global_base: u32,
    pub new_globals: Vec<ValType>,
    pub g: Globals,
    /// Index type and page size of the scratch memory (memory 0).
    pub s: Ax,
    pub s_log2: u32,
    /// The input has no memory: one is added for the dump.
    pub add_memory: bool,
    /// A function type no table element has, for replaying `call_indirect` traps.
    pub weird_type: Option<u32>,
    pub static_tables: HashMap<u32, StaticTable>,
    /// Internal trap kinds that can happen.
    pub kinds: BTreeSet<i32>,
    /// Block types `[] -> results` for functions with several results.
    pub multi_block: HashMap<Vec<ValType>, u32>,
    /// Globals set to 1 when a data segment is dropped.
    pub data_dropped: HashMap<u32, u32>,
    /// Globals set to 1 when an element segment is dropped.
    pub elem_dropped: HashMap<u32, u32>,
}

impl Layout {
    pub fn helper(&self, h: Helper) -> u32 {
        // Every helper used is registered in `Layout::new`; a missing one is a
        // bug that validation of the output would report.
        self.helper_index.get(&h).copied().unwrap_or(u32::MAX)
    }

    pub fn has_helper(&self, h: Helper) -> bool {
        self.helper_index.contains_key(&h)
    }

    pub fn wrapper(&self, index: usize) -> u32 {
        self.wrapper_base + index as u32
    }

    pub fn func_type(&mut self, params: Vec<ValType>, results: Vec<ValType>) -> u32 {
        let key = (params, results);
        if let Some(&t) = self.type_map.get(&key) {
            return t;
        }
        let t = self.type_base + self.new_types.len() as u32;
        self.new_types.push(key.clone());
        self.type_map.insert(key, t);
        t
    }

    /// The index of a type registered with [`Layout::func_type`].
    pub fn type_of(&self, params: &[ValType], results: &[ValType]) -> Result<u32, Error> {
        self.type_map
            .get(&(params.to_vec(), results.to_vec()))
            .copied()
            .ok_or_else(|| Error::Limit("internal: helper type not registered".into()))
    }

    fn global(&mut self, ty: ValType) -> u32 {
        self.new_globals.push(ty);
        self.global_base + self.new_globals.len() as u32 - 1
    }

    /// Decides the layout.
    pub fn new(input: &Input<'_>, plan: &Plan, opts: &Options) -> Result<Self, Error> {
        let (s, s_log2) = match input.memories.first() {
            Some(m) => (
                Ax {
                    is64: m.ty.memory64,
                },
                m.page_size_log2(),
            ),
            None => (Ax { is64: false }, 16),
        };
        let mut lay = Layout {
            func_base: input.total_funcs(),
            helpers: Vec::new(),
            helper_index: HashMap::new(),
            wrapper_base: 0,
            type_base: input.types.len() as u32,
            new_types: Vec::new(),
            type_map: HashMap::new(),
            global_base: input.globals.len() as u32,
            new_globals: Vec::new(),
            g: Globals::default(),
            s,
            s_log2,
            add_memory: input.memories.is_empty(),
            weird_type: None,
            static_tables: HashMap::new(),
            kinds: BTreeSet::new(),
            multi_block: HashMap::new(),
            data_dropped: HashMap::new(),
            elem_dropped: HashMap::new(),
        };
        if !plan.active() {
            lay.wrapper_base = lay.func_base;
            return Ok(lay);
        }
        let a = s.ty();
        let i32_ = ValType::I32;
        lay.g = Globals {
            u: lay.global(i32_),
            wc: lay.global(i32_),
            base: lay.global(a),
            cap: lay.global(a),
            pre: lay.global(a),
            w: lay.global(a),
            len: lay.global(a),
            oom: lay.global(i32_),
            nfr: lay.global(i32_),
            fopen: lay.global(i32_),
            lcpos: lay.global(a),
            lc: lay.global(i32_),
            stkpos: lay.global(a),
            nfrpos: lay.global(a),
            pn: lay.global(i32_),
            pm: lay.global(i32_),
            te: lay.global(ValType::I64),
            tt: lay.global(i32_),
            depth: if opts.call_depth_limit.is_some() {
                lay.global(i32_)
            } else {
                u32::MAX
            },
            started: 0,
            spv0: 0,
            spv1: 0,
            spt: 0,
            cls: 0,
        };
        lay.g.started = lay.global(i32_);
        lay.g.spv0 = lay.global(ValType::I64);
        lay.g.spv1 = lay.global(ValType::I64);
        lay.g.spt = lay.global(i32_);
        lay.g.cls = lay.global(i32_);

        let mut dropped: Vec<u32> = plan.dropped_data.iter().copied().collect();
        dropped.sort_unstable();
        for d in dropped {
            let gl = lay.global(i32_);
            lay.data_dropped.insert(d, gl);
        }
        let mut dropped: Vec<u32> = plan.dropped_elems.iter().copied().collect();
        dropped.sort_unstable();
        for e in dropped {
            let gl = lay.global(i32_);
            lay.elem_dropped.insert(e, gl);
        }

        // Which helpers exist.
        let mut helpers: BTreeSet<Helper> = [
            Helper::Start,
            Helper::Ensure,
            Helper::U8,
            Helper::Uleb,
            Helper::Uleb64,
            Helper::Sleb64,
            Helper::Leb,
            Helper::Raw4,
            Helper::Raw8,
            Helper::Reserve5,
            Helper::Patch5,
            Helper::Frame,
            Helper::CloseFrame,
            Helper::Finish,
            Helper::Raise,
            Helper::RootEnd,
            Helper::VMissing,
            Helper::Sp(Num::I32),
            Helper::Sp(Num::I64),
            Helper::Sp(Num::F32),
            Helper::Sp(Num::F64),
            Helper::SpMissing,
            Helper::SpRaw,
            Helper::SpBelow,
            Helper::Val,
            Helper::Ptr,
            Helper::Len,
        ]
        .into_iter()
        .collect();
        for &n in &plan.frame_ns {
            helpers.insert(Helper::FrameN(n));
        }
        for &(num, n) in &plan.arities {
            helpers.insert(Helper::V(num, n));
            helpers.insert(Helper::V(num, 1));
        }
        let any_unreachable = opts.checks.unreachable;
        if any_unreachable {
            lay.kinds.insert(kind::UNREACHABLE);
        }
        for check in &plan.checks {
            if !check_supported(input, plan, *check) {
                continue;
            }
            // Division and conversions are checked inline.
            if !matches!(check, Check::Div(_) | Check::Trunc(_)) {
                helpers.insert(Helper::Check(*check));
            }
            match check {
                Check::Div(op) => {
                    lay.kinds.insert(kind::DIV_ZERO);
                    if op.overflows() {
                        lay.kinds.insert(kind::DIV_OVERFLOW);
                    }
                }
                Check::Trunc(_) => {
                    lay.kinds.insert(kind::TRUNC_OVERFLOW);
                    lay.kinds.insert(kind::BAD_CONVERSION);
                }
                Check::Fill(_) | Check::Copy(..) | Check::Init(..) | Check::Bounds(_) => {
                    lay.kinds.insert(kind::MEMORY_OOB);
                }
                Check::Atomic(_) => {
                    lay.kinds.insert(kind::MEMORY_OOB);
                    lay.kinds.insert(kind::UNALIGNED);
                }
                Check::TableGet(_)
                | Check::TableSet(_)
                | Check::TableFill(_)
                | Check::TableCopy(..)
                | Check::TableInit(..) => {
                    lay.kinds.insert(kind::TABLE_OOB);
                }
            }
        }
        for &t in &plan.ci_helpers {
            helpers.insert(Helper::CallIndirect(t));
            lay.kinds.insert(kind::CALL_TABLE_OOB);
            lay.kinds.insert(kind::CALL_NULL);
            if matches!(plan.tables.get(t as usize), Some(TableKind::Static { .. }))
                && !input.gc_types
            {
                lay.kinds.insert(kind::CALL_SIGNATURE);
            }
        }
        if opts.call_depth_limit.is_some() {
            lay.kinds.insert(kind::STACK_OVERFLOW);
        }
        if lay.kinds.contains(&kind::STACK_OVERFLOW) {
            helpers.insert(Helper::StackOverflow);
        }
        for m in 0..input.memories.len() as u32 {
            helpers.insert(Helper::DataScan(m));
        }

        // Static table classes.
        for (t, kind_) in plan.tables.iter().enumerate() {
            if let TableKind::Static { slots } = kind_ {
                let mut st = StaticTable::default();
                for slot in slots {
                    let class = match slot {
                        None => 0,
                        Some(sig) => {
                            let next = st.class_of_sig.len() as u32 + 1;
                            *st.class_of_sig
                                .entry(if input.gc_types { 0 } else { *sig })
                                .or_insert(next)
                        }
                    };
                    st.slots.push(class);
                }
                st.classes = st.class_of_sig.len() as u32 + 1;
                let mut i = 0;
                while i < st.slots.len() {
                    let class = st.slots[i];
                    let mut j = i;
                    while j + 1 < st.slots.len() && st.slots[j + 1] == class {
                        j += 1;
                    }
                    if class != 0 {
                        let run = st.runs.entry(class).or_insert((i as u64, j as u64));
                        if j - i > (run.1 - run.0) as usize {
                            *run = (i as u64, j as u64);
                        }
                    }
                    i = j + 1;
                }
                lay.static_tables.insert(t as u32, st);
            }
        }

        // Replaying a call_indirect trap needs a type no table element has.
        if !plan.ci_helpers.is_empty() {
            let mut params = vec![ValType::F64, ValType::F32, ValType::I64, ValType::F64];
            loop {
                let clash = input.types.iter().enumerate().any(|(i, t)| {
                    t.as_ref().is_some_and(|sig| {
                        input.singleton_types.get(i).copied().unwrap_or(false)
                            && sig.results.is_empty()
                            && sig.params.len() == params.len()
                            && sig
                                .params
                                .iter()
                                .zip(&params)
                                .all(|(a, b)| ev(*a).ok() == Some(*b))
                    })
                });
                if !clash {
                    break;
                }
                params.push(ValType::F32);
            }
            lay.weird_type = Some(lay.func_type(params, Vec::new()));
        }

        // Number the helpers.
        let mut next = lay.func_base;
        for h in helpers {
            lay.helper_index.insert(h, next);
            lay.helpers.push(h);
            next += 1;
        }
        lay.wrapper_base = next;
        // Check the function index space stays in range.
        let total = u64::from(next) + plan.wrappers.len() as u64;
        if total > 1_000_000 {
            return Err(Error::Limit(format!(
                "{total} functions (wasm engines accept at most 1,000,000)"
            )));
        }

        // Types of the helpers.
        let helpers = lay.helpers.clone();
        for h in helpers {
            let (p, r) = lay.helper_sig(input, h)?;
            lay.func_type(p, r);
        }
        // Multi-value block types for function bodies.
        for (f, pad) in plan.pad.iter().enumerate() {
            if !*pad {
                continue;
            }
            if let Some(sig) = input.func_sig(f as u32)
                && sig.results.len() > 1
            {
                let results = sig
                    .results
                    .iter()
                    .map(|t| ev(*t))
                    .collect::<Result<Vec<_>, _>>()?;
                if !lay.multi_block.contains_key(&results) {
                    let t = lay.func_type(Vec::new(), results.clone());
                    lay.multi_block.insert(results, t);
                }
            }
        }
        Ok(lay)
    }

    /// Index type of memory `m`.
    pub fn mem_ax(input: &Input<'_>, m: u32) -> Ax {
        Ax {
            is64: input
                .memories
                .get(m as usize)
                .is_some_and(|m| m.ty.memory64),
        }
    }

    /// Index type of table `t`.
    pub fn table_ax(input: &Input<'_>, t: u32) -> Ax {
        Ax {
            is64: input.tables.get(t as usize).is_some_and(|t| t.ty.table64),
        }
    }

    pub fn table_elem(input: &Input<'_>, t: u32) -> Result<ValType, Error> {
        let ty = input
            .tables
            .get(t as usize)
            .ok_or_else(|| Error::invalid(0, format!("no table {t}")))?
            .ty
            .element_type;
        Ok(ValType::Ref(eref(ty)?))
    }

    /// Parameters and results of a helper.
    pub fn helper_sig(
        &self,
        input: &Input<'_>,
        h: Helper,
    ) -> Result<(Vec<ValType>, Vec<ValType>), Error> {
        use ValType::{I32, I64};
        let a = self.s.ty();
        Ok(match h {
            Helper::Start
            | Helper::CloseFrame
            | Helper::Finish
            | Helper::Raise
            | Helper::RootEnd
            | Helper::SpMissing => (vec![], vec![]),
            Helper::Ensure => (vec![I32], vec![I32]),
            Helper::U8 | Helper::Uleb | Helper::Raw4 | Helper::VMissing | Helper::SpBelow => {
                (vec![I32], vec![])
            }
            Helper::Uleb64 | Helper::Sleb64 | Helper::Raw8 => (vec![I64], vec![]),
            Helper::Leb => (vec![I64, I32], vec![]),
            Helper::Reserve5 | Helper::Ptr | Helper::Len => (vec![], vec![a]),
            Helper::Patch5 => (vec![a, I32], vec![]),
            Helper::Frame => (vec![I32, I32], vec![]),
            Helper::FrameN(n) => {
                let mut p = vec![I32, I32, I64];
                p.extend(std::iter::repeat_n(I64, n as usize));
                (p, vec![])
            }
            Helper::Val => (vec![I32, I64], vec![]),
            Helper::StackOverflow => (vec![I32], vec![I32]),
            Helper::V(num, n) => (vec![num.ty(); n as usize], vec![]),
            Helper::Sp(num) => (vec![num.ty()], vec![]),
            Helper::SpRaw => (vec![I32, I64], vec![]),
            Helper::DataScan(_) => (vec![I32], vec![I32]),
            // (slot, expected class) -> trap kind, 0 when the call is fine.
            Helper::CallIndirect(t) => (vec![Self::table_ax(input, t).ty(), I32], vec![I32]),
            Helper::Check(c) => check_sig(input, c)?,
        })
    }
}

/// Parameters and results of a check helper: the instruction's operands plus
/// the number of stack values below them; its results.
fn check_sig(input: &Input<'_>, c: Check) -> Result<(Vec<ValType>, Vec<ValType>), Error> {
    use ValType::{F32, F64, I32, I64};
    let mem = |m: u32| Layout::mem_ax(input, m).ty();
    let tab = |t: u32| Layout::table_ax(input, t).ty();
    let min = |a: ValType, b: ValType| if a == I64 && b == I64 { I64 } else { I32 };
    Ok(match c {
        Check::Div(op) => {
            let t = if op.is_64() { I64 } else { I32 };
            (vec![t, t, I32], vec![t])
        }
        Check::Trunc(TruncOp { to64, from64, .. }) => (
            vec![if from64 { F64 } else { F32 }, I32],
            vec![if to64 { I64 } else { I32 }],
        ),
        Check::Fill(m) => (vec![mem(m), I32, mem(m), I32], vec![]),
        Check::Copy(d, s) => (vec![mem(d), mem(s), min(mem(d), mem(s)), I32], vec![]),
        Check::Init(m, _) => (vec![mem(m), I32, I32, I32], vec![]),
        Check::TableGet(t) => (vec![tab(t), I32], vec![Layout::table_elem(input, t)?]),
        Check::TableSet(t) => (vec![tab(t), Layout::table_elem(input, t)?, I32], vec![]),
        Check::TableFill(t) => (
            vec![tab(t), Layout::table_elem(input, t)?, tab(t), I32],
            vec![],
        ),
        Check::TableCopy(d, s) => (vec![tab(d), tab(s), min(tab(d), tab(s)), I32], vec![]),
        Check::TableInit(t, _) => (vec![tab(t), I32, I32, I32], vec![]),
        Check::Bounds(m) | Check::Atomic(m) => (vec![mem(m), I64, I32], vec![mem(m)]),
    })
}

/// Whether the rewriter can build a helper for this check: table helpers
/// must be able to make up a dummy element (nullable element type).
pub(crate) fn check_supported(input: &Input<'_>, plan: &Plan, c: Check) -> bool {
    let nullable = |t: u32| {
        input
            .tables
            .get(t as usize)
            .is_some_and(|t| t.ty.element_type.is_nullable())
    };
    // Without reference types there is no `table.size`: only tables whose
    // size never changes can be checked.
    let sized =
        |t: u32| plan.reftypes || plan.fixed_size.get(t as usize).copied().flatten().is_some();
    match c {
        Check::TableGet(t) => nullable(t) && sized(t),
        Check::TableSet(t) | Check::TableFill(t) | Check::TableInit(t, _) => sized(t),
        Check::TableCopy(d, s) => sized(d) && sized(s),
        _ => true,
    }
}

/// The heap type of a nullable reference, for `ref.null`.
pub(crate) fn heap_of(ty: ValType) -> Option<HeapType> {
    match ty {
        ValType::Ref(r) => Some(r.heap_type),
        _ => None,
    }
}
