//! Assembling the output module: every input section in its place (copied
//! byte for byte where nothing changes), the new types, functions, globals and
//! exports appended, and custom sections kept valid.

use std::collections::HashMap;

use wasm_encoder::Encode;
use wasmparser::{BinaryReader, ExternalKind, Operator, OperatorsReader};

use crate::Error;
use crate::analysis::{Plan, TableKind, Wrapper};
use crate::asm::{name, uleb};
use crate::layout::{EXPORT_LEN, EXPORT_MEMORY, EXPORT_PTR, Helper, Layout};
use crate::module::{ElemItem, ElemMode, Input, id};

/// Rank of a known section in the required order.
fn rank(section: u8) -> u8 {
    match section {
        id::TYPE => 1,
        id::IMPORT => 2,
        id::FUNCTION => 3,
        id::TABLE => 4,
        id::MEMORY => 5,
        id::TAG => 6,
        id::GLOBAL => 7,
        id::EXPORT => 8,
        id::START => 9,
        id::ELEMENT => 10,
        id::DATA_COUNT => 11,
        id::CODE => 12,
        id::DATA => 13,
        _ => 0,
    }
}

fn section(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    out.push(id);
    uleb(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// What gets written, besides the input.
pub(crate) struct Additions {
    /// Rewritten bodies of defined functions (`None`: unchanged).
    pub bodies: Vec<Option<Vec<u8>>>,
    /// Helper bodies, in `Layout::helpers` order.
    pub helpers: Vec<Vec<u8>>,
    /// Wrapper bodies, in `Plan::wrappers` order.
    pub wrappers: Vec<Vec<u8>>,
    /// The `postmortem.offsets` payload (see `offsets`).
    pub offsets: Option<Vec<u8>>,
}

pub(crate) struct Emitter<'a, 'b> {
    pub input: &'a Input<'b>,
    pub plan: &'a Plan,
    pub lay: &'a Layout,
}

impl Emitter<'_, '_> {
    fn active(&self) -> bool {
        self.plan.active()
    }

    fn new_funcs(&self) -> u32 {
        (self.lay.helpers.len() + self.plan.wrappers.len()) as u32
    }

    /// The sections the output needs even when the input has none of them.
    fn needed(&self) -> Vec<u8> {
        let mut v = Vec::new();
        if !self.active() {
            return v;
        }
        if !self.lay.new_types.is_empty() {
            v.push(id::TYPE);
        }
        if self.new_funcs() > 0 {
            v.push(id::FUNCTION);
            v.push(id::CODE);
        }
        if self.lay.add_memory {
            v.push(id::MEMORY);
        }
        if !self.lay.new_globals.is_empty() {
            v.push(id::GLOBAL);
        }
        v.push(id::EXPORT);
        if self.extra_declared() {
            v.push(id::ELEMENT);
        }
        v
    }

    /// An extra declarative element segment is needed for `ref.func` of wrappers.
    fn extra_declared(&self) -> bool {
        self.plan.wrapped_ref_funcs
    }

    pub fn emit(&self, mut add: Additions) -> Result<Vec<u8>, Error> {
        let offsets = add.offsets.take();
        let input = self.input;
        let mut out = Vec::with_capacity(input.bytes.len() + input.bytes.len() / 4 + 4096);
        out.extend_from_slice(&input.bytes[..8]);
        let present: Vec<u8> = input.sections.iter().map(|s| s.id).collect();
        let mut inserts: Vec<u8> = self
            .needed()
            .into_iter()
            .filter(|id| !present.contains(id))
            .collect();
        inserts.sort_by_key(|id| rank(*id));
        inserts.dedup();
        let mut add = Some(add);
        for s in &input.sections {
            if s.id != id::CUSTOM {
                while let Some(&next) = inserts.first() {
                    if rank(next) < rank(s.id) {
                        self.known(&mut out, next, None, &mut add)?;
                        inserts.remove(0);
                    } else {
                        break;
                    }
                }
                self.known(&mut out, s.id, Some(s.payload.clone()), &mut add)?;
            } else {
                self.custom(&mut out, s.name.unwrap_or(""), s.payload.clone())?;
            }
        }
        for next in inserts {
            self.known(&mut out, next, None, &mut add)?;
        }
        if let Some(offsets) = offsets.filter(|_| self.active()) {
            out.extend(crate::asm::custom_section(
                crate::offsets::SECTION,
                &offsets,
            ));
        }
        Ok(out)
    }

    fn raw<'c>(&self, range: &Option<std::ops::Range<usize>>) -> &'c [u8]
    where
        Self: 'c,
    {
        match range {
            Some(r) => &self.input.bytes[r.clone()],
            None => &[],
        }
    }

    /// The count at the start of a vector section payload, and the rest.
    fn split_count(&self, payload: &Option<std::ops::Range<usize>>) -> Result<(u32, usize), Error> {
        match payload {
            Some(r) => {
                let mut reader = BinaryReader::new(&self.input.bytes[r.clone()], r.start);
                let count = reader.read_var_u32()?;
                Ok((count, reader.original_position()))
            }
            None => Ok((0, 0)),
        }
    }

    fn known(
        &self,
        out: &mut Vec<u8>,
        sid: u8,
        payload: Option<std::ops::Range<usize>>,
        add: &mut Option<Additions>,
    ) -> Result<(), Error> {
        let input = self.input;
        if !self.active() {
            section(out, sid, self.raw(&payload));
            return Ok(());
        }
        let lay = self.lay;
        let mut p = Vec::new();
        match sid {
            id::TYPE if !lay.new_types.is_empty() => {
                let (count, rest) = self.split_count(&payload)?;
                uleb(&mut p, u64::from(count) + lay.new_types.len() as u64);
                if let Some(r) = &payload {
                    p.extend_from_slice(&input.bytes[rest..r.end]);
                }
                for (params, results) in &lay.new_types {
                    p.push(0x60);
                    params.as_slice().encode(&mut p);
                    results.as_slice().encode(&mut p);
                }
            }
            id::FUNCTION => {
                let (count, rest) = self.split_count(&payload)?;
                uleb(&mut p, u64::from(count) + u64::from(self.new_funcs()));
                if let Some(r) = &payload {
                    p.extend_from_slice(&input.bytes[rest..r.end]);
                }
                for h in &lay.helpers {
                    let (params, results) = lay.helper_sig(input, *h)?;
                    let ty = lay.type_of(&params, &results)?;
                    uleb(&mut p, u64::from(ty));
                }
                for w in &self.plan.wrappers {
                    let ty = input
                        .func_types
                        .get(w.func() as usize)
                        .copied()
                        .unwrap_or(0);
                    uleb(&mut p, u64::from(ty));
                }
            }
            id::TABLE => {
                p = self.rewrite_const_exprs(&payload, ConstExprSection::Table)?;
            }
            id::MEMORY if lay.add_memory && payload.is_none() => {
                p.extend_from_slice(&[1, 0, 0]);
            }
            id::GLOBAL => {
                let old = self.rewrite_const_exprs(&payload, ConstExprSection::Global)?;
                let (count, rest) = if old.is_empty() {
                    (0, 0)
                } else {
                    let mut r = BinaryReader::new(&old, 0);
                    let c = r.read_var_u32()?;
                    (c, r.original_position())
                };
                uleb(&mut p, u64::from(count) + lay.new_globals.len() as u64);
                if !old.is_empty() {
                    p.extend_from_slice(&old[rest..]);
                }
                for ty in &lay.new_globals {
                    ty.encode(&mut p);
                    p.push(1);
                    match ty {
                        wasm_encoder::ValType::I64 => p.extend_from_slice(&[0x42, 0]),
                        _ => p.extend_from_slice(&[0x41, 0]),
                    }
                    p.push(0x0b);
                }
            }
            id::EXPORT => self.exports(&mut p)?,
            id::START => {
                let start = input.start.unwrap_or(0);
                let start = match self.plan.root_of.get(&start) {
                    Some(&w) => lay.wrapper(w),
                    None => start,
                };
                uleb(&mut p, u64::from(start));
            }
            id::ELEMENT => self.elements(&mut p)?,
            id::CODE => {
                let add = add
                    .take()
                    .ok_or_else(|| Error::Limit("code section written twice".into()))?;
                self.code(&mut p, add)?;
            }
            _ => {
                section(out, sid, self.raw(&payload));
                return Ok(());
            }
        }
        section(out, sid, &p);
        Ok(())
    }

    fn exports(&self, p: &mut Vec<u8>) -> Result<(), Error> {
        let input = self.input;
        let lay = self.lay;
        for e in &input.exports {
            if [EXPORT_PTR, EXPORT_LEN, EXPORT_MEMORY].contains(&e.name) {
                return Err(Error::AlreadyInstrumented(e.name.to_string()));
            }
        }
        uleb(p, input.exports.len() as u64 + 3);
        for e in &input.exports {
            name(p, e.name);
            p.push(e.kind_byte);
            let index = match e.kind {
                ExternalKind::Func | ExternalKind::FuncExact => {
                    match self.plan.root_of.get(&e.index) {
                        Some(&w) => lay.wrapper(w),
                        None => e.index,
                    }
                }
                _ => e.index,
            };
            uleb(p, u64::from(index));
        }
        name(p, EXPORT_PTR);
        p.push(0);
        uleb(p, u64::from(lay.helper(Helper::Ptr)));
        name(p, EXPORT_LEN);
        p.push(0);
        uleb(p, u64::from(lay.helper(Helper::Len)));
        name(p, EXPORT_MEMORY);
        p.push(2);
        uleb(p, 0);
        Ok(())
    }

    fn elements(&self, p: &mut Vec<u8>) -> Result<(), Error> {
        let input = self.input;
        let lay = self.lay;
        let extra = self.extra_declared();
        uleb(p, input.elements.len() as u64 + u64::from(extra));
        for (e, elem) in input.elements.iter().enumerate() {
            p.extend_from_slice(&input.bytes[elem.prefix.clone()]);
            uleb(p, elem.items.len() as u64);
            let dynamic = match elem.mode {
                ElemMode::Active { table, .. } => {
                    matches!(
                        self.plan.tables.get(table as usize),
                        Some(TableKind::Dynamic)
                    )
                }
                _ => false,
            };
            for (i, item) in elem.items.iter().enumerate() {
                let f = match *item {
                    ElemItem::Func(f) => {
                        let mapped = match elem.mode {
                            ElemMode::Active { .. } if dynamic => self
                                .plan
                                .slot_of
                                .get(&(e as u32, i as u32))
                                .map(|&w| lay.wrapper(w)),
                            ElemMode::Passive => self.plan.root_of.get(&f).map(|&w| lay.wrapper(w)),
                            _ => None,
                        };
                        mapped.unwrap_or(f)
                    }
                    ElemItem::Expr(ref range) => {
                        p.extend_from_slice(&self.rewrite_expr(range.clone())?);
                        continue;
                    }
                };
                if elem.exprs {
                    p.push(0xd2);
                    uleb(p, u64::from(f));
                    p.push(0x0b);
                } else {
                    uleb(p, u64::from(f));
                }
            }
        }
        if extra {
            // Declarative segment (flags 3, elemkind func) naming every root wrapper.
            p.push(3);
            p.push(0);
            let roots: Vec<u32> = self
                .plan
                .wrappers
                .iter()
                .enumerate()
                .filter(|(_, w)| matches!(w, Wrapper::Root(_)))
                .map(|(i, _)| lay.wrapper(i))
                .collect();
            uleb(p, roots.len() as u64);
            for r in roots {
                uleb(p, u64::from(r));
            }
        }
        Ok(())
    }

    fn code(&self, p: &mut Vec<u8>, add: Additions) -> Result<(), Error> {
        let input = self.input;
        uleb(
            p,
            u64::from(input.defined_funcs()) + u64::from(self.new_funcs()),
        );
        for (i, body) in add.bodies.iter().enumerate() {
            match body {
                Some(b) => {
                    uleb(p, b.len() as u64);
                    p.extend_from_slice(b);
                }
                None => {
                    let r = input.bodies[i].range();
                    uleb(p, r.len() as u64);
                    p.extend_from_slice(&input.bytes[r]);
                }
            }
        }
        for b in add.helpers.iter().chain(&add.wrappers) {
            uleb(p, b.len() as u64);
            p.extend_from_slice(b);
        }
        Ok(())
    }

    /// A constant expression with `ref.func` of rooted functions redirected.
    fn rewrite_expr(&self, range: std::ops::Range<usize>) -> Result<Vec<u8>, Error> {
        let bytes = &self.input.bytes[range.clone()];
        let mut out = Vec::with_capacity(bytes.len());
        let mut ops = OperatorsReader::new(BinaryReader::new(bytes, range.start));
        let mut copied = range.start;
        while !ops.eof() {
            let pos = ops.original_position();
            let op = ops.read()?;
            let end = ops.original_position();
            if let Operator::RefFunc { function_index } = op
                && let Some(&w) = self.plan.root_of.get(&function_index)
            {
                out.extend_from_slice(&self.input.bytes[copied..pos]);
                out.push(0xd2);
                uleb(&mut out, u64::from(self.lay.wrapper(w)));
                copied = end;
            }
        }
        out.extend_from_slice(&self.input.bytes[copied..range.end]);
        Ok(out)
    }

    /// The table or global section with initialiser expressions rewritten
    /// (only when one takes a reference to a rooted function).
    fn rewrite_const_exprs(
        &self,
        payload: &Option<std::ops::Range<usize>>,
        which: ConstExprSection,
    ) -> Result<Vec<u8>, Error> {
        let Some(range) = payload else {
            return Ok(Vec::new());
        };
        let affected: Vec<std::ops::Range<usize>> = self
            .input
            .const_exprs
            .iter()
            .filter(|r| r.start >= range.start && r.end <= range.end)
            .filter(|r| {
                self.rewrite_expr((*r).clone())
                    .is_ok_and(|e| e != self.input.bytes[(*r).clone()])
            })
            .cloned()
            .collect();
        let _ = which;
        if affected.is_empty() {
            return Ok(self.input.bytes[range.clone()].to_vec());
        }
        let mut out = Vec::with_capacity(range.len() + 16);
        let mut copied = range.start;
        for r in affected {
            out.extend_from_slice(&self.input.bytes[copied..r.start]);
            out.extend_from_slice(&self.rewrite_expr(r.clone())?);
            copied = r.end;
        }
        out.extend_from_slice(&self.input.bytes[copied..range.end]);
        Ok(out)
    }

    fn custom(
        &self,
        out: &mut Vec<u8>,
        name_: &str,
        payload: std::ops::Range<usize>,
    ) -> Result<(), Error> {
        let bytes = &self.input.bytes[payload.clone()];
        // DWARF, source maps and pointers to separate debug files describe the
        // input's code, not ours: dumps carry input offsets, so the input (or its
        // debug file, found by build id) resolves them.
        if (name_.starts_with(".debug_")
            || name_ == "sourceMappingURL"
            || name_ == wasm_coredump::EXTERNAL_DEBUG_INFO_SECTION)
            && self.active()
        {
            return Ok(());
        }
        let body: Vec<u8> = match name_ {
            "name" if self.active() => self
                .names(bytes, payload.start)
                .unwrap_or_else(|_| bytes.to_vec()),
            "producers" if self.active() => self
                .producers(bytes, payload.start)
                .unwrap_or_else(|_| bytes.to_vec()),
            _ => bytes.to_vec(),
        };
        out.extend(crate::asm::custom_section(name_, &body));
        Ok(())
    }

    /// The `name` section: function names for the added functions, label
    /// indices shifted past the blocks added in front of instrumented bodies.
    fn names(&self, bytes: &[u8], offset: usize) -> Result<Vec<u8>, Error> {
        let mut reader = BinaryReader::new(bytes, offset);
        let mut out = Vec::with_capacity(bytes.len() + 64 * self.new_funcs() as usize);
        let mut wrote_functions = false;
        while !reader.eof() {
            let sub = reader.read_u8()?;
            let len = reader.read_var_u32()? as usize;
            let start = reader.original_position();
            let data = reader.read_bytes(len)?;
            match sub {
                1 => {
                    let mut r = BinaryReader::new(data, start);
                    let count = r.read_var_u32()?;
                    let mut names: Vec<(u32, &str)> = Vec::with_capacity(count as usize);
                    for _ in 0..count {
                        let index = r.read_var_u32()?;
                        let n = r.read_unlimited_string()?;
                        names.push((index, n));
                    }
                    let existing: HashMap<u32, &str> = names.iter().copied().collect();
                    let mut p = Vec::new();
                    let added = self.added_names(&existing);
                    uleb(&mut p, (names.len() + added.len()) as u64);
                    for (i, n) in &names {
                        uleb(&mut p, u64::from(*i));
                        name(&mut p, n);
                    }
                    for (i, n) in &added {
                        uleb(&mut p, u64::from(*i));
                        name(&mut p, n);
                    }
                    section(&mut out, 1, &p);
                    wrote_functions = true;
                }
                3 => {
                    let p = self.shift_labels(data, start)?;
                    section(&mut out, 3, &p);
                }
                other => section(&mut out, other, data),
            }
        }
        let _ = wrote_functions;
        Ok(out)
    }

    fn added_names(&self, existing: &HashMap<u32, &str>) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        for (i, h) in self.lay.helpers.iter().enumerate() {
            out.push((self.lay.func_base + i as u32, h.name()));
        }
        for (i, w) in self.plan.wrappers.iter().enumerate() {
            let f = w.func();
            let base = existing
                .get(&f)
                .map_or_else(|| format!("func{f}"), |n| n.to_string());
            let n = match w {
                Wrapper::Root(_) => format!("{base}:root"),
                Wrapper::Slot { elem, item, .. } => format!("{base}:slot{elem}.{item}"),
            };
            out.push((self.lay.wrapper(i), n));
        }
        out
    }

    fn shift_labels(&self, data: &[u8], start: usize) -> Result<Vec<u8>, Error> {
        let mut r = BinaryReader::new(data, start);
        let count = r.read_var_u32()?;
        let mut p = Vec::new();
        let mut entries = Vec::new();
        for _ in 0..count {
            let func = r.read_var_u32()?;
            let n = r.read_var_u32()?;
            let mut labels = Vec::new();
            for _ in 0..n {
                let index = r.read_var_u32()?;
                let s = r.read_unlimited_string()?;
                labels.push((index, s));
            }
            let f = func as usize;
            if self.plan.raise_after_calls.get(f).copied().unwrap_or(false) {
                // Blocks were added in the middle: the names no longer line up.
                continue;
            }
            let shift =
                if self.plan.pad.get(f).copied().unwrap_or(false) {
                    let defined = func
                        .checked_sub(self.input.imported_funcs)
                        .map(|d| d as usize);
                    2 + u32::from(defined.is_some_and(|d| {
                        self.plan.has_unreachable.get(d).copied().unwrap_or(false)
                    }))
                } else {
                    0
                };
            entries.push((func, labels, shift));
        }
        uleb(&mut p, entries.len() as u64);
        for (func, labels, shift) in entries {
            uleb(&mut p, u64::from(func));
            uleb(&mut p, labels.len() as u64);
            for (index, s) in labels {
                uleb(&mut p, u64::from(index + shift));
                name(&mut p, s);
            }
        }
        Ok(p)
    }

    /// The `producers` section with this tool added under `processed-by`.
    fn producers(&self, bytes: &[u8], offset: usize) -> Result<Vec<u8>, Error> {
        let mut r = BinaryReader::new(bytes, offset);
        let count = r.read_var_u32()?;
        let mut fields: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for _ in 0..count {
            let field = r.read_unlimited_string()?.to_string();
            let n = r.read_var_u32()?;
            let mut values = Vec::new();
            for _ in 0..n {
                let k = r.read_unlimited_string()?.to_string();
                let v = r.read_unlimited_string()?.to_string();
                values.push((k, v));
            }
            fields.push((field, values));
        }
        if !r.eof() {
            return Err(Error::invalid(
                r.original_position(),
                "trailing bytes in producers",
            ));
        }
        let tool = (
            "coredump-rewrite".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        );
        match fields.iter_mut().find(|(f, _)| f == "processed-by") {
            Some((_, values)) => {
                values.retain(|(k, _)| k != &tool.0);
                values.push(tool);
            }
            None => fields.push(("processed-by".to_string(), vec![tool])),
        }
        let mut p = Vec::new();
        uleb(&mut p, fields.len() as u64);
        for (field, values) in fields {
            name(&mut p, &field);
            uleb(&mut p, values.len() as u64);
            for (k, v) in values {
                name(&mut p, &k);
                name(&mut p, &v);
            }
        }
        Ok(p)
    }
}

#[derive(Clone, Copy)]
enum ConstExprSection {
    Table,
    Global,
}
