//! Which instructions can trap, and the check that guards each of them.
//!
//! Shared by the analysis pass (which only counts what it will need) and the
//! instrumentation pass (which emits the checks).

use wasmparser::{MemArg, Operator};

use crate::Options;

/// Integer division and remainder instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum DivOp {
    I32DivS,
    I32DivU,
    I32RemS,
    I32RemU,
    I64DivS,
    I64DivU,
    I64RemS,
    I64RemU,
}

impl DivOp {
    pub fn is_64(self) -> bool {
        matches!(
            self,
            DivOp::I64DivS | DivOp::I64DivU | DivOp::I64RemS | DivOp::I64RemU
        )
    }

    /// Signed division: `MIN / -1` overflows.
    pub fn overflows(self) -> bool {
        matches!(self, DivOp::I32DivS | DivOp::I64DivS)
    }
}

/// Non-saturating float-to-integer conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TruncOp {
    /// Result is i64 (else i32).
    pub to64: bool,
    /// Operand is f64 (else f32).
    pub from64: bool,
    pub signed: bool,
}

impl TruncOp {
    /// The range of operands (widened to f64, exactly) for which the
    /// conversion is defined: `lo < x < hi`, or `lo <= x < hi` when the
    /// flag says so (for i64 the value just below -2^63 is not an f64).
    pub fn bounds(self) -> (f64, bool, f64) {
        let bits = if self.to64 { 64 } else { 32 };
        if self.signed {
            let hi = 2f64.powi(bits - 1);
            if self.to64 {
                (-hi, true, hi)
            } else {
                (-hi - 1.0, false, hi)
            }
        } else {
            (-1.0, false, 2f64.powi(bits))
        }
    }
}

/// A memory access instruction, for the opt-in bounds checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Access {
    pub memarg: MemArg,
    /// Bytes accessed.
    pub size: u32,
    /// Operands above the address on the stack.
    pub above: u8,
    /// Atomic: must also be naturally aligned.
    pub atomic: bool,
}

/// A helper function that checks one kind of trap site. Every variant that
/// names a memory, table or segment gets one helper per index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Check {
    Div(DivOp),
    Trunc(TruncOp),
    /// `memory.fill` on a memory.
    Fill(u32),
    /// `memory.copy` (destination, source).
    Copy(u32, u32),
    /// `memory.init` (memory, data segment).
    Init(u32, u32),
    TableGet(u32),
    TableSet(u32),
    TableFill(u32),
    /// `table.copy` (destination, source).
    TableCopy(u32, u32),
    /// `table.init` (table, element segment).
    TableInit(u32, u32),
    /// A load or store on a memory (opt-in).
    Bounds(u32),
    /// An atomic access on a memory: bounds and alignment (opt-in).
    Atomic(u32),
}

/// What the analysis and the rewriter do with one instruction.
pub(crate) enum Site {
    /// Guarded by a helper call.
    Check(Check),
    /// A memory access guarded by a bounds check (opt-in).
    Access(Access),
}

/// The check an instruction needs, given the constant pushed just before it
/// (a constant divisor that is neither 0 nor -1 cannot trap).
pub(crate) fn site(op: &Operator<'_>, prev_const: Option<i64>, opts: &Options) -> Option<Site> {
    use Operator as O;
    let div = |d: DivOp| -> Option<Site> {
        if !opts.checks.div {
            return None;
        }
        match prev_const {
            Some(0) | None => Some(Site::Check(Check::Div(d))),
            Some(-1) if d.overflows() => Some(Site::Check(Check::Div(d))),
            Some(_) => None,
        }
    };
    let trunc = |to64, from64, signed| -> Option<Site> {
        opts.checks
            .trunc
            .then_some(Site::Check(Check::Trunc(TruncOp {
                to64,
                from64,
                signed,
            })))
    };
    let bulk = |c: Check| opts.checks.bulk_memory.then_some(Site::Check(c));
    let tab = |c: Check| opts.checks.table.then_some(Site::Check(c));
    match *op {
        O::I32DivS => div(DivOp::I32DivS),
        O::I32DivU => div(DivOp::I32DivU),
        O::I32RemS => div(DivOp::I32RemS),
        O::I32RemU => div(DivOp::I32RemU),
        O::I64DivS => div(DivOp::I64DivS),
        O::I64DivU => div(DivOp::I64DivU),
        O::I64RemS => div(DivOp::I64RemS),
        O::I64RemU => div(DivOp::I64RemU),
        O::I32TruncF32S => trunc(false, false, true),
        O::I32TruncF32U => trunc(false, false, false),
        O::I32TruncF64S => trunc(false, true, true),
        O::I32TruncF64U => trunc(false, true, false),
        O::I64TruncF32S => trunc(true, false, true),
        O::I64TruncF32U => trunc(true, false, false),
        O::I64TruncF64S => trunc(true, true, true),
        O::I64TruncF64U => trunc(true, true, false),
        O::MemoryFill { mem } => bulk(Check::Fill(mem)),
        O::MemoryCopy { dst_mem, src_mem } => bulk(Check::Copy(dst_mem, src_mem)),
        O::MemoryInit { data_index, mem } => bulk(Check::Init(mem, data_index)),
        O::TableGet { table } => tab(Check::TableGet(table)),
        O::TableSet { table } => tab(Check::TableSet(table)),
        O::TableFill { table } => tab(Check::TableFill(table)),
        O::TableCopy {
            dst_table,
            src_table,
        } => tab(Check::TableCopy(dst_table, src_table)),
        O::TableInit { elem_index, table } => tab(Check::TableInit(table, elem_index)),
        _ if opts.checks.bounds => access(op).map(Site::Access),
        _ => None,
    }
}

/// The access an instruction makes, if it reads or writes linear memory at an
/// address operand with a static offset.
pub(crate) fn access(op: &Operator<'_>) -> Option<Access> {
    use Operator as O;
    let plain = |memarg: MemArg, size: u32, above: u8| Access {
        memarg,
        size,
        above,
        atomic: false,
    };
    let atomic = |memarg: MemArg, size: u32, above: u8| Access {
        memarg,
        size,
        above,
        atomic: true,
    };
    Some(match *op {
        O::I32Load { memarg } | O::F32Load { memarg } => plain(memarg, 4, 0),
        O::I64Load { memarg } | O::F64Load { memarg } => plain(memarg, 8, 0),
        O::I32Load8S { memarg }
        | O::I32Load8U { memarg }
        | O::I64Load8S { memarg }
        | O::I64Load8U { memarg } => plain(memarg, 1, 0),
        O::I32Load16S { memarg }
        | O::I32Load16U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Load16U { memarg } => plain(memarg, 2, 0),
        O::I64Load32S { memarg } | O::I64Load32U { memarg } => plain(memarg, 4, 0),
        O::I32Store { memarg } | O::F32Store { memarg } | O::I64Store32 { memarg } => {
            plain(memarg, 4, 1)
        }
        O::I64Store { memarg } | O::F64Store { memarg } => plain(memarg, 8, 1),
        O::I32Store8 { memarg } | O::I64Store8 { memarg } => plain(memarg, 1, 1),
        O::I32Store16 { memarg } | O::I64Store16 { memarg } => plain(memarg, 2, 1),
        O::V128Load { memarg } => plain(memarg, 16, 0),
        O::V128Load8x8S { memarg }
        | O::V128Load8x8U { memarg }
        | O::V128Load16x4S { memarg }
        | O::V128Load16x4U { memarg }
        | O::V128Load32x2S { memarg }
        | O::V128Load32x2U { memarg }
        | O::V128Load64Splat { memarg }
        | O::V128Load64Zero { memarg } => plain(memarg, 8, 0),
        O::V128Load8Splat { memarg } => plain(memarg, 1, 0),
        O::V128Load16Splat { memarg } => plain(memarg, 2, 0),
        O::V128Load32Splat { memarg } | O::V128Load32Zero { memarg } => plain(memarg, 4, 0),
        O::V128Store { memarg } => plain(memarg, 16, 1),
        O::V128Load8Lane { memarg, .. } | O::V128Store8Lane { memarg, .. } => plain(memarg, 1, 1),
        O::V128Load16Lane { memarg, .. } | O::V128Store16Lane { memarg, .. } => plain(memarg, 2, 1),
        O::V128Load32Lane { memarg, .. } | O::V128Store32Lane { memarg, .. } => plain(memarg, 4, 1),
        O::V128Load64Lane { memarg, .. } | O::V128Store64Lane { memarg, .. } => plain(memarg, 8, 1),
        O::MemoryAtomicNotify { memarg } => atomic(memarg, 4, 1),
        O::MemoryAtomicWait32 { memarg } => atomic(memarg, 4, 2),
        O::MemoryAtomicWait64 { memarg } => atomic(memarg, 8, 2),
        O::I32AtomicLoad { memarg } | O::I64AtomicLoad32U { memarg } => atomic(memarg, 4, 0),
        O::I64AtomicLoad { memarg } => atomic(memarg, 8, 0),
        O::I32AtomicLoad8U { memarg } | O::I64AtomicLoad8U { memarg } => atomic(memarg, 1, 0),
        O::I32AtomicLoad16U { memarg } | O::I64AtomicLoad16U { memarg } => atomic(memarg, 2, 0),
        O::I32AtomicStore { memarg } | O::I64AtomicStore32 { memarg } => atomic(memarg, 4, 1),
        O::I64AtomicStore { memarg } => atomic(memarg, 8, 1),
        O::I32AtomicStore8 { memarg } | O::I64AtomicStore8 { memarg } => atomic(memarg, 1, 1),
        O::I32AtomicStore16 { memarg } | O::I64AtomicStore16 { memarg } => atomic(memarg, 2, 1),
        O::I32AtomicRmwAdd { memarg }
        | O::I32AtomicRmwSub { memarg }
        | O::I32AtomicRmwAnd { memarg }
        | O::I32AtomicRmwOr { memarg }
        | O::I32AtomicRmwXor { memarg }
        | O::I32AtomicRmwXchg { memarg }
        | O::I64AtomicRmw32AddU { memarg }
        | O::I64AtomicRmw32SubU { memarg }
        | O::I64AtomicRmw32AndU { memarg }
        | O::I64AtomicRmw32OrU { memarg }
        | O::I64AtomicRmw32XorU { memarg }
        | O::I64AtomicRmw32XchgU { memarg } => atomic(memarg, 4, 1),
        O::I64AtomicRmwAdd { memarg }
        | O::I64AtomicRmwSub { memarg }
        | O::I64AtomicRmwAnd { memarg }
        | O::I64AtomicRmwOr { memarg }
        | O::I64AtomicRmwXor { memarg }
        | O::I64AtomicRmwXchg { memarg } => atomic(memarg, 8, 1),
        O::I32AtomicRmw8AddU { memarg }
        | O::I32AtomicRmw8SubU { memarg }
        | O::I32AtomicRmw8AndU { memarg }
        | O::I32AtomicRmw8OrU { memarg }
        | O::I32AtomicRmw8XorU { memarg }
        | O::I32AtomicRmw8XchgU { memarg }
        | O::I64AtomicRmw8AddU { memarg }
        | O::I64AtomicRmw8SubU { memarg }
        | O::I64AtomicRmw8AndU { memarg }
        | O::I64AtomicRmw8OrU { memarg }
        | O::I64AtomicRmw8XorU { memarg }
        | O::I64AtomicRmw8XchgU { memarg } => atomic(memarg, 1, 1),
        O::I32AtomicRmw16AddU { memarg }
        | O::I32AtomicRmw16SubU { memarg }
        | O::I32AtomicRmw16AndU { memarg }
        | O::I32AtomicRmw16OrU { memarg }
        | O::I32AtomicRmw16XorU { memarg }
        | O::I32AtomicRmw16XchgU { memarg }
        | O::I64AtomicRmw16AddU { memarg }
        | O::I64AtomicRmw16SubU { memarg }
        | O::I64AtomicRmw16AndU { memarg }
        | O::I64AtomicRmw16OrU { memarg }
        | O::I64AtomicRmw16XorU { memarg }
        | O::I64AtomicRmw16XchgU { memarg } => atomic(memarg, 2, 1),
        O::I32AtomicRmwCmpxchg { memarg } | O::I64AtomicRmw32CmpxchgU { memarg } => {
            atomic(memarg, 4, 2)
        }
        O::I64AtomicRmwCmpxchg { memarg } => atomic(memarg, 8, 2),
        O::I32AtomicRmw8CmpxchgU { memarg } | O::I64AtomicRmw8CmpxchgU { memarg } => {
            atomic(memarg, 1, 2)
        }
        O::I32AtomicRmw16CmpxchgU { memarg } | O::I64AtomicRmw16CmpxchgU { memarg } => {
            atomic(memarg, 2, 2)
        }
        _ => return None,
    })
}

/// The value an `i32.const`/`i64.const` pushes.
pub(crate) fn const_value(op: &Operator<'_>) -> Option<i64> {
    match *op {
        Operator::I32Const { value } => Some(value.into()),
        Operator::I64Const { value } => Some(value),
        _ => None,
    }
}
