//! The analysis pass: what every function contains, which functions can be
//! left untouched, and what each table holds.
//!
//! A function *may unwind* when a trap site we instrument can be reached from
//! it through direct calls, indirect calls or tail calls. Only calls to such
//! functions get a check afterwards, and only functions that contain a trap
//! site or such a call get a landing pad; everything else is copied byte for
//! byte. Calls to imports never unwind: a host function that re-enters the
//! module does so through a root wrapper, which finishes its own dump and
//! traps for real.

use std::collections::{BTreeSet, HashMap, HashSet};

use wasmparser::{ExternalKind, Operator, OperatorsReader, ValType};

use crate::layout::{FRAME_MAX, Num, arity_split};
use crate::module::{ElemItem, ElemMode, Input, Sig};
use crate::sites::{self, Check, Site};
use crate::{Error, Options, parallel};

/// What one function body contains.
#[derive(Debug, Default, Clone)]
pub(crate) struct Facts {
    /// Defined functions called with `call`.
    pub calls: Vec<u32>,
    /// Defined functions called with `return_call`.
    pub tail_calls: Vec<u32>,
    /// `call_indirect` or `call_ref` (not as tail calls).
    pub indirect: bool,
    /// `return_call_indirect` or `return_call_ref`.
    pub indirect_tail: bool,
    /// Tables used by `call_indirect` / `return_call_indirect`.
    pub ci_tables: Vec<u32>,
    /// `call_indirect` sites: (table, type index, tail call).
    pub ci_sites: Vec<(u32, u32, bool)>,
    /// Contains an `unreachable`.
    pub unreachable: bool,
    /// The checked trap sites it contains (deduplicated).
    pub checks: Vec<Check>,
    /// Functions it takes references to with `ref.func`.
    pub ref_funcs: Vec<u32>,
    /// Tables it uses with `table.*` instructions.
    pub tables_touched: Vec<u32>,
    /// Tables it grows.
    pub tables_grown: Vec<u32>,
    /// Uses reference-types instructions (so the feature is on).
    pub reftypes: bool,
    /// Uses tail calls.
    pub tail: bool,
    /// The `V` helpers its landing pad would call.
    pub arities: Vec<(Num, u8)>,
    /// The `FrameN` helper its landing pad would call.
    pub frame_n: u8,
    /// Data segments it drops.
    pub data_drops: Vec<u32>,
    /// Element segments it drops.
    pub elem_drops: Vec<u32>,
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Scans one function body.
fn scan_body(input: &Input<'_>, index: usize, opts: &Options) -> Result<Facts, Error> {
    let body = &input.bodies[index];
    let mut facts = Facts::default();
    // The landing pad passes the first FRAME_MAX locals to one `FrameN` call
    // and the rest, in runs of one type, to `V` helpers.
    let mut types: Vec<Option<Num>> = Vec::new();
    if let Some(sig) = input.func_sig(input.imported_funcs + index as u32) {
        types.extend(sig.params.iter().map(|p| Num::of(*p)));
    }
    for local in body.get_locals_reader()? {
        let (n, ty) = local?;
        // Validators accept at most 50,000 locals per function.
        types.extend(std::iter::repeat_n(Num::of(ty), (n as usize).min(50_000)));
    }
    facts.frame_n = types.len().min(FRAME_MAX as usize) as u8;
    let mut i = FRAME_MAX as usize;
    while i < types.len() {
        let mut j = i;
        while j < types.len() && types[j] == types[i] {
            j += 1;
        }
        if let Some(num) = types[i] {
            for arity in arity_split((j - i) as u32) {
                push_unique(&mut facts.arities, (num, arity));
            }
        }
        i = j;
    }
    let mut ops: OperatorsReader<'_> = body.get_operators_reader()?;
    let mut prev_const = None;
    let total = input.total_funcs();
    while !ops.eof() {
        let at = ops.original_position();
        let op = ops.read()?;
        // The body is validated later: keep indices in range for the analysis.
        if let Operator::Call { function_index }
        | Operator::ReturnCall { function_index }
        | Operator::RefFunc { function_index } = op
            && function_index >= total
        {
            return Err(Error::invalid(
                at,
                format!("unknown function {function_index}"),
            ));
        }
        match op {
            Operator::Call { function_index } if !input.is_import(function_index) => {
                push_unique(&mut facts.calls, function_index);
            }
            Operator::ReturnCall { function_index } => {
                facts.tail = true;
                if !input.is_import(function_index) {
                    push_unique(&mut facts.tail_calls, function_index);
                }
            }
            Operator::CallIndirect {
                table_index,
                type_index,
            } => {
                facts.indirect = true;
                push_unique(&mut facts.ci_tables, table_index);
                push_unique(&mut facts.ci_sites, (table_index, type_index, false));
                if table_index != 0 {
                    facts.reftypes = true;
                }
            }
            Operator::ReturnCallIndirect {
                table_index,
                type_index,
            } => {
                facts.tail = true;
                facts.indirect_tail = true;
                push_unique(&mut facts.ci_tables, table_index);
                push_unique(&mut facts.ci_sites, (table_index, type_index, true));
            }
            Operator::CallRef { .. } => {
                facts.indirect = true;
                facts.reftypes = true;
            }
            Operator::ReturnCallRef { .. } => {
                facts.tail = true;
                facts.indirect_tail = true;
                facts.reftypes = true;
            }
            Operator::Unreachable => facts.unreachable = true,
            Operator::RefFunc { function_index } => {
                facts.reftypes = true;
                push_unique(&mut facts.ref_funcs, function_index);
            }
            Operator::RefNull { .. } | Operator::RefIsNull | Operator::TypedSelect { .. } => {
                facts.reftypes = true
            }
            Operator::TableGet { table }
            | Operator::TableSet { table }
            | Operator::TableSize { table }
            | Operator::TableGrow { table }
            | Operator::TableFill { table } => {
                facts.reftypes = true;
                push_unique(&mut facts.tables_touched, table);
                if matches!(op, Operator::TableGrow { .. }) {
                    push_unique(&mut facts.tables_grown, table);
                }
            }
            Operator::TableCopy {
                dst_table,
                src_table,
            } => {
                push_unique(&mut facts.tables_touched, dst_table);
                push_unique(&mut facts.tables_touched, src_table);
            }
            Operator::TableInit { table, .. } => push_unique(&mut facts.tables_touched, table),
            Operator::DataDrop { data_index } => push_unique(&mut facts.data_drops, data_index),
            Operator::ElemDrop { elem_index } => push_unique(&mut facts.elem_drops, elem_index),
            _ => {}
        }
        if let Some(Site::Check(check)) = sites::site(&op, prev_const, opts) {
            push_unique(&mut facts.checks, check);
        }
        if opts.checks.bounds
            && let Some(access) = sites::access(&op)
        {
            let memory = access.memarg.memory;
            push_unique(
                &mut facts.checks,
                if access.atomic {
                    Check::Atomic(memory)
                } else {
                    Check::Bounds(memory)
                },
            );
        }
        prev_const = sites::const_value(&op);
    }
    Ok(facts)
}

/// What a table holds, as far as the rewriter can tell.
#[derive(Debug, Clone)]
pub(crate) enum TableKind {
    /// Only the module's own element segments ever write it, with constant
    /// offsets: slot -> signature class of the function there (`None`: null).
    Static { slots: Vec<Option<u32>> },
    /// Imported, exported or changed by instructions: its contents are only
    /// known at run time, and the host may call its functions.
    Dynamic,
}

/// A wrapper function the rewriter adds in front of a function that may unwind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Wrapper {
    /// Always the outermost frame of an activation: for exports, the start
    /// function and references that may reach the host.
    Root(u32),
    /// In slot `item` of active element segment `elem` of a dynamic table:
    /// transparent when `call_indirect` in this module called it through that
    /// slot, a root otherwise.
    Slot { func: u32, elem: u32, item: u32 },
}

impl Wrapper {
    pub fn func(&self) -> u32 {
        match *self {
            Wrapper::Root(f) | Wrapper::Slot { func: f, .. } => f,
        }
    }
}

/// The decisions of the analysis.
pub(crate) struct Plan {
    /// Per function (imports included): a call to it may return while unwinding.
    pub may_unwind: Vec<bool>,
    /// Per function: its body is wrapped and gets a landing pad.
    pub pad: Vec<bool>,
    /// Per function: its calls to functions that may unwind raise the trap
    /// right away (it cannot return dummy results, so it has no landing pad).
    pub raise_after_calls: Vec<bool>,
    pub tables: Vec<TableKind>,
    /// Per table: `call_indirect` through it is checked.
    pub ci_checked: Vec<bool>,
    /// Per table: `call_indirect` through it sets the wrapper token.
    pub ci_token: Vec<bool>,
    /// Per table: its size, when it can never change (defined, not exported,
    /// never grown).
    pub fixed_size: Vec<Option<u64>>,
    /// Signature class of every type index (equal classes = equal function types).
    pub sig_class: Vec<u32>,
    /// Every check helper some function needs.
    pub checks: BTreeSet<Check>,
    /// (table, signature class) of `call_indirect` sites that may return while unwinding.
    pub ci_unwinds: HashSet<(u32, u32)>,
    /// GC types: signature classes are not used (every class is `u32::MAX`).
    pub gc_types: bool,
    /// Tables used by checked `call_indirect` sites.
    pub ci_helpers: BTreeSet<u32>,
    pub reftypes: bool,
    pub tail_calls: bool,
    pub wrappers: Vec<Wrapper>,
    /// Root wrapper index (in `wrappers`) of each function that has one.
    pub root_of: HashMap<u32, usize>,
    /// Slot wrapper index of (elem, item).
    pub slot_of: HashMap<(u32, u32), usize>,
    /// Data segments that some `data.drop` may empty.
    pub dropped_data: HashSet<u32>,
    /// Element segments that some `elem.drop` may empty.
    pub dropped_elems: HashSet<u32>,
    /// The `V` helpers landing pads call.
    pub arities: BTreeSet<(Num, u8)>,
    /// The `FrameN` helpers landing pads call.
    pub frame_ns: BTreeSet<u8>,
    /// Per defined function: contains an `unreachable` that gets instrumented.
    pub has_unreachable: Vec<bool>,
    /// Per defined function: takes references (`ref.func`) to functions that
    /// now have a root wrapper, or drops segments (recorded for the checks).
    pub ref_rewrite: Vec<bool>,
    /// Some `ref.func` in code now names a root wrapper (which must then be declared).
    pub wrapped_ref_funcs: bool,
    pub warnings: Vec<String>,
}

impl Plan {
    /// Whether a `call_indirect` with this table and type may return while unwinding.
    pub fn ci_may_unwind(&self, table: u32, type_index: u32) -> bool {
        let class = if self.gc_types {
            u32::MAX
        } else {
            self.sig_class
                .get(type_index as usize)
                .copied()
                .unwrap_or(u32::MAX)
        };
        self.ci_unwinds.contains(&(table, class))
    }

    /// Whether anything at all is instrumented.
    pub fn active(&self) -> bool {
        self.pad.iter().any(|p| *p) || !self.wrappers.is_empty()
    }
}

/// Whether a landing pad can make up a result of this type.
pub(crate) fn dummy_possible(ty: ValType, params: &[ValType]) -> bool {
    match ty {
        ValType::Ref(r) if !r.is_nullable() => params.contains(&ty),
        _ => true,
    }
}

/// Runs the analysis pass.
pub(crate) fn analyse(input: &Input<'_>, opts: &Options) -> Result<Plan, Error> {
    let n = input.bodies.len();
    let facts: Vec<Facts> = parallel::map(n, opts.threads, |i| scan_body(input, i, opts))
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut dropped_data = HashSet::new();
    let mut dropped_elems = HashSet::new();
    for f in &facts {
        dropped_data.extend(f.data_drops.iter().copied());
        dropped_elems.extend(f.elem_drops.iter().copied());
    }

    let total = input.total_funcs() as usize;
    let imported = input.imported_funcs as usize;
    let reftypes = facts.iter().any(|f| f.reftypes)
        || input.tables.len() > 1
        || input.elements.iter().any(|e| e.exprs);
    let tail_calls = facts.iter().any(|f| f.tail);
    let mut warnings = Vec::new();

    // Signature classes: structural equality of function types (without GC
    // types, which is what `call_indirect` compares).
    let mut sig_class = Vec::with_capacity(input.types.len());
    let mut seen: HashMap<&Sig, u32> = HashMap::new();
    for (i, ty) in input.types.iter().enumerate() {
        sig_class.push(match ty {
            Some(sig) if !input.gc_types => *seen.entry(sig).or_insert(i as u32),
            _ => i as u32,
        });
    }

    // Tables.
    let mut touched = vec![false; input.tables.len()];
    for f in &facts {
        for &t in &f.tables_touched {
            if let Some(slot) = touched.get_mut(t as usize) {
                *slot = true;
            }
        }
    }
    let mut exported_table = vec![false; input.tables.len()];
    for e in &input.exports {
        if e.kind == ExternalKind::Table
            && let Some(slot) = exported_table.get_mut(e.index as usize)
        {
            *slot = true;
        }
    }
    let tables: Vec<TableKind> = input
        .tables
        .iter()
        .enumerate()
        .map(|(t, table)| {
            if table.imported || table.init_expr || exported_table[t] || touched[t] {
                return TableKind::Dynamic;
            }
            static_contents(input, t as u32, &sig_class).unwrap_or(TableKind::Dynamic)
        })
        .collect();
    let ci_checked: Vec<bool> = tables
        .iter()
        .map(|kind| {
            opts.checks.call_indirect
                && match kind {
                    TableKind::Static { .. } => true,
                    TableKind::Dynamic => reftypes,
                }
        })
        .collect();
    let mut grown = vec![false; input.tables.len()];
    for f in &facts {
        for &t in &f.tables_grown {
            if let Some(g) = grown.get_mut(t as usize) {
                *g = true;
            }
        }
    }
    let fixed_size: Vec<Option<u64>> = input
        .tables
        .iter()
        .enumerate()
        .map(|(t, table)| {
            (!table.imported && !exported_table[t] && !grown[t]).then_some(table.ty.initial)
        })
        .collect();
    let ci_token: Vec<bool> = tables
        .iter()
        .map(|kind| matches!(kind, TableKind::Dynamic))
        .collect();
    if opts.checks.call_indirect
        && !reftypes
        && tables.iter().any(|t| matches!(t, TableKind::Dynamic))
    {
        warnings.push(
            "call_indirect through a table the host can change is not checked: the module does not use \
             reference types, so it cannot read the table (such traps stay native, without a dump)"
                .to_string(),
        );
    }

    // Landing pads are possible when every result can be made up.
    let mut pad_ok = vec![false; total];
    for (f, ok) in pad_ok.iter_mut().enumerate().skip(imported) {
        *ok = match input.func_sig(f as u32) {
            Some(sig) => sig.results.iter().all(|r| dummy_possible(*r, &sig.params)),
            None => false,
        };
    }

    // Sources: functions with an instrumented trap site of their own.
    let mut source = vec![false; total];
    let mut checks = BTreeSet::new();
    let mut ci_helpers = BTreeSet::new();
    for (i, f) in facts.iter().enumerate() {
        let func = imported + i;
        if !pad_ok[func] {
            continue;
        }
        let ci = f
            .ci_tables
            .iter()
            .any(|t| ci_checked.get(*t as usize).copied().unwrap_or(false));
        source[func] = (opts.checks.unreachable && f.unreachable)
            || !f.checks.is_empty()
            || ci
            || opts.call_depth_limit.is_some();
    }

    // Propagate along reversed call edges. A `call_indirect` site is an edge
    // to a virtual node per (table, signature class), itself reached from the
    // functions active segments put in that table with that signature: only
    // those can return to the caller while unwinding. Wrappers never do (they
    // raise), nor do functions of other instances; `call_ref` only reaches
    // wrappers or foreign functions.
    let class_key = |table: u32, ty: u32| -> (u32, u32) {
        let class = if input.gc_types {
            u32::MAX
        } else {
            sig_class.get(ty as usize).copied().unwrap_or(u32::MAX)
        };
        (table, class)
    };
    let mut keys: HashMap<(u32, u32), u32> = HashMap::new();
    for f in &facts {
        for &(t, ty, _) in &f.ci_sites {
            let next = (total + keys.len()) as u32;
            keys.entry(class_key(t, ty)).or_insert(next);
        }
    }
    let nodes = total + keys.len();
    let mut rev: Vec<Vec<(u32, bool)>> = vec![Vec::new(); nodes];
    for (i, f) in facts.iter().enumerate() {
        let func = (imported + i) as u32;
        for &g in &f.calls {
            if let Some(list) = rev.get_mut(g as usize) {
                list.push((func, false));
            }
        }
        for &g in &f.tail_calls {
            if let Some(list) = rev.get_mut(g as usize) {
                list.push((func, true));
            }
        }
        for &(t, ty, tail) in &f.ci_sites {
            if let Some(&node) = keys.get(&class_key(t, ty)) {
                rev[node as usize].push((func, tail));
            }
        }
    }
    for elem in &input.elements {
        let ElemMode::Active { table, .. } = elem.mode else {
            continue;
        };
        for item in &elem.items {
            let ElemItem::Func(g) = *item else { continue };
            let ty = input
                .func_types
                .get(g as usize)
                .copied()
                .unwrap_or(u32::MAX);
            let key = if input.gc_types {
                (table, u32::MAX)
            } else {
                class_key(table, ty)
            };
            if let Some(&node) = keys.get(&key)
                && let Some(list) = rev.get_mut(g as usize)
                && !list.contains(&(node, false))
            {
                list.push((node, false));
            }
        }
    }
    let mut may = vec![false; nodes];
    let mut queue: Vec<u32> = Vec::new();
    for f in 0..total {
        if source[f] {
            may[f] = true;
            queue.push(f as u32);
        }
    }
    while let Some(g) = queue.pop() {
        for &(caller, tail) in &rev[g as usize] {
            let c = caller as usize;
            // A tail call hands the callee's results straight to our caller:
            // no landing pad needed, so no dummy results either.
            let ok = c >= total || pad_ok[c] || tail;
            if ok && !may[c] {
                may[c] = true;
                queue.push(caller);
            }
        }
    }
    let ci_unwinds: HashSet<(u32, u32)> = keys
        .iter()
        .filter(|(_, node)| may[**node as usize])
        .map(|(k, _)| *k)
        .collect();
    let site_unwinds = |t: u32, ty: u32| ci_unwinds.contains(&class_key(t, ty));
    may.truncate(total);

    let mut arities = BTreeSet::new();
    let mut frame_ns = BTreeSet::new();
    let mut pad = vec![false; total];
    let mut raise_after_calls = vec![false; total];
    for (i, f) in facts.iter().enumerate() {
        let c = imported + i;
        let unwinding_calls = f
            .calls
            .iter()
            .any(|g| may.get(*g as usize).copied().unwrap_or(false))
            || f.ci_sites
                .iter()
                .any(|&(t, ty, tail)| !tail && site_unwinds(t, ty));
        if pad_ok[c] {
            pad[c] = source[c] || (may[c] && unwinding_calls);
        } else if unwinding_calls {
            raise_after_calls[c] = true;
        }
        if pad[c] {
            arities.extend(f.arities.iter().copied());
            frame_ns.insert(f.frame_n);
            checks.extend(f.checks.iter().copied());
            for &t in &f.ci_tables {
                if ci_checked.get(t as usize).copied().unwrap_or(false) {
                    ci_helpers.insert(t);
                }
            }
        }
    }
    let unpadded = (imported..total)
        .filter(|&c| !pad_ok[c] && (source_possible(&facts[c - imported], opts)))
        .count();
    if unpadded > 0 {
        warnings.push(format!(
            "{unpadded} function(s) return non-nullable references and cannot return dummy results while \
             unwinding: their own trap sites are left native, and a trap below them ends the dump there"
        ));
    }

    // Wrappers: every way the host can call a function that may unwind.
    let mut wrappers = Vec::new();
    let mut root_of = HashMap::new();
    let mut slot_of = HashMap::new();
    let mut root = |f: u32, wrappers: &mut Vec<Wrapper>| {
        if may.get(f as usize).copied().unwrap_or(false) {
            root_of.entry(f).or_insert_with(|| {
                wrappers.push(Wrapper::Root(f));
                wrappers.len() - 1
            });
        }
    };
    for e in &input.exports {
        if e.kind == ExternalKind::Func {
            root(e.index, &mut wrappers);
        }
    }
    if let Some(start) = input.start {
        root(start, &mut wrappers);
    }
    for f in &facts {
        for &r in &f.ref_funcs {
            root(r, &mut wrappers);
        }
    }
    for range in &input.const_exprs {
        for r in const_expr_ref_funcs(input, range.clone()) {
            root(r, &mut wrappers);
        }
    }
    for (e, elem) in input.elements.iter().enumerate() {
        let dynamic_slot = match elem.mode {
            ElemMode::Active { table, .. } => {
                matches!(tables.get(table as usize), Some(TableKind::Dynamic))
            }
            _ => false,
        };
        let static_slot = matches!(elem.mode, ElemMode::Active { .. }) && !dynamic_slot;
        for (item_index, item) in elem.items.iter().enumerate() {
            let ElemItem::Func(f) = *item else { continue };
            if !may.get(f as usize).copied().unwrap_or(false) || static_slot {
                continue;
            }
            if dynamic_slot {
                wrappers.push(Wrapper::Slot {
                    func: f,
                    elem: e as u32,
                    item: item_index as u32,
                });
                slot_of.insert((e as u32, item_index as u32), wrappers.len() - 1);
            } else {
                root(f, &mut wrappers);
            }
        }
    }

    let has_unreachable = facts
        .iter()
        .map(|f| opts.checks.unreachable && f.unreachable)
        .collect();
    let ref_rewrite = facts
        .iter()
        .map(|f| {
            f.ref_funcs.iter().any(|r| root_of.contains_key(r))
                || !f.data_drops.is_empty()
                || !f.elem_drops.is_empty()
        })
        .collect();
    let wrapped_ref_funcs = facts
        .iter()
        .any(|f| f.ref_funcs.iter().any(|r| root_of.contains_key(r)));
    Ok(Plan {
        wrapped_ref_funcs,
        frame_ns,
        ci_unwinds,
        gc_types: input.gc_types,
        arities,
        has_unreachable,
        ref_rewrite,
        may_unwind: may,
        pad,
        raise_after_calls,
        tables,
        ci_checked,
        ci_token,
        fixed_size,
        sig_class,
        checks,
        ci_helpers,
        reftypes,
        tail_calls,
        wrappers,
        root_of,
        slot_of,
        dropped_data,
        dropped_elems,
        warnings,
    })
}

fn source_possible(f: &Facts, opts: &Options) -> bool {
    (opts.checks.unreachable && f.unreachable) || !f.checks.is_empty()
}

/// `ref.func` targets inside a constant expression.
fn const_expr_ref_funcs(input: &Input<'_>, range: std::ops::Range<usize>) -> Vec<u32> {
    let mut out = Vec::new();
    let Some(bytes) = input.bytes.get(range.clone()) else {
        return out;
    };
    let mut ops = OperatorsReader::new(wasmparser::BinaryReader::new(bytes, range.start));
    while !ops.eof() {
        match ops.read() {
            Ok(Operator::RefFunc { function_index }) => out.push(function_index),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out
}

/// The largest table whose slots are tabulated for `call_indirect` checks.
const MAX_STATIC_SLOTS: u64 = 1 << 20;

/// The contents of a table that only the module's own active segments write.
fn static_contents(input: &Input<'_>, table: u32, sig_class: &[u32]) -> Option<TableKind> {
    let size = input.tables.get(table as usize)?.ty.initial;
    if size > MAX_STATIC_SLOTS {
        return None;
    }
    let mut slots: Vec<Option<u32>> = vec![None; size as usize];
    for elem in &input.elements {
        let ElemMode::Active {
            table: t, offset, ..
        } = &elem.mode
        else {
            continue;
        };
        if *t != table {
            continue;
        }
        let offset = (*offset)?;
        for (i, item) in elem.items.iter().enumerate() {
            let slot = slots.get_mut(usize::try_from(offset.checked_add(i as u64)?).ok()?)?;
            *slot = match *item {
                ElemItem::Func(f) => {
                    let ty = *input.func_types.get(f as usize)?;
                    Some(*sig_class.get(ty as usize)?)
                }
                ElemItem::Expr(ref range) => {
                    // Only `ref.null` is understood.
                    let bytes = input.bytes.get(range.clone())?;
                    if bytes.first() == Some(&0xd0) {
                        None
                    } else {
                        return None;
                    }
                }
            };
        }
    }
    Some(TableKind::Static { slots })
}
