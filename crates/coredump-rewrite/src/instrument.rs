//! The instrumentation pass: rewrites one function body while validating it.
//!
//! Unchanged instructions are copied byte for byte; only trap sites, calls
//! that may unwind and the body's frame are touched. An instrumented body
//! becomes
//!
//! ```text
//! block $unwind (result i32)          ;; code offset of this frame
//!   block $unr (result i32)           ;; only with `unreachable` sites
//!     block $body (result R)          ;; the function's own label
//!       <original body>
//!     end
//!     return
//!   end
//!   global.set $u (unreachable kind)  ;; the offset stays on the stack
//! end
//! i32.const <function> i64.const <tags>
//! local.get ... call $frameN          ;; landing pad: the frame, every local,
//! <dummy results>                     ;; and return to the caller, which
//! end                                 ;; checks the unwinding flag
//! ```
//!
//! Branches to the function's label now reach `$body`, whose type is the
//! function's results, so no branch depth changes. After each call that may
//! unwind: `i32.const <offset of the call>; global.get $u; br_if $unwind; drop`.

use wasm_encoder::{BlockType, Encode, InstructionSink, ValType};
use wasmparser::{
    FuncToValidate, FuncValidatorAllocations, Operator, OperatorsReader, ValidatorResources,
};

use crate::analysis::Plan;
use crate::layout::{FRAME_MAX, Helper, Layout, Num, arity_split, ev, heap_of, kind, tag};
use crate::module::Input;
use crate::offsets::Run;
use crate::sites::{self, Check, Site};
use crate::sites::{DivOp, TruncOp};
use crate::{Error, Options};

/// Counts for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Functions whose body got a landing pad.
    pub padded: u32,
    /// Calls followed by an unwinding check.
    pub call_checks: u32,
    pub unreachable: u32,
    /// Other guarded trap sites (division, conversion, bulk memory, tables, call_indirect).
    pub checked_sites: u32,
    /// Loads and stores guarded by the opt-in bounds checks.
    pub bounds_checks: u32,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.padded += o.padded;
        self.call_checks += o.call_checks;
        self.unreachable += o.unreachable;
        self.checked_sites += o.checked_sites;
        self.bounds_checks += o.bounds_checks;
    }
}

pub(crate) struct Ctx<'a, 'b> {
    pub input: &'a Input<'b>,
    pub plan: &'a Plan,
    pub lay: &'a Layout,
    pub opts: &'a Options,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Landing pad, trap sites and call checks.
    Full,
    /// No landing pad possible: calls that may unwind raise at once.
    Raise,
    /// Only `ref.func` operands change.
    Refs,
    /// Copied as is (still validated).
    Copy,
}

/// A rewritten body (locals and code, without its size) and the runs of it
/// copied from the input (see `offsets`).
pub(crate) type RewrittenBody = (Vec<u8>, Vec<Run>);

/// The rewritten body of function `index`, or `None` when it is unchanged.
pub(crate) fn rewrite(
    ctx: &Ctx<'_, '_>,
    index: usize,
    to_validate: FuncToValidate<ValidatorResources>,
    counts: &mut Counts,
) -> Result<Option<RewrittenBody>, Error> {
    let input = ctx.input;
    let func = input.imported_funcs + index as u32;
    let f = func as usize;
    let mode = if ctx.plan.pad[f] {
        Mode::Full
    } else if ctx.plan.raise_after_calls[f] {
        Mode::Raise
    } else if ctx.plan.ref_rewrite[index] {
        Mode::Refs
    } else {
        Mode::Copy
    };
    let body = &input.bodies[index];
    let body_start = body.range().start;
    let mut v = to_validate.into_validator(FuncValidatorAllocations::default());
    let mut reader = body.get_binary_reader();
    let groups = reader.read_var_u32()?;
    let groups_start = reader.original_position();
    for _ in 0..groups {
        let offset = reader.original_position();
        let count = reader.read_var_u32()?;
        let ty = reader.read()?;
        v.define_locals(offset, count, ty)?;
    }
    let ops_start = reader.original_position();
    let mut ops = OperatorsReader::new(reader);

    if mode == Mode::Copy {
        while !ops.eof() {
            let pos = ops.original_position();
            let op = ops.read()?;
            v.op(pos, &op)?;
        }
        ops.finish()?;
        return Ok(None);
    }

    let bytes = input.bytes;
    let has_unr = mode == Mode::Full && ctx.plan.has_unreachable[index];
    let guard = mode == Mode::Full && ctx.opts.call_depth_limit.is_some();
    let g = ctx.lay.g;
    let sig = input
        .func_sig(func)
        .ok_or_else(|| Error::invalid(body_start, "function without a function type"))?;

    let mut out: Vec<u8> = Vec::with_capacity(body.range().len() + body.range().len() / 4 + 32);
    let mut copied = ops_start;
    let mut scratch: Vec<(wasm_encoder::ValType, u32)> = Vec::new();
    let nlocals = v.len_locals();

    if mode == Mode::Full {
        counts.padded += 1;
        let bt = match sig.results.len() {
            0 => BlockType::Empty,
            1 => BlockType::Result(ev(sig.results[0])?),
            _ => {
                let results = sig
                    .results
                    .iter()
                    .map(|t| ev(*t))
                    .collect::<Result<Vec<_>, _>>()?;
                BlockType::FunctionType(
                    ctx.lay
                        .multi_block
                        .get(&results)
                        .copied()
                        .ok_or_else(|| Error::Limit("missing block type".into()))?,
                )
            }
        };
        let mut s = InstructionSink::new(&mut out);
        s.block(BlockType::Result(wasm_encoder::ValType::I32));
        if has_unr {
            s.block(BlockType::Result(wasm_encoder::ValType::I32));
        }
        s.block(bt);
        if guard {
            // depth += 1; past the limit, unwind from here as a stack overflow.
            let limit = ctx.opts.call_depth_limit.unwrap_or(u32::MAX);
            s.global_get(g.depth)
                .i32_const(1)
                .i32_add()
                .global_set(g.depth)
                .global_get(g.depth)
                .i32_const(limit as i32)
                .i32_gt_u()
                .if_(BlockType::Empty)
                .i32_const(kind::STACK_OVERFLOW)
                .global_set(g.u)
                .i32_const((ops_start - body_start) as i32)
                .br(2 + u32::from(has_unr))
                .end();
        }
    }

    // Every copied stretch is a run of the offset map (output positions in
    // `out` for now; the locals' length is added at the end).
    let mut runs: Vec<Run> = Vec::new();
    let mut flush = |out: &mut Vec<u8>, copied: &mut usize, upto: usize| {
        if upto > *copied {
            let run = Run {
                output: out.len() as u32,
                input: (*copied - body_start) as u32,
                len: (upto - *copied) as u32,
            };
            match runs.last_mut() {
                Some(last)
                    if last.output + last.len == run.output
                        && last.input + last.len == run.input =>
                {
                    last.len += run.len;
                }
                _ => runs.push(run),
            }
            out.extend_from_slice(&bytes[*copied..upto]);
            *copied = upto;
        }
    };

    let mut prev_const = None;
    while !ops.eof() {
        let pos = ops.original_position();
        let op = ops.read()?;
        let end = ops.original_position();
        let off = (pos - body_start) as u32;
        let ctrl = v.control_stack_height();
        let frame = v.get_control_frame(0).cloned();
        let dead = frame.as_ref().is_none_or(|fr| fr.unreachable);
        let height = v.operand_stack_height();
        let d_unwind = ctrl + u32::from(has_unr);

        // `ref.func` of a function that now has a root wrapper: always, even in dead code.
        if let Operator::RefFunc { function_index } = op
            && let Some(&w) = ctx.plan.root_of.get(&function_index)
        {
            flush(&mut out, &mut copied, pos);
            InstructionSink::new(&mut out).ref_func(ctx.lay.wrapper(w));
            copied = end;
        }

        // Dropping a segment: remembered for the `memory.init`/`table.init` checks.
        let drop_flag = match op {
            Operator::DataDrop { data_index } => ctx.lay.data_dropped.get(&data_index),
            Operator::ElemDrop { elem_index } => ctx.lay.elem_dropped.get(&elem_index),
            _ => None,
        };
        if let Some(&flag) = drop_flag {
            flush(&mut out, &mut copied, pos);
            InstructionSink::new(&mut out).i32_const(1).global_set(flag);
        }

        if !dead && mode == Mode::Full {
            match op {
                Operator::Call { function_index } => {
                    if ctx
                        .plan
                        .may_unwind
                        .get(function_index as usize)
                        .copied()
                        .unwrap_or(false)
                    {
                        flush(&mut out, &mut copied, end);
                        after_check(&mut InstructionSink::new(&mut out), g.u, off, d_unwind);
                        counts.call_checks += 1;
                    }
                }
                Operator::CallIndirect {
                    type_index,
                    table_index,
                }
                | Operator::ReturnCallIndirect {
                    type_index,
                    table_index,
                } => {
                    let tail = matches!(op, Operator::ReturnCallIndirect { .. });
                    flush(&mut out, &mut copied, pos);
                    let checked = call_indirect_prologue(
                        ctx,
                        &mut out,
                        &mut scratch,
                        nlocals,
                        type_index,
                        table_index,
                        height.saturating_sub(1),
                        off,
                        d_unwind,
                    )?;
                    if checked {
                        counts.checked_sites += 1;
                    }
                    if tail {
                        if guard {
                            leave(&mut InstructionSink::new(&mut out), g.depth);
                        }
                    } else if ctx.plan.ci_may_unwind(table_index, type_index) {
                        flush(&mut out, &mut copied, end);
                        after_check(&mut InstructionSink::new(&mut out), g.u, off, d_unwind);
                        counts.call_checks += 1;
                    }
                }
                Operator::Return | Operator::ReturnCall { .. } | Operator::ReturnCallRef { .. } => {
                    if guard {
                        flush(&mut out, &mut copied, pos);
                        leave(&mut InstructionSink::new(&mut out), g.depth);
                    }
                }
                Operator::Unreachable if has_unr => {
                    flush(&mut out, &mut copied, pos);
                    let mut s = InstructionSink::new(&mut out);
                    let base = frame.as_ref().map_or(0, |fr| fr.height as u32);
                    let own = height.saturating_sub(base);
                    for depth in 0..own {
                        match v.get_operand_type(depth as usize) {
                            Some(Some(ty)) => match Num::of(ty) {
                                Some(num) => {
                                    s.call(ctx.lay.helper(Helper::Sp(num)));
                                }
                                None => {
                                    s.drop().call(ctx.lay.helper(Helper::SpMissing));
                                }
                            },
                            _ => {
                                s.drop().call(ctx.lay.helper(Helper::SpMissing));
                            }
                        }
                    }
                    if base > 0 {
                        s.i32_const(base as i32)
                            .call(ctx.lay.helper(Helper::SpBelow));
                    }
                    s.i32_const(off as i32).br(ctrl);
                    copied = end;
                    counts.unreachable += 1;
                }
                _ => match sites::site(&op, prev_const, ctx.opts) {
                    Some(Site::Check(Check::Div(d))) => {
                        flush(&mut out, &mut copied, pos);
                        let below = height.saturating_sub(2);
                        inline_div(
                            ctx,
                            &mut out,
                            &mut scratch,
                            nlocals,
                            d,
                            below,
                            off,
                            d_unwind,
                        );
                        copied = pos;
                        counts.checked_sites += 1;
                    }
                    Some(Site::Check(Check::Trunc(t))) => {
                        flush(&mut out, &mut copied, pos);
                        let below = height.saturating_sub(1);
                        inline_trunc(
                            ctx,
                            &mut out,
                            &mut scratch,
                            nlocals,
                            t,
                            below,
                            off,
                            d_unwind,
                        );
                        copied = pos;
                        counts.checked_sites += 1;
                    }
                    Some(Site::Check(check)) if ctx.lay.has_helper(Helper::Check(check)) => {
                        flush(&mut out, &mut copied, pos);
                        let mut s = InstructionSink::new(&mut out);
                        let below = height.saturating_sub(operands(check));
                        s.i32_const(below as i32)
                            .call(ctx.lay.helper(Helper::Check(check)));
                        after_check(&mut s, g.u, off, d_unwind);
                        copied = end;
                        counts.checked_sites += 1;
                    }
                    Some(Site::Access(access)) => {
                        let memory = access.memarg.memory;
                        let helper = if access.atomic {
                            Helper::Check(Check::Atomic(memory))
                        } else {
                            Helper::Check(Check::Bounds(memory))
                        };
                        if ctx.lay.has_helper(helper) {
                            flush(&mut out, &mut copied, pos);
                            let above = u32::from(access.above);
                            // Operands above the address go to scratch locals and back.
                            let mut slots = Vec::new();
                            for depth in 0..above {
                                let ty = match v.get_operand_type(depth as usize) {
                                    Some(Some(ty)) => ev(ty)?,
                                    _ => return Err(Error::invalid(pos, "operand type unknown")),
                                };
                                slots.push(scratch_local(&mut scratch, nlocals, ty, depth));
                            }
                            let mut s = InstructionSink::new(&mut out);
                            for &local in &slots {
                                s.local_set(local);
                            }
                            let below = height.saturating_sub(1 + above).min(1 << 20);
                            let log2 = access.size.trailing_zeros();
                            let packed = (below << 5) | (above << 3) | log2;
                            s.i64_const(access.memarg.offset as i64)
                                .i32_const(packed as i32)
                                .call(ctx.lay.helper(helper));
                            after_check(&mut s, g.u, off, d_unwind);
                            for &local in slots.iter().rev() {
                                s.local_get(local);
                            }
                            counts.bounds_checks += 1;
                        }
                    }
                    _ => {}
                },
            }
        } else if !dead && mode == Mode::Raise {
            let unwinds = match op {
                Operator::Call { function_index } => ctx
                    .plan
                    .may_unwind
                    .get(function_index as usize)
                    .copied()
                    .unwrap_or(false),
                Operator::CallIndirect {
                    table_index,
                    type_index,
                } => ctx.plan.ci_may_unwind(table_index, type_index),
                _ => false,
            };
            if unwinds {
                flush(&mut out, &mut copied, end);
                InstructionSink::new(&mut out)
                    .global_get(g.u)
                    .if_(BlockType::Empty)
                    .call(ctx.lay.helper(Helper::RootEnd))
                    .end();
                counts.call_checks += 1;
            }
        }

        let is_final_end = matches!(op, Operator::End) && ctrl == 1;
        v.op(pos, &op)?;
        prev_const = sites::const_value(&op);

        if is_final_end && mode == Mode::Full {
            flush(&mut out, &mut copied, end);
            let mut s = InstructionSink::new(&mut out);
            if guard {
                leave(&mut s, g.depth);
            }
            s.return_();
            if has_unr {
                // No call before the landing pad: see `trap_path`.
                s.end().i32_const(kind::UNREACHABLE).global_set(g.u);
            }
            s.end();
            landing_pad(ctx, &mut out, func, &v, nlocals)?;
        }
    }
    ops.finish()?;
    flush(&mut out, &mut copied, body.range().end);

    // Locals: the original declarations, plus scratch locals.
    let mut result = Vec::with_capacity(out.len() + (ops_start - body_start) + 8);
    if scratch.is_empty() {
        result.extend_from_slice(&bytes[body_start..ops_start]);
    } else {
        (groups + scratch.len() as u32).encode(&mut result);
        result.extend_from_slice(&bytes[groups_start..ops_start]);
        for (ty, _) in &scratch {
            1u32.encode(&mut result);
            ty.encode(&mut result);
        }
    }
    let locals_len = result.len() as u32;
    result.extend_from_slice(&out);
    for run in &mut runs {
        run.output += locals_len;
    }
    // The locals declarations, when copied as they were, are a run too.
    if scratch.is_empty() {
        runs.insert(
            0,
            Run {
                output: 0,
                input: 0,
                len: locals_len,
            },
        );
    }
    Ok(Some((result, runs)))
}

/// A scratch local of type `ty` for operand `k` of a site (shared by all sites).
fn scratch_local(scratch: &mut Vec<(ValType, u32)>, nlocals: u32, ty: ValType, k: u32) -> u32 {
    match scratch.iter().position(|(t, d)| *t == ty && *d == k) {
        Some(i) => nlocals + i as u32,
        None => {
            scratch.push((ty, k));
            nlocals + scratch.len() as u32 - 1
        }
    }
}

/// `depth -= 1` (call-depth guard).
fn leave(s: &mut InstructionSink<'_>, depth: u32) {
    s.global_get(depth).i32_const(1).i32_sub().global_set(depth);
}

/// Inside an `if` of a failed inline check: stash the operands (top first,
/// from their scratch locals) for the trapping frame's stack, count the values
/// below them, set the trap kind and branch to the landing pad (one level out
/// of the `if`). No call happens on the way: a call there would make every
/// local live across it, and cranelift would then save callee-saved registers
/// on every entry to the function. `Frame` (the landing pad's first call)
/// starts the dump and takes the stashed values.
#[allow(clippy::too_many_arguments)]
fn trap_path(
    ctx: &Ctx<'_, '_>,
    s: &mut InstructionSink<'_>,
    spills: &[(u32, Num)],
    below: u32,
    off: u32,
    k: i32,
    d_unwind: u32,
) {
    let g = ctx.lay.g;
    let mut spt = spills.len().min(2) as i32;
    for (n, &(local, num)) in spills.iter().take(2).enumerate() {
        s.local_get(local);
        match num {
            Num::I32 => s.i64_extend_i32_s(),
            Num::I64 => &mut *s,
            Num::F32 => s.i32_reinterpret_f32().i64_extend_i32_u(),
            Num::F64 => s.i64_reinterpret_f64(),
        };
        s.global_set(if n == 0 { g.spv0 } else { g.spv1 });
        spt |= i32::from(0x80 - num.tag()) << (2 + 3 * n);
    }
    s.i32_const(spt)
        .global_set(g.spt)
        .i32_const(below as i32)
        .global_set(g.pm)
        .i32_const(k)
        .global_set(g.u)
        .i32_const(off as i32)
        .br(d_unwind + 1);
}

/// Integer division with its checks inline: both operands go to scratch
/// locals; zero divisors and `MIN / -1` take the trap path.
#[allow(clippy::too_many_arguments)]
fn inline_div(
    ctx: &Ctx<'_, '_>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<(ValType, u32)>,
    nlocals: u32,
    d: DivOp,
    below: u32,
    off: u32,
    d_unwind: u32,
) {
    let (ty, num) = if d.is_64() {
        (ValType::I64, Num::I64)
    } else {
        (ValType::I32, Num::I32)
    };
    let a = scratch_local(scratch, nlocals, ty, 0);
    let b = scratch_local(scratch, nlocals, ty, 1);
    let spills = [(b, num), (a, num)];
    let mut s = InstructionSink::new(out);
    s.local_set(b).local_set(a).local_get(b);
    if d.is_64() {
        s.i64_eqz()
    } else {
        s.i32_eqz()
    };
    s.if_(BlockType::Empty);
    trap_path(ctx, &mut s, &spills, below, off, kind::DIV_ZERO, d_unwind);
    s.end();
    if d.overflows() {
        s.local_get(a);
        if d.is_64() {
            s.i64_const(i64::MIN)
                .i64_eq()
                .local_get(b)
                .i64_const(-1)
                .i64_eq();
        } else {
            s.i32_const(i32::MIN)
                .i32_eq()
                .local_get(b)
                .i32_const(-1)
                .i32_eq();
        }
        s.i32_and().if_(BlockType::Empty);
        trap_path(
            ctx,
            &mut s,
            &spills,
            below,
            off,
            kind::DIV_OVERFLOW,
            d_unwind,
        );
        s.end();
    }
    s.local_get(a).local_get(b);
}

/// A float-to-int conversion with its checks inline: NaN, then the range.
#[allow(clippy::too_many_arguments)]
fn inline_trunc(
    ctx: &Ctx<'_, '_>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<(ValType, u32)>,
    nlocals: u32,
    t: TruncOp,
    below: u32,
    off: u32,
    d_unwind: u32,
) {
    let (ty, num) = if t.from64 {
        (ValType::F64, Num::F64)
    } else {
        (ValType::F32, Num::F32)
    };
    let x = scratch_local(scratch, nlocals, ty, 0);
    let spills = [(x, num)];
    let mut s = InstructionSink::new(out);
    s.local_tee(x).local_get(x).local_get(x);
    if t.from64 {
        s.f64_ne()
    } else {
        s.f32_ne()
    };
    s.if_(BlockType::Empty);
    trap_path(
        ctx,
        &mut s,
        &spills,
        below,
        off,
        kind::BAD_CONVERSION,
        d_unwind,
    );
    s.end();
    let (lo, inclusive, hi) = t.bounds();
    s.local_get(x);
    if !t.from64 {
        s.f64_promote_f32();
    }
    s.f64_const(lo.into());
    if inclusive {
        s.f64_ge()
    } else {
        s.f64_gt()
    };
    s.local_get(x);
    if !t.from64 {
        s.f64_promote_f32();
    }
    s.f64_const(hi.into())
        .f64_lt()
        .i32_and()
        .i32_eqz()
        .if_(BlockType::Empty);
    trap_path(
        ctx,
        &mut s,
        &spills,
        below,
        off,
        kind::TRUNC_OVERFLOW,
        d_unwind,
    );
    s.end();
}

/// Largest static table whose valid slots per signature fit one i64 mask.
const MASK_SLOTS: usize = 64;

/// Before a `call_indirect`: the check and the wrapper token. Returns
/// whether it is checked. The check is inline and call-free on its fast path:
/// a bit mask of the valid slots for small static tables, the longest run of
/// valid slots plus an exact helper for larger ones, `table.size` and
/// `ref.is_null` for dynamic tables (reference types). A failure records
/// the table, slot and expected class; `Frame` works out which trap it is.
#[allow(clippy::too_many_arguments)]
fn call_indirect_prologue(
    ctx: &Ctx<'_, '_>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<(ValType, u32)>,
    nlocals: u32,
    type_index: u32,
    table: u32,
    below: u32,
    off: u32,
    d_unwind: u32,
) -> Result<bool, Error> {
    let t = table as usize;
    let checked = ctx.plan.ci_checked.get(t).copied().unwrap_or(false)
        && ctx.lay.has_helper(Helper::CallIndirect(table));
    let token = ctx.plan.ci_token.get(t).copied().unwrap_or(false);
    if !checked && !token {
        return Ok(false);
    }
    let g = ctx.lay.g;
    let at = Layout::table_ax(ctx.input, table);
    let i = scratch_local(scratch, nlocals, at.ty(), 0);
    let helper = ctx.lay.helper(Helper::CallIndirect(table));
    let mut s = InstructionSink::new(out);
    s.local_tee(i);
    if checked {
        let class = match ctx.lay.static_tables.get(&table) {
            Some(st) => ctx
                .plan
                .sig_class
                .get(type_index as usize)
                .map(|c| if ctx.input.gc_types { 0 } else { *c })
                .and_then(|c| st.class_of_sig.get(&c).copied())
                .unwrap_or(i32::MAX as u32),
            None => 0,
        };
        // Pushes 1 when the call would trap.
        let valid = |st: &crate::layout::StaticTable| {
            st.slots.iter().filter(|c| **c == class).count() as u64
        };
        match ctx.lay.static_tables.get(&table) {
            // The valid slots are one run: a single comparison is exact.
            Some(st)
                if st
                    .runs
                    .get(&class)
                    .is_some_and(|(a, b)| b - a + 1 == valid(st)) =>
            {
                let (first, last) = st.runs[&class];
                s.local_get(i);
                at.konst(&mut s, first as i64);
                at.sub(&mut s);
                at.konst(&mut s, (last - first + 1) as i64);
                at.ge_u(&mut s);
            }
            Some(st) if valid(st) == 0 => {
                s.i32_const(1);
            }
            Some(st) if st.slots.len() <= MASK_SLOTS => {
                // Branch-free: bit `slot` of the mask, and slot < 64.
                let mask = st
                    .slots
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == class)
                    .fold(0u64, |m, (slot, _)| m | (1 << slot));
                s.i64_const(mask as i64).local_get(i);
                at.to_i64(&mut s);
                s.i64_shr_u()
                    .i32_wrap_i64()
                    .i32_const(1)
                    .i32_and()
                    .local_get(i);
                at.to_i64(&mut s);
                s.i64_const(MASK_SLOTS as i64)
                    .i64_lt_u()
                    .i32_and()
                    .i32_eqz();
            }
            Some(st) => {
                // Inside the longest run of valid slots: fine. Elsewhere ask the helper.
                match st.runs.get(&class).copied() {
                    Some((first, last)) => {
                        s.local_get(i);
                        at.konst(&mut s, first as i64);
                        at.sub(&mut s);
                        at.konst(&mut s, (last - first + 1) as i64);
                        at.ge_u(&mut s);
                        s.if_(BlockType::Result(ValType::I32))
                            .local_get(i)
                            .i32_const(class as i32)
                            .call(helper)
                            .else_()
                            .i32_const(0)
                            .end();
                    }
                    None => {
                        s.local_get(i).i32_const(class as i32).call(helper);
                    }
                }
            }
            None => {
                s.local_get(i).table_size(table);
                at.ge_u(&mut s);
                s.if_(BlockType::Result(ValType::I32))
                    .i32_const(1)
                    .else_()
                    .local_get(i)
                    .table_get(table)
                    .ref_is_null()
                    .end();
            }
        }
        s.if_(BlockType::Empty).local_get(i);
        at.to_i64(&mut s);
        s.global_set(g.te)
            .i32_const(table as i32)
            .global_set(g.tt)
            .i32_const(class as i32)
            .global_set(g.cls);
        let num = if at.is64 { Num::I64 } else { Num::I32 };
        trap_path(
            ctx,
            &mut s,
            &[(i, num)],
            below,
            off,
            kind::CI_PENDING,
            d_unwind,
        );
        s.end();
    }
    if token {
        s.local_get(i);
        at.to_i32(&mut s);
        s.i32_const(1).i32_add().global_set(g.wc);
    }
    Ok(checked)
}

/// `i32.const offset; global.get $u; br_if depth; drop`
fn after_check(s: &mut InstructionSink<'_>, u: u32, offset: u32, depth: u32) {
    s.i32_const(offset as i32).global_get(u).br_if(depth).drop();
}

/// Operands a check helper takes from the instruction.
fn operands(check: Check) -> u32 {
    match check {
        Check::Div(_) => 2,
        Check::Trunc(_) | Check::TableGet(_) => 1,
        Check::TableSet(_) => 2,
        Check::Fill(_)
        | Check::Copy(..)
        | Check::Init(..)
        | Check::TableFill(_)
        | Check::TableCopy(..)
        | Check::TableInit(..) => 3,
        Check::Bounds(_) | Check::Atomic(_) => 1,
    }
}

/// Records the frame and returns dummy results. On entry the stack holds the
/// frame's code offset.
fn landing_pad(
    ctx: &Ctx<'_, '_>,
    out: &mut Vec<u8>,
    func: u32,
    v: &wasmparser::FuncValidator<ValidatorResources>,
    nlocals: u32,
) -> Result<(), Error> {
    let lay = ctx.lay;
    let mut s = InstructionSink::new(out);
    // The first locals go to one `FrameN` call, packed as i64 bits.
    let first = nlocals.min(u32::from(FRAME_MAX));
    let mut tags: i64 = 0;
    for l in 0..first {
        let t = match v.get_local_type(l).and_then(Num::of) {
            Some(Num::I32) => tag::I32,
            Some(Num::I64) => tag::I64,
            Some(Num::F32) => tag::F32,
            Some(Num::F64) => tag::F64,
            None => tag::MISSING,
        };
        tags |= t << (3 * l);
    }
    s.i32_const(func as i32).i64_const(tags);
    for l in 0..first {
        match v.get_local_type(l).and_then(Num::of) {
            Some(Num::I32) => s.local_get(l).i64_extend_i32_s(),
            Some(Num::I64) => s.local_get(l),
            Some(Num::F32) => s.local_get(l).i32_reinterpret_f32().i64_extend_i32_u(),
            Some(Num::F64) => s.local_get(l).i64_reinterpret_f64(),
            None => s.i64_const(0),
        };
    }
    s.call(lay.helper(Helper::FrameN(first as u8)));
    let mut i = first;
    while i < nlocals {
        let ty = v.get_local_type(i);
        match ty.and_then(Num::of) {
            Some(num) => {
                let mut j = i;
                while j < nlocals && v.get_local_type(j).and_then(Num::of) == Some(num) {
                    j += 1;
                }
                let mut at = i;
                for n in arity_split(j - i) {
                    for k in 0..u32::from(n) {
                        s.local_get(at + k);
                    }
                    s.call(lay.helper(Helper::V(num, n)));
                    at += u32::from(n);
                }
                i = j;
            }
            None => {
                let mut j = i;
                while j < nlocals && v.get_local_type(j).and_then(Num::of).is_none() {
                    j += 1;
                }
                s.i32_const((j - i) as i32)
                    .call(lay.helper(Helper::VMissing));
                i = j;
            }
        }
    }
    let sig = ctx
        .input
        .func_sig(func)
        .ok_or_else(|| Error::invalid(0, "function without a function type"))?;
    for &r in &sig.results {
        match r {
            wasmparser::ValType::Ref(rt) if !rt.is_nullable() => {
                // `dummy_possible` guaranteed a parameter of this type (compared
                // in module type indices, as the analysis did).
                match sig.params.iter().position(|p| *p == r) {
                    Some(l) => s.local_get(l as u32),
                    None => return Err(Error::Limit("no dummy for a non-nullable result".into())),
                };
            }
            wasmparser::ValType::Ref(_) => {
                let h = heap_of(ev(r)?).ok_or_else(|| Error::Limit("bad reference type".into()))?;
                s.ref_null(h);
            }
            // Constants, not locals: a local read after the `Frame` call would
            // have to survive it (in a callee-saved register, saved on every entry).
            wasmparser::ValType::I32 => {
                s.i32_const(0);
            }
            wasmparser::ValType::I64 => {
                s.i64_const(0);
            }
            wasmparser::ValType::F32 => {
                s.f32_const(0.0f32.into());
            }
            wasmparser::ValType::F64 => {
                s.f64_const(0.0f64.into());
            }
            _ => {
                s.v128_const(0);
            }
        }
    }
    s.end();
    Ok(())
}
