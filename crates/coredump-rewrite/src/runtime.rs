//! The code the rewriter adds to every instrumented module: the core-dump
//! writer, the trap checks, the raise-for-real table and the wrappers.
//!
//! The dump is written into a scratch region that `Start` grows beyond the
//! end of memory 0 when a trap begins, so the program's own memory is never
//! written. The region starts with a 4 KiB area for the trapping frame's
//! operand-stack values (spilled before its landing pad records the frame);
//! the dump file follows it. Sizes that are only known later (section sizes,
//! vector counts) are written as padded 5-byte LEBs and patched.

use wasm_encoder::{BlockType, Ieee32, Ieee64, InstructionSink, MemArg, ValType};

use crate::Error;
use crate::Options;
use crate::analysis::{Plan, Wrapper};
use crate::asm::{Ax, Code, mem, name, uleb};
use crate::layout::{Helper, Layout, Num, PEND_BYTES, PEND_SLOTS, kind};
use crate::module::{ElemMode, Input};
use crate::sites::{Check, DivOp, TruncOp};

/// Zero runs of at least this many 8-byte words split data segments (as the
/// `wasm-coredump` writer does with 32 bytes).
const GAP_WORDS: i64 = 4;
/// Past this many data segments the rest of a memory goes in one segment
/// (validators accept at most 100,000).
const MAX_SEGMENTS: i32 = 99_000;
/// Magic of the trailer in the last 16 bytes of memory 0 after a dump:
/// `u64 ptr, u32 len, "WCD1"` (little endian).
pub const TRAILER_MAGIC: i32 = i32::from_le_bytes(*b"WCD1");

pub(crate) struct Runtime<'a, 'b> {
    pub input: &'a Input<'b>,
    pub plan: &'a Plan,
    pub lay: &'a Layout,
    pub opts: &'a Options,
}

impl Runtime<'_, '_> {
    fn h(&self, h: Helper) -> u32 {
        self.lay.helper(h)
    }

    fn s(&self) -> Ax {
        self.lay.s
    }

    /// `global.get W` plus `PS` helpers for the scratch memory.
    fn advance_w(&self, s: &mut InstructionSink<'_>, by: i64) {
        let g = self.lay.g;
        s.global_get(g.w);
        self.s().konst(s, by);
        self.s().add(s);
        s.global_set(g.w);
    }

    /// Writes constant bytes at `W` (after making room), advancing `W`.
    fn blob(&self, c: &mut Code, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let g = self.lay.g;
        let ensure = self.h(Helper::Ensure);
        let mut s = c.i();
        s.i32_const(bytes.len() as i32)
            .call(ensure)
            .if_(BlockType::Empty);
        let mut at = 0usize;
        while at < bytes.len() {
            let rest = &bytes[at..];
            s.global_get(g.w);
            if rest.len() >= 8 {
                let v = i64::from_le_bytes(rest[..8].try_into().unwrap_or([0; 8]));
                s.i64_const(v).i64_store(mem(0, at as u64));
                at += 8;
            } else if rest.len() >= 4 {
                let v = i32::from_le_bytes(rest[..4].try_into().unwrap_or([0; 4]));
                s.i32_const(v).i32_store(mem(0, at as u64));
                at += 4;
            } else if rest.len() >= 2 {
                let v = i32::from(u16::from_le_bytes(rest[..2].try_into().unwrap_or([0; 2])));
                s.i32_const(v).i32_store16(mem(0, at as u64));
                at += 2;
            } else {
                s.i32_const(i32::from(rest[0]))
                    .i32_store8(mem(0, at as u64));
                at += 1;
            }
        }
        let mut s = c.i();
        self.advance_w(&mut s, bytes.len() as i64);
        s.end();
    }

    /// Bytes of memory `m`'s current size in pages -> bytes, as i64.
    fn mem_bytes_i64(&self, s: &mut InstructionSink<'_>, m: u32) {
        let ax = Layout::mem_ax(self.input, m);
        let log2 = self
            .input
            .memories
            .get(m as usize)
            .map_or(self.lay.s_log2, |mm| mm.page_size_log2());
        s.memory_size(m);
        ax.to_i64(s);
        s.i64_const(i64::from(log2)).i64_shl();
    }

    /// The body of a helper (locals, code, `end`).
    pub fn helper_body(&self, h: Helper) -> Result<Vec<u8>, Error> {
        let (params, _) = self.lay.helper_sig(self.input, h)?;
        let mut c = Code::new(params.len() as u32);
        match h {
            Helper::Start => self.start(&mut c),
            Helper::Ensure => self.ensure(&mut c),
            Helper::U8 => self.u8_(&mut c),
            Helper::Uleb => {
                c.i()
                    .local_get(0)
                    .i64_extend_i32_u()
                    .call(self.h(Helper::Uleb64));
            }
            Helper::Uleb64 | Helper::Sleb64 => {
                c.i()
                    .local_get(0)
                    .i32_const(i32::from(h == Helper::Sleb64))
                    .call(self.h(Helper::Leb));
            }
            Helper::Leb => self.leb(&mut c),
            Helper::Raw4 => self.raw(&mut c, 4),
            Helper::Raw8 => self.raw(&mut c, 8),
            Helper::Reserve5 => self.reserve5(&mut c),
            Helper::Patch5 => self.patch5(&mut c),
            Helper::Frame => self.frame(&mut c),
            Helper::CloseFrame => self.close_frame(&mut c),
            Helper::Finish => self.finish(&mut c)?,
            Helper::Raise => self.raise(&mut c)?,
            Helper::RootEnd => {
                c.i()
                    .call(self.h(Helper::Finish))
                    .call(self.h(Helper::Raise))
                    .unreachable();
            }
            Helper::FrameN(n) => {
                let val = self.h(Helper::Val);
                let mut s = c.i();
                s.local_get(0).local_get(1).call(self.h(Helper::Frame));
                s.i32_const(i32::from(n)).global_set(self.lay.g.lc);
                for i in 0..u32::from(n) {
                    s.local_get(2);
                    if i > 0 {
                        s.i64_const(i64::from(3 * i)).i64_shr_u();
                    }
                    s.i32_wrap_i64().local_get(3 + i).call(val);
                }
            }
            Helper::Val => self.val(&mut c),
            Helper::V(num, 1) => self.value(&mut c, num, 0),
            Helper::V(num, n) => {
                let one = self.h(Helper::V(num, 1));
                let mut s = c.i();
                for i in 0..u32::from(n) {
                    s.local_get(i).call(one);
                }
            }
            Helper::VMissing => self.v_missing(&mut c),
            Helper::Sp(num) => {
                let mut s = c.i();
                s.i32_const(0x80 - i32::from(num.tag())).local_get(0);
                match num {
                    Num::I32 => s.i64_extend_i32_s(),
                    Num::I64 => &mut s,
                    Num::F32 => s.i32_reinterpret_f32().i64_extend_i32_u(),
                    Num::F64 => s.i64_reinterpret_f64(),
                };
                s.call(self.h(Helper::SpRaw));
            }
            Helper::SpMissing => {
                c.i()
                    .i32_const(crate::layout::tag::MISSING as i32)
                    .i64_const(0)
                    .call(self.h(Helper::SpRaw));
            }
            Helper::SpRaw => self.spill(&mut c),
            Helper::SpBelow => {
                let g = self.lay.g;
                c.i()
                    .call(self.h(Helper::Start))
                    .local_get(0)
                    .global_set(g.pm);
            }
            Helper::Check(check) => self.check(&mut c, check)?,
            Helper::CallIndirect(t) => self.call_indirect(&mut c, t)?,
            Helper::StackOverflow => {
                c.i()
                    .local_get(0)
                    .i32_const(1)
                    .i32_add()
                    .call(self.h(Helper::StackOverflow))
                    .local_get(0)
                    .i32_add();
            }
            Helper::DataScan(m) => self.data_scan(&mut c, m),
            Helper::Ptr => {
                let g = self.lay.g;
                let a = self.s();
                let mut s = c.i();
                s.global_get(g.len);
                a.eqz(&mut s);
                s.if_(BlockType::Result(a.ty()));
                a.konst(&mut s, 0);
                s.else_().global_get(g.base);
                a.konst(&mut s, PEND_BYTES);
                a.add(&mut s);
                s.end();
            }
            Helper::Len => {
                c.i().global_get(self.lay.g.len);
            }
        }
        Ok(c.finish())
    }

    fn start(&self, c: &mut Code) {
        let g = self.lay.g;
        let a = self.s();
        let cur = c.local(a.ty());
        let mut s = c.i();
        s.global_get(g.started)
            .if_(BlockType::Empty)
            .return_()
            .end();
        s.i32_const(1).global_set(g.started);
        // An inline check sets the kind before branching here; a spill does not.
        s.global_get(g.u)
            .i32_eqz()
            .if_(BlockType::Empty)
            .i32_const(kind::PENDING)
            .global_set(g.u)
            .end();
        s.i32_const(0).global_set(g.oom);
        a.konst(&mut s, 0);
        s.global_set(g.len);
        for gl in [g.nfr, g.fopen, g.pn, g.lc] {
            s.i32_const(0).global_set(gl);
        }
        if !a.is64 && self.lay.s_log2 > 0 {
            // A 4 GiB memory leaves no room: its size does not even fit an i32.
            s.memory_size(0)
                .i32_const((1u64 << (32 - self.lay.s_log2.min(31))) as i32)
                .i32_ge_u()
                .if_(BlockType::Empty)
                .i32_const(1)
                .global_set(g.oom)
                .return_()
                .end();
        }
        s.memory_size(0);
        a.konst(&mut s, i64::from(self.lay.s_log2));
        a.shl(&mut s);
        s.local_set(cur);
        // Reuse the previous region if nothing grew memory since.
        s.global_get(g.cap);
        a.konst(&mut s, 0);
        a.ne(&mut s);
        s.local_get(cur).global_get(g.cap);
        a.eq(&mut s);
        s.i32_and()
            .if_(BlockType::Empty)
            .global_get(g.base)
            .global_set(g.pre);
        s.else_()
            .local_get(cur)
            .global_set(g.pre)
            .local_get(cur)
            .global_set(g.base)
            .local_get(cur)
            .global_set(g.cap)
            .end();
        s.global_get(g.base).global_set(g.w);
        s.i32_const(PEND_BYTES as i32)
            .call(self.h(Helper::Ensure))
            .drop();
        s.global_get(g.base);
        a.konst(&mut s, PEND_BYTES);
        a.add(&mut s);
        s.global_set(g.w);
        // Operands an inline check stashed: the first pending stack slots.
        s.i32_const(0).global_set(g.pn);
        for (k, (value, shift)) in [(g.spv0, 2), (g.spv1, 5)].into_iter().enumerate() {
            s.global_get(g.spt)
                .i32_const(3)
                .i32_and()
                .i32_const(k as i32)
                .i32_gt_u()
                .if_(BlockType::Empty)
                .global_get(g.spt)
                .i32_const(shift)
                .i32_shr_u()
                .global_get(value)
                .call(self.h(Helper::SpRaw))
                .end();
        }
        s.i32_const(0).global_set(g.spt);

        // Everything static up to the frames.
        let mut head = Vec::new();
        head.extend_from_slice(b"\0asm\x01\0\0\0");
        let mut core = vec![0u8];
        name(&mut core, &self.opts.name);
        head.extend(crate::asm::custom_section("core", &core));
        let mut modules = vec![1u8, 0];
        name(&mut modules, &self.opts.name);
        head.extend(crate::asm::custom_section("coremodules", &modules));
        let mut instances = vec![1u8, 0, 0];
        uleb(&mut instances, self.input.memories.len() as u64);
        for m in 0..self.input.memories.len() {
            uleb(&mut instances, m as u64);
        }
        uleb(&mut instances, self.input.globals.len() as u64);
        let globals_vec_start = instances.len();
        // Written by a loop below when long.
        let loop_globals = self.input.globals.len() > 32;
        if !loop_globals {
            for i in 0..self.input.globals.len() {
                uleb(&mut instances, i as u64);
            }
        }
        if loop_globals {
            // Section header with the full size, then the static part.
            let mut tail = Vec::new();
            for i in 0..self.input.globals.len() {
                uleb(&mut tail, i as u64);
            }
            let mut full = instances.clone();
            full.extend_from_slice(&tail);
            let section = crate::asm::custom_section("coreinstances", &full);
            let static_len = section.len() - tail.len();
            head.extend_from_slice(&section[..static_len]);
            let _ = globals_vec_start;
        } else {
            head.extend(crate::asm::custom_section("coreinstances", &instances));
        }
        if loop_globals {
            self.blob(c, &head);
            head.clear();
        }
        if loop_globals {
            let i = c.local(ValType::I32);
            let n = self.input.globals.len() as i32;
            let uleb_ = self.h(Helper::Uleb);
            c.i()
                .i32_const(0)
                .local_set(i)
                .block(BlockType::Empty)
                .loop_(BlockType::Empty)
                .local_get(i)
                .i32_const(n)
                .i32_ge_u()
                .br_if(1)
                .local_get(i)
                .call(uleb_)
                .local_get(i)
                .i32_const(1)
                .i32_add()
                .local_set(i)
                .br(0)
                .end()
                .end();
        }
        let mut tail = Vec::new();
        if let Some(id) = &self.input.build_id {
            let mut payload = vec![0u8, 1, 0];
            uleb(&mut payload, id.len() as u64);
            payload.extend_from_slice(id);
            name(&mut payload, "");
            tail.extend(crate::asm::custom_section(
                wasm_coredump::ext::MODULES_SECTION,
                &payload,
            ));
        }
        let mut info = vec![0u8, 1];
        name(&mut info, "capture");
        name(&mut info, "coredump-rewrite");
        tail.extend(crate::asm::custom_section(
            wasm_coredump::ext::INFO_SECTION,
            &info,
        ));
        // corestack: id, size (patched), name, version, thread name, frame
        // count (patched).
        tail.push(0);
        let stkpos = tail.len();
        tail.extend_from_slice(&[0; 5]);
        name(&mut tail, "corestack");
        tail.push(0);
        name(&mut tail, "main");
        let nfrpos = tail.len();
        tail.extend_from_slice(&[0; 5]);
        let end = tail.len() as i64;
        head.extend_from_slice(&tail);
        self.blob(c, &head);
        let mut s = c.i();
        for (global, at) in [(g.stkpos, stkpos), (g.nfrpos, nfrpos)] {
            s.global_get(g.w);
            a.konst(&mut s, end - at as i64);
            a.sub(&mut s);
            s.global_set(global);
        }
    }

    fn ensure(&self, c: &mut Code) {
        let g = self.lay.g;
        let a = self.s();
        let log2 = i64::from(self.lay.s_log2);
        let extra = ((1i64 << 20) >> log2).max(1);
        let need = c.local(ValType::I64);
        let pages = c.local(ValType::I64);
        let mut s = c.i();
        s.global_get(g.oom)
            .if_(BlockType::Empty)
            .i32_const(0)
            .return_()
            .end();
        s.global_get(g.w);
        a.to_i64(&mut s);
        s.local_get(0).i64_extend_i32_u().i64_add().local_tee(need);
        s.global_get(g.cap);
        a.to_i64(&mut s);
        s.i64_le_u()
            .if_(BlockType::Empty)
            .i32_const(1)
            .return_()
            .end();
        // The region must still end where memory ends.
        self.mem_bytes_i64(&mut s, 0);
        s.global_get(g.cap);
        a.to_i64(&mut s);
        s.i64_ne().if_(BlockType::Empty);
        s.i32_const(1)
            .global_set(g.oom)
            .i32_const(0)
            .return_()
            .end();
        s.local_get(need).global_get(g.cap);
        a.to_i64(&mut s);
        s.i64_sub()
            .i64_const((1 << log2) - 1)
            .i64_add()
            .i64_const(log2)
            .i64_shr_u()
            .i64_const(extra)
            .i64_add()
            .local_set(pages);
        if !a.is64 {
            // Never grow a 32-bit memory to 4 GiB: its size would not fit an i32.
            s.global_get(g.cap)
                .i64_extend_i32_u()
                .local_get(pages)
                .i64_const(log2)
                .i64_shl()
                .i64_add()
                .i64_const(1 << 32)
                .i64_ge_u()
                .if_(BlockType::Empty)
                .local_get(pages)
                .i64_const(extra)
                .i64_sub()
                .local_set(pages)
                .end();
        }
        // Try with the extra pages, then without.
        for attempt in 0..2 {
            if attempt == 1 {
                s.local_get(pages)
                    .i64_const(extra)
                    .i64_sub()
                    .local_set(pages);
            }
            s.local_get(pages);
            a.of_i64(&mut s);
            s.memory_grow(0);
            a.konst(&mut s, -1);
            a.ne(&mut s);
            s.if_(BlockType::Empty)
                .global_get(g.cap)
                .local_get(pages)
                .i64_const(log2)
                .i64_shl();
            a.of_i64(&mut s);
            a.add(&mut s);
            s.global_set(g.cap).i32_const(1).return_().end();
        }
        s.i32_const(1).global_set(g.oom).i32_const(0);
    }

    fn u8_(&self, c: &mut Code) {
        let g = self.lay.g;
        let mut s = c.i();
        s.i32_const(1)
            .call(self.h(Helper::Ensure))
            .if_(BlockType::Empty)
            .global_get(g.w)
            .local_get(0)
            .i32_store8(mem(0, 0));
        self.advance_w(&mut s, 1);
        s.end();
    }

    /// `Leb(v, signed)`: LEB128, signed or unsigned, of an i64.
    fn leb(&self, c: &mut Code) {
        let g = self.lay.g;
        let b = c.local(ValType::I32);
        let mut s = c.i();
        s.i32_const(10)
            .call(self.h(Helper::Ensure))
            .i32_eqz()
            .if_(BlockType::Empty)
            .return_()
            .end();
        s.loop_(BlockType::Empty)
            .local_get(0)
            .i32_wrap_i64()
            .i32_const(0x7f)
            .i32_and()
            .local_set(b)
            .local_get(0)
            .i64_const(7)
            .i64_shr_s()
            .local_get(0)
            .i64_const(7)
            .i64_shr_u()
            .local_get(1)
            .select()
            .local_set(0)
            // done: unsigned, v == 0; signed, (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40))
            .local_get(0)
            .i64_eqz()
            .local_get(b)
            .i32_const(0x40)
            .i32_and()
            .i32_eqz()
            .local_get(1)
            .i32_eqz()
            .i32_or()
            .i32_and()
            .local_get(1)
            .local_get(0)
            .i64_const(-1)
            .i64_eq()
            .i32_and()
            .local_get(b)
            .i32_const(0x40)
            .i32_and()
            .i32_const(0)
            .i32_ne()
            .i32_and()
            .i32_or()
            .i32_eqz()
            .if_(BlockType::Empty)
            .global_get(g.w)
            .local_get(b)
            .i32_const(0x80)
            .i32_or()
            .i32_store8(mem(0, 0));
        self.advance_w(&mut s, 1);
        s.br(1).end().end();
        s.global_get(g.w).local_get(b).i32_store8(mem(0, 0));
        self.advance_w(&mut s, 1);
    }

    fn raw(&self, c: &mut Code, n: i32) {
        let g = self.lay.g;
        let mut s = c.i();
        s.i32_const(n)
            .call(self.h(Helper::Ensure))
            .if_(BlockType::Empty)
            .global_get(g.w)
            .local_get(0);
        if n == 4 {
            s.i32_store(mem(0, 0));
        } else {
            s.i64_store(mem(0, 0));
        }
        self.advance_w(&mut s, i64::from(n));
        s.end();
    }

    fn reserve5(&self, c: &mut Code) {
        let g = self.lay.g;
        let a = self.s();
        let mut s = c.i();
        s.i32_const(5)
            .call(self.h(Helper::Ensure))
            .i32_eqz()
            .if_(BlockType::Empty);
        a.konst(&mut s, 0);
        s.return_().end();
        s.global_get(g.w);
        self.advance_w(&mut s, 5);
    }

    fn patch5(&self, c: &mut Code) {
        let g = self.lay.g;
        let a = self.s();
        let k = c.local(ValType::I32);
        let mut s = c.i();
        s.global_get(g.oom).if_(BlockType::Empty).return_().end();
        // Four bytes with the continuation bit, then the last one.
        s.loop_(BlockType::Empty).local_get(0).local_get(k);
        a.of_i32(&mut s);
        a.add(&mut s);
        s.local_get(1)
            .i32_const(0x7f)
            .i32_and()
            .i32_const(0x80)
            .i32_or()
            .i32_store8(mem(0, 0))
            .local_get(1)
            .i32_const(7)
            .i32_shr_u()
            .local_set(1)
            .local_get(k)
            .i32_const(1)
            .i32_add()
            .local_tee(k)
            .i32_const(4)
            .i32_lt_u()
            .br_if(0)
            .end();
        s.local_get(0).local_get(1).i32_store8(mem(0, 4));
    }

    fn frame(&self, c: &mut Code) {
        let g = self.lay.g;
        let u8_ = self.h(Helper::U8);
        let uleb_ = self.h(Helper::Uleb);
        c.i().call(self.h(Helper::Start));
        self.resolve_call_indirect(c);
        c.i()
            .call(self.h(Helper::CloseFrame))
            .i32_const(0)
            .call(u8_)
            .i32_const(0)
            .call(u8_)
            .local_get(1)
            .call(uleb_)
            .local_get(0)
            .call(uleb_)
            .call(self.h(Helper::Reserve5))
            .global_set(g.lcpos)
            .i32_const(0)
            .global_set(g.lc)
            .global_get(g.nfr)
            .i32_const(1)
            .i32_add()
            .global_set(g.nfr)
            // FOPEN = 1 for the trapping (first) frame, 2 for the others.
            .i32_const(1)
            .i32_const(2)
            .global_get(g.nfr)
            .i32_const(1)
            .i32_eq()
            .select()
            .global_set(g.fopen);
    }

    /// After a failed `call_indirect` check: which trap it is (out of
    /// bounds, null, signature), from the recorded table, slot and class.
    fn resolve_call_indirect(&self, c: &mut Code) {
        let g = self.lay.g;
        let tables: Vec<u32> = self.plan.ci_helpers.iter().copied().collect();
        if tables.is_empty() {
            return;
        }
        let mut s = c.i();
        s.global_get(g.u)
            .i32_const(kind::CI_PENDING)
            .i32_eq()
            .if_(BlockType::Empty)
            .i32_const(kind::CALL_NULL)
            .global_set(g.u);
        for &t in &tables {
            s.global_get(g.tt)
                .i32_const(t as i32)
                .i32_eq()
                .if_(BlockType::Empty)
                .global_get(g.te);
            Layout::table_ax(self.input, t).of_i64(&mut s);
            s.global_get(g.cls)
                .call(self.h(Helper::CallIndirect(t)))
                .global_set(g.u)
                .end();
        }
        // A check that failed inline but not here cannot happen; say null.
        s.global_get(g.u)
            .i32_eqz()
            .if_(BlockType::Empty)
            .i32_const(kind::CALL_NULL)
            .global_set(g.u)
            .end()
            .end();
    }

    fn close_frame(&self, c: &mut Code) {
        let g = self.lay.g;
        let a = self.s();
        let u8_ = self.h(Helper::U8);
        let i = c.local(ValType::I32);
        let p = c.local(a.ty());
        let mut s = c.i();
        s.global_get(g.fopen)
            .i32_eqz()
            .if_(BlockType::Empty)
            .return_()
            .end();
        // Without a scratch region there is nothing to read back.
        s.global_get(g.oom)
            .if_(BlockType::Empty)
            .i32_const(0)
            .global_set(g.fopen)
            .return_()
            .end();
        s.global_get(g.lcpos)
            .global_get(g.lc)
            .call(self.h(Helper::Patch5));
        s.global_get(g.fopen)
            .i32_const(1)
            .i32_eq()
            .if_(BlockType::Empty);
        // The trapping frame: its spilled operand stack, bottom first.
        s.global_get(g.pm)
            .global_get(g.pn)
            .i32_add()
            .call(self.h(Helper::Uleb));
        s.global_get(g.pm)
            .local_set(i)
            .block(BlockType::Empty)
            .loop_(BlockType::Empty)
            .local_get(i)
            .i32_eqz()
            .br_if(1)
            .i32_const(1)
            .call(u8_)
            .local_get(i)
            .i32_const(1)
            .i32_sub()
            .local_set(i)
            .br(0)
            .end()
            .end();
        s.global_get(g.pn)
            .local_set(i)
            .block(BlockType::Empty)
            .loop_(BlockType::Empty)
            .local_get(i)
            .i32_eqz()
            .br_if(1)
            .local_get(i)
            .i32_const(1)
            .i32_sub()
            .local_tee(i)
            .i32_const(PEND_SLOTS)
            .i32_ge_u()
            .if_(BlockType::Empty)
            .i32_const(1)
            .call(u8_)
            .br(1)
            .end();
        s.global_get(g.base).local_get(i).i32_const(4).i32_shl();
        a.of_i32(&mut s);
        a.add(&mut s);
        s.local_tee(p)
            .i32_load8_u(mem(0, 0))
            .local_get(p)
            .i64_load(mem(0, 8))
            .call(self.h(Helper::Val));
        s.br(0).end().end();
        s.else_().i32_const(0).call(u8_).end();
        s.i32_const(0).global_set(g.fopen);
    }

    /// Records parameter `i` (of type `num`) as a frame local.
    fn value(&self, c: &mut Code, num: Num, i: u32) {
        let g = self.lay.g;
        let mut s = c.i();
        s.i32_const(0x80 - i32::from(num.tag())).local_get(i);
        match num {
            Num::I32 => s.i64_extend_i32_s(),
            Num::I64 => &mut s,
            Num::F32 => s.i32_reinterpret_f32().i64_extend_i32_u(),
            Num::F64 => s.i64_reinterpret_f64(),
        };
        s.call(self.h(Helper::Val));
        s.global_get(g.lc).i32_const(1).i32_add().global_set(g.lc);
    }

    /// `Val(tag, bits)`: one local, its type in the low 3 bits of `tag`.
    fn val(&self, c: &mut Code) {
        use crate::layout::tag;
        let u8_ = self.h(Helper::U8);
        let t = c.local(ValType::I32);
        let mut s = c.i();
        s.local_get(0).i32_const(7).i32_and().local_set(t);
        s.local_get(t)
            .i32_const(tag::MISSING as i32)
            .i32_eq()
            .if_(BlockType::Empty)
            .i32_const(1)
            .call(u8_)
            .return_()
            .end();
        // Value tag byte: 0x7f i32, 0x7e i64, 0x7d f32, 0x7c f64 = 0x80 - tag.
        s.i32_const(0x80).local_get(t).i32_sub().call(u8_);
        s.local_get(t)
            .i32_const(tag::F32 as i32)
            .i32_eq()
            .if_(BlockType::Empty)
            .local_get(1)
            .i32_wrap_i64()
            .call(self.h(Helper::Raw4))
            .return_()
            .end();
        s.local_get(t)
            .i32_const(tag::F64 as i32)
            .i32_eq()
            .if_(BlockType::Empty)
            .local_get(1)
            .call(self.h(Helper::Raw8))
            .return_()
            .end();
        // i32 (passed sign-extended) and i64.
        s.local_get(1).call(self.h(Helper::Sleb64));
    }

    fn v_missing(&self, c: &mut Code) {
        let g = self.lay.g;
        let mut s = c.i();
        s.global_get(g.lc).local_get(0).i32_add().global_set(g.lc);
        s.block(BlockType::Empty)
            .loop_(BlockType::Empty)
            .local_get(0)
            .i32_eqz()
            .br_if(1)
            .i32_const(1)
            .call(self.h(Helper::U8))
            .local_get(0)
            .i32_const(1)
            .i32_sub()
            .local_set(0)
            .br(0)
            .end()
            .end();
    }

    /// `SpRaw(tag, bits)`: stores one value of the trapping frame's operand
    /// stack (top first) in the pending area.
    fn spill(&self, c: &mut Code) {
        let g = self.lay.g;
        let a = self.s();
        let p = c.local(a.ty());
        let mut s = c.i();
        s.call(self.h(Helper::Start));
        s.global_get(g.oom)
            .i32_eqz()
            .global_get(g.pn)
            .i32_const(PEND_SLOTS)
            .i32_lt_u()
            .i32_and()
            .if_(BlockType::Empty);
        s.global_get(g.base).global_get(g.pn).i32_const(4).i32_shl();
        a.of_i32(&mut s);
        a.add(&mut s);
        s.local_tee(p)
            .local_get(0)
            .i32_const(7)
            .i32_and()
            .i32_store8(mem(0, 0))
            .local_get(p)
            .local_get(1)
            .i64_store(mem(0, 8));
        s.end();
        s.global_get(g.pn).i32_const(1).i32_add().global_set(g.pn);
    }

    fn finish(&self, c: &mut Code) -> Result<(), Error> {
        let g = self.lay.g;
        let a = self.s();
        let pos = c.local(a.ty());
        let cnt = c.local(a.ty());
        let nseg = c.local(ValType::I32);
        let t = c.local(a.ty());
        let u8_ = self.h(Helper::U8);
        let patch = self.h(Helper::Patch5);
        let reserve = self.h(Helper::Reserve5);
        let mut s = c.i();
        s.global_get(g.u)
            .i32_eqz()
            .if_(BlockType::Empty)
            .return_()
            .end();
        s.call(self.h(Helper::CloseFrame));
        s.global_get(g.nfrpos).global_get(g.nfr).call(patch);
        // corestack size = W - (STKPOS + 5)
        s.global_get(g.stkpos).global_get(g.w).global_get(g.stkpos);
        a.sub(&mut s);
        a.konst(&mut s, 5);
        a.sub(&mut s);
        a.to_i32(&mut s);
        s.call(patch);

        // postmortem.trap: a shared header, then the kind's name and message.
        c.i().i32_const(0).call(u8_).call(reserve).local_set(pos);
        let mut header = Vec::new();
        name(&mut header, wasm_coredump::ext::TRAP_SECTION);
        header.push(0);
        self.blob(c, &header);
        let kinds: Vec<(i32, &str, &str)> = kind::ALL
            .iter()
            .copied()
            .filter(|(k, _, _)| self.lay.kinds.contains(k))
            .collect();
        let max_kind = kinds.iter().map(|k| k.0).max().unwrap_or(0);
        c.i().block(BlockType::Empty);
        for _ in 0..kinds.len() {
            c.i().block(BlockType::Empty);
        }
        {
            let mut targets = vec![kinds.len() as u32; max_kind as usize + 1];
            for (i, (k, _, _)) in kinds.iter().enumerate() {
                targets[*k as usize] = (kinds.len() - 1 - i) as u32;
            }
            c.i().global_get(g.u).br_table(targets, kinds.len() as u32);
        }
        for (i, (_, trap, message)) in kinds.iter().enumerate().rev() {
            c.i().end();
            let mut payload = Vec::new();
            name(&mut payload, trap);
            name(&mut payload, message);
            self.blob(c, &payload);
            c.i().br(i as u32);
        }
        c.i().end();
        self.patch_size(c, pos);

        let memories = &self.input.memories;
        if !memories.is_empty() {
            c.i().i32_const(5).call(u8_).call(reserve).local_set(pos);
            let mut count = Vec::new();
            uleb(&mut count, memories.len() as u64);
            self.blob(c, &count);
            for (m, memory) in memories.iter().enumerate() {
                let ty = &memory.ty;
                let flags = u8::from(ty.maximum.is_some())
                    | (u8::from(ty.shared) << 1)
                    | (u8::from(ty.memory64) << 2)
                    | (u8::from(ty.page_size_log2.is_some()) << 3);
                self.blob(c, &[flags]);
                let mut s = c.i();
                if m == 0 {
                    s.global_get(g.pre);
                    a.konst(&mut s, i64::from(memory.page_size_log2()));
                    a.shr_u(&mut s);
                    a.to_i64(&mut s);
                } else {
                    s.memory_size(m as u32);
                    Layout::mem_ax(self.input, m as u32).to_i64(&mut s);
                }
                s.call(self.h(Helper::Uleb64));
                let mut rest = Vec::new();
                if let Some(max) = ty.maximum {
                    uleb(&mut rest, max);
                }
                if let Some(log2) = ty.page_size_log2 {
                    uleb(&mut rest, u64::from(log2));
                }
                self.blob(c, &rest);
            }
            self.patch_size(c, pos);
        }

        let globals = &self.input.globals;
        if !globals.is_empty() {
            c.i().i32_const(6).call(u8_).call(reserve).local_set(pos);
            let mut pending = Vec::new();
            uleb(&mut pending, globals.len() as u64);
            for (i, global) in globals.iter().enumerate() {
                let i = i as u32;
                let mutable = u8::from(global.mutable);
                let num = Num::of(global.content_type);
                match (num, global.content_type) {
                    (Some(num), _) => {
                        pending.extend_from_slice(&[num.tag(), mutable]);
                        pending.push(match num {
                            Num::I32 => 0x41,
                            Num::I64 => 0x42,
                            Num::F32 => 0x43,
                            Num::F64 => 0x44,
                        });
                        self.blob(c, &std::mem::take(&mut pending));
                        let mut s = c.i();
                        s.global_get(i);
                        match num {
                            Num::I32 => s.i64_extend_i32_s().call(self.h(Helper::Sleb64)),
                            Num::I64 => s.call(self.h(Helper::Sleb64)),
                            Num::F32 => s.i32_reinterpret_f32().call(self.h(Helper::Raw4)),
                            Num::F64 => s.i64_reinterpret_f64().call(self.h(Helper::Raw8)),
                        };
                    }
                    (None, wasmparser::ValType::V128) => {
                        pending.extend_from_slice(&[0x7b, mutable, 0xfd, 0x0c]);
                        self.blob(c, &std::mem::take(&mut pending));
                        let mut s = c.i();
                        s.i32_const(16)
                            .call(self.h(Helper::Ensure))
                            .if_(BlockType::Empty)
                            .global_get(g.w)
                            .global_get(i)
                            .v128_store(mem(0, 0));
                        self.advance_w(&mut s, 16);
                        s.end();
                    }
                    (None, wasmparser::ValType::Ref(r)) => {
                        let abs = abstract_ref_byte(r);
                        pending.extend_from_slice(&[abs, mutable, 0xd0, abs]);
                    }
                    (None, _) => {
                        pending.extend_from_slice(&[0x7f, mutable, 0x41, 0]);
                    }
                }
                pending.push(0x0b);
            }
            self.blob(c, &pending);
            self.patch_size(c, pos);
        }

        if !memories.is_empty() {
            c.i()
                .i32_const(11)
                .call(u8_)
                .call(reserve)
                .local_set(pos)
                .call(reserve)
                .local_set(cnt)
                .i32_const(0)
                .local_set(nseg);
            for m in 0..memories.len() as u32 {
                c.i()
                    .local_get(nseg)
                    .call(self.h(Helper::DataScan(m)))
                    .local_set(nseg);
            }
            c.i().local_get(cnt).local_get(nseg).call(patch);
            self.patch_size(c, pos);
        }

        // The dump's length, then the trailer at the very end of memory 0.
        let mut s = c.i();
        s.global_get(g.oom).if_(BlockType::Result(a.ty()));
        a.konst(&mut s, 0);
        s.else_().global_get(g.w).global_get(g.base);
        a.konst(&mut s, PEND_BYTES);
        a.add(&mut s);
        a.sub(&mut s);
        s.end().global_set(g.len);
        if self.input.start.is_none() {
            return Ok(());
        }
        // Only a start function's trap leaves the host without an instance.
        s.global_get(g.len);
        a.eqz(&mut s);
        s.if_(BlockType::Empty).return_().end();
        s.i32_const(16)
            .call(self.h(Helper::Ensure))
            .if_(BlockType::Empty)
            .global_get(g.cap);
        a.konst(&mut s, 16);
        a.sub(&mut s);
        s.local_tee(t).global_get(g.base);
        a.konst(&mut s, PEND_BYTES);
        a.add(&mut s);
        a.to_i64(&mut s);
        s.i64_store(mem(0, 0)).local_get(t).global_get(g.len);
        a.to_i32(&mut s);
        s.i32_store(mem(0, 8))
            .local_get(t)
            .i32_const(TRAILER_MAGIC)
            .i32_store(mem(0, 12))
            .end();
        Ok(())
    }

    /// Patches the section size at `pos` (a local) to reach `W`.
    fn patch_size(&self, c: &mut Code, pos: u32) {
        let g = self.lay.g;
        let a = self.s();
        let mut s = c.i();
        s.local_get(pos).global_get(g.w).local_get(pos);
        a.sub(&mut s);
        a.konst(&mut s, 5);
        a.sub(&mut s);
        a.to_i32(&mut s);
        s.call(self.h(Helper::Patch5));
    }

    /// `DataScan(m)(nseg) -> nseg`: writes memory `m`'s non-zero runs as
    /// active data segments.
    fn data_scan(&self, c: &mut Code, m: u32) {
        let g = self.lay.g;
        let a = self.s();
        let am = Layout::mem_ax(self.input, m);
        let u8_ = self.h(Helper::U8);
        let size = c.local(ValType::I64);
        let endw = c.local(ValType::I64);
        let p = c.local(ValType::I64);
        let start = c.local(ValType::I64);
        let q = c.local(ValType::I64);
        let z = c.local(ValType::I64);
        let len = c.local(ValType::I64);
        let i = c.local(ValType::I64);
        let gap = c.local(ValType::I64);
        let nseg = 0u32;
        let load = MemArg {
            offset: 0,
            align: 0,
            memory_index: m,
        };
        let mut s = c.i();
        if m == 0 {
            s.global_get(g.pre);
            a.to_i64(&mut s);
        } else {
            let mut s2 = c.i();
            self.mem_bytes_i64(&mut s2, m);
            s = c.i();
        }
        s.local_tee(size)
            .i64_const(!7)
            .i64_and()
            .local_set(endw)
            .i64_const(GAP_WORDS)
            .local_set(gap)
            .i64_const(0)
            .local_set(p);
        s.block(BlockType::Empty) // $exit
            .loop_(BlockType::Empty) // $outer
            // Skip zero words.
            .block(BlockType::Empty) // $nz
            .loop_(BlockType::Empty) // $skip
            .local_get(p)
            .local_get(endw)
            .i64_ge_u()
            .br_if(3)
            .local_get(p);
        am.of_i64(&mut s);
        s.i64_load(load)
            .i64_eqz()
            .i32_eqz()
            .br_if(1)
            .local_get(p)
            .i64_const(8)
            .i64_add()
            .local_set(p)
            .br(0)
            .end()
            .end();
        // A run: extend until `gap` zero words in a row.
        s.local_get(p)
            .local_set(start)
            .local_get(p)
            .i64_const(8)
            .i64_add()
            .local_set(q)
            .i64_const(0)
            .local_set(z)
            .block(BlockType::Empty) // $runend
            .loop_(BlockType::Empty) // $run
            .local_get(q)
            .local_get(endw)
            .i64_ge_u()
            .br_if(1)
            .local_get(q);
        am.of_i64(&mut s);
        s.i64_load(load)
            .i64_eqz()
            .if_(BlockType::Empty)
            .local_get(z)
            .i64_const(1)
            .i64_add()
            .local_set(z)
            .else_()
            .i64_const(0)
            .local_set(z)
            .end()
            .local_get(q)
            .i64_const(8)
            .i64_add()
            .local_set(q)
            .local_get(z)
            .local_get(gap)
            .i64_ge_u()
            .br_if(1)
            .br(0)
            .end()
            .end();
        // len = q - z*8 - start
        s.local_get(q)
            .local_get(z)
            .i64_const(3)
            .i64_shl()
            .i64_sub()
            .local_get(start)
            .i64_sub()
            .local_set(len);
        // Room for the header and the bytes, or stop here.
        s.local_get(len)
            .i64_const(32)
            .i64_add()
            .i64_const(i64::from(i32::MAX))
            .i64_gt_u()
            .br_if(1);
        s.local_get(len)
            .i32_wrap_i64()
            .i32_const(32)
            .i32_add()
            .call(self.h(Helper::Ensure))
            .i32_eqz()
            .br_if(1);
        if m == 0 {
            s.i32_const(0).call(u8_);
        } else {
            s.i32_const(2)
                .call(u8_)
                .i32_const(m as i32)
                .call(self.h(Helper::Uleb));
        }
        s.i32_const(if am.is64 { 0x42 } else { 0x41 }).call(u8_);
        s.local_get(start);
        if !am.is64 {
            // i32.const takes the signed reading of the address.
            s.i32_wrap_i64().i64_extend_i32_s();
        }
        s.call(self.h(Helper::Sleb64))
            .i32_const(0x0b)
            .call(u8_)
            .local_get(len)
            .call(self.h(Helper::Uleb64));
        // Copy, 8 bytes at a time.
        s.i64_const(0)
            .local_set(i)
            .block(BlockType::Empty)
            .loop_(BlockType::Empty)
            .local_get(i)
            .local_get(len)
            .i64_ge_u()
            .br_if(1)
            .global_get(g.w)
            .local_get(i);
        a.of_i64(&mut s);
        a.add(&mut s);
        s.local_get(start).local_get(i).i64_add();
        am.of_i64(&mut s);
        s.i64_load(load)
            .i64_store(mem(0, 0))
            .local_get(i)
            .i64_const(8)
            .i64_add()
            .local_set(i)
            .br(0)
            .end()
            .end();
        s.global_get(g.w).local_get(len);
        a.of_i64(&mut s);
        a.add(&mut s);
        s.global_set(g.w);
        // Count it; near the validators' limit, stop splitting.
        s.local_get(nseg)
            .i32_const(1)
            .i32_add()
            .local_tee(nseg)
            .i32_const(MAX_SEGMENTS)
            .i32_ge_u()
            .if_(BlockType::Empty)
            .i64_const(i64::MAX)
            .local_set(gap)
            .end();
        s.local_get(q).local_set(p).br(0).end().end();
        // A size that is not a multiple of 8 (custom page sizes): copy the tail bytewise.
        let log2 = self
            .input
            .memories
            .get(m as usize)
            .map_or(16, |mm| mm.page_size_log2());
        if log2 < 3 {
            let mut s = c.i();
            s.local_get(size)
                .local_get(endw)
                .i64_sub()
                .local_tee(len)
                .i64_eqz()
                .i32_eqz()
                .if_(BlockType::Empty)
                .i32_const(32)
                .call(self.h(Helper::Ensure))
                .if_(BlockType::Empty);
            if m == 0 {
                s.i32_const(0).call(u8_);
            } else {
                s.i32_const(2)
                    .call(u8_)
                    .i32_const(m as i32)
                    .call(self.h(Helper::Uleb));
            }
            s.i32_const(if am.is64 { 0x42 } else { 0x41 }).call(u8_);
            s.local_get(endw);
            if !am.is64 {
                s.i32_wrap_i64().i64_extend_i32_s();
            }
            s.call(self.h(Helper::Sleb64))
                .i32_const(0x0b)
                .call(u8_)
                .local_get(len)
                .call(self.h(Helper::Uleb64))
                .i64_const(0)
                .local_set(i)
                .block(BlockType::Empty)
                .loop_(BlockType::Empty)
                .local_get(i)
                .local_get(len)
                .i64_ge_u()
                .br_if(1)
                .local_get(endw)
                .local_get(i)
                .i64_add();
            am.of_i64(&mut s);
            s.i32_load8_u(MemArg {
                offset: 0,
                align: 0,
                memory_index: m,
            })
            .call(u8_)
            .local_get(i)
            .i64_const(1)
            .i64_add()
            .local_set(i)
            .br(0)
            .end()
            .end()
            .local_get(nseg)
            .i32_const(1)
            .i32_add()
            .local_set(nseg)
            .end()
            .end();
        }
        c.i().local_get(nseg);
    }

    /// `Raise`: traps for real with the kind being unwound.
    fn raise(&self, c: &mut Code) -> Result<(), Error> {
        let g = self.lay.g;
        let a = self.s();
        let k = c.local(ValType::I32);
        let kinds: Vec<i32> = self.lay.kinds.iter().copied().collect();
        let max_kind = kinds.iter().copied().max().unwrap_or(0);
        c.i()
            .global_get(g.u)
            .local_set(k)
            .i32_const(0)
            .global_set(g.u)
            .i32_const(0)
            .global_set(g.wc)
            .i32_const(0)
            .global_set(g.started)
            .i32_const(0)
            .global_set(g.pm)
            .i32_const(0)
            .global_set(g.spt);
        c.i().block(BlockType::Empty);
        for _ in 0..kinds.len() {
            c.i().block(BlockType::Empty);
        }
        let mut targets = vec![kinds.len() as u32; max_kind as usize + 1];
        for (i, k_) in kinds.iter().enumerate() {
            targets[*k_ as usize] = (kinds.len() - 1 - i) as u32;
        }
        c.i().local_get(k).br_table(targets, kinds.len() as u32);
        for (i, k_) in kinds.iter().enumerate().rev() {
            c.i().end();
            let mut s = c.i();
            match *k_ {
                kind::UNREACHABLE => {
                    s.unreachable();
                }
                kind::DIV_ZERO => {
                    s.i32_const(1).i32_const(0).i32_div_u().drop();
                }
                kind::DIV_OVERFLOW => {
                    s.i32_const(i32::MIN).i32_const(-1).i32_div_s().drop();
                }
                kind::TRUNC_OVERFLOW => {
                    s.f32_const(Ieee32::from(3.0e10f32))
                        .i32_trunc_f32_s()
                        .drop();
                }
                kind::BAD_CONVERSION => {
                    s.f32_const(Ieee32::from(f32::NAN)).i32_trunc_f32_s().drop();
                }
                kind::MEMORY_OOB => {
                    a.konst(&mut s, -1);
                    s.i32_load(mem(0, 0)).drop();
                }
                kind::UNALIGNED => {
                    a.konst(&mut s, 1);
                    s.i32_atomic_load(MemArg {
                        offset: 0,
                        align: 2,
                        memory_index: 0,
                    })
                    .drop();
                }
                kind::STACK_OVERFLOW => {
                    s.i32_const(0).call(self.h(Helper::StackOverflow)).drop();
                }
                kind::CALL_TABLE_OOB | kind::CALL_NULL | kind::CALL_SIGNATURE => {
                    self.replay_call_indirect(c)?;
                    s = c.i();
                }
                kind::TABLE_OOB => {
                    self.table_oob(c);
                    s = c.i();
                }
                _ => {
                    s.unreachable();
                }
            }
            s.br(i as u32);
        }
        c.i().end().unreachable();
        Ok(())
    }

    /// Calls the recorded slot of the recorded table again, with a type no
    /// element has: the engine traps exactly as it would have.
    fn replay_call_indirect(&self, c: &mut Code) -> Result<(), Error> {
        let g = self.lay.g;
        let Some(weird) = self.lay.weird_type else {
            c.i().unreachable();
            return Ok(());
        };
        let (params, _) = self
            .lay
            .new_types
            .get((weird - self.lay.type_base) as usize)
            .cloned()
            .unwrap_or_default();
        let tables: Vec<u32> = self.plan.ci_helpers.iter().copied().collect();
        for &t in &tables {
            let mut s = c.i();
            s.global_get(g.tt)
                .i32_const(t as i32)
                .i32_eq()
                .if_(BlockType::Empty);
            for p in &params {
                match p {
                    ValType::I32 => s.i32_const(0),
                    ValType::I64 => s.i64_const(0),
                    ValType::F32 => s.f32_const(Ieee32::from(0.0f32)),
                    _ => s.f64_const(Ieee64::from(0.0f64)),
                };
            }
            s.global_get(g.te);
            Layout::table_ax(self.input, t).of_i64(&mut s);
            s.call_indirect(t, weird).end();
        }
        c.i().unreachable();
        Ok(())
    }

    fn table_oob(&self, c: &mut Code) {
        let g = self.lay.g;
        let mut any = false;
        for t in 0..self.input.tables.len() as u32 {
            let used = self.plan.checks.iter().any(|ch| match *ch {
                Check::TableGet(x)
                | Check::TableSet(x)
                | Check::TableFill(x)
                | Check::TableInit(x, _) => x == t,
                Check::TableCopy(d, s) => d == t || s == t,
                _ => false,
            });
            if !used {
                continue;
            }
            any = true;
            let at = Layout::table_ax(self.input, t);
            let mut s = c.i();
            s.global_get(g.tt)
                .i32_const(t as i32)
                .i32_eq()
                .if_(BlockType::Empty);
            if self.plan.reftypes {
                s.table_size(t).table_get(t).drop();
            } else {
                // Bulk memory only: copy a range that cannot fit.
                at.konst(&mut s, 0);
                at.konst(&mut s, 0);
                at.konst(&mut s, -1);
                s.table_copy(t, t);
            }
            s.end();
        }
        let _ = any;
        c.i().unreachable();
    }

    /// Starts the trap of kind `k`, spilling the helper's operands given as
    /// (local, type) top first; `below` is the local holding how many values
    /// lie under them.
    fn fail(
        &self,
        s: &mut InstructionSink<'_>,
        k: i32,
        operands: &[(u32, Option<Num>)],
        below: u32,
    ) {
        let g = self.lay.g;
        s.call(self.h(Helper::Start));
        for (local, num) in operands {
            match num {
                Some(num) => s.local_get(*local).call(self.h(Helper::Sp(*num))),
                None => s.call(self.h(Helper::SpMissing)),
            };
        }
        s.local_get(below)
            .global_set(g.pm)
            .i32_const(k)
            .global_set(g.u);
    }

    fn check(&self, c: &mut Code, check: Check) -> Result<(), Error> {
        let mut s = c.i();
        let ax_num = |ax: Ax| if ax.is64 { Num::I64 } else { Num::I32 };
        match check {
            Check::Div(op) => {
                let (num, is64) = if op.is_64() {
                    (Num::I64, true)
                } else {
                    (Num::I32, false)
                };
                let ops = [(1, Some(num)), (0, Some(num))];
                s.local_get(1);
                if is64 {
                    s.i64_eqz()
                } else {
                    s.i32_eqz()
                };
                s.if_(BlockType::Empty);
                self.fail(&mut s, kind::DIV_ZERO, &ops, 2);
                if is64 {
                    s.i64_const(0)
                } else {
                    s.i32_const(0)
                };
                s.return_().end();
                if op.overflows() {
                    s.local_get(0);
                    if is64 {
                        s.i64_const(i64::MIN)
                            .i64_eq()
                            .local_get(1)
                            .i64_const(-1)
                            .i64_eq();
                    } else {
                        s.i32_const(i32::MIN)
                            .i32_eq()
                            .local_get(1)
                            .i32_const(-1)
                            .i32_eq();
                    }
                    s.i32_and().if_(BlockType::Empty);
                    self.fail(&mut s, kind::DIV_OVERFLOW, &ops, 2);
                    if is64 {
                        s.i64_const(0)
                    } else {
                        s.i32_const(0)
                    };
                    s.return_().end();
                }
                s.local_get(0).local_get(1);
                match op {
                    DivOp::I32DivS => s.i32_div_s(),
                    DivOp::I32DivU => s.i32_div_u(),
                    DivOp::I32RemS => s.i32_rem_s(),
                    DivOp::I32RemU => s.i32_rem_u(),
                    DivOp::I64DivS => s.i64_div_s(),
                    DivOp::I64DivU => s.i64_div_u(),
                    DivOp::I64RemS => s.i64_rem_s(),
                    DivOp::I64RemU => s.i64_rem_u(),
                };
            }
            Check::Trunc(op) => {
                let TruncOp {
                    to64,
                    from64,
                    signed,
                } = op;
                let num = if from64 { Num::F64 } else { Num::F32 };
                let ops = [(0, Some(num))];
                let zero = |s: &mut InstructionSink<'_>| {
                    if to64 {
                        s.i64_const(0)
                    } else {
                        s.i32_const(0)
                    };
                };
                s.local_get(0).local_get(0);
                if from64 {
                    s.f64_ne()
                } else {
                    s.f32_ne()
                };
                s.if_(BlockType::Empty);
                self.fail(&mut s, kind::BAD_CONVERSION, &ops, 1);
                zero(&mut s);
                s.return_().end();
                let (lo, inclusive, hi) = op.bounds();
                s.local_get(0);
                if !from64 {
                    s.f64_promote_f32();
                }
                s.f64_const(Ieee64::from(lo));
                if inclusive {
                    s.f64_ge()
                } else {
                    s.f64_gt()
                };
                s.local_get(0);
                if !from64 {
                    s.f64_promote_f32();
                }
                s.f64_const(Ieee64::from(hi))
                    .f64_lt()
                    .i32_and()
                    .i32_eqz()
                    .if_(BlockType::Empty);
                self.fail(&mut s, kind::TRUNC_OVERFLOW, &ops, 1);
                zero(&mut s);
                s.return_().end();
                s.local_get(0);
                match (to64, from64, signed) {
                    (false, false, true) => s.i32_trunc_f32_s(),
                    (false, false, false) => s.i32_trunc_f32_u(),
                    (false, true, true) => s.i32_trunc_f64_s(),
                    (false, true, false) => s.i32_trunc_f64_u(),
                    (true, false, true) => s.i64_trunc_f32_s(),
                    (true, false, false) => s.i64_trunc_f32_u(),
                    (true, true, true) => s.i64_trunc_f64_s(),
                    (true, true, false) => s.i64_trunc_f64_u(),
                };
            }
            Check::Fill(m) => {
                let am = Layout::mem_ax(self.input, m);
                // (d, v, n, below)
                self.range_oob(&mut s, Target::Memory(m), 0, am.is64, 2, am.is64);
                s.if_(BlockType::Empty);
                self.fail(
                    &mut s,
                    kind::MEMORY_OOB,
                    &[
                        (2, Some(ax_num(am))),
                        (1, Some(Num::I32)),
                        (0, Some(ax_num(am))),
                    ],
                    3,
                );
                s.return_().end();
                s.local_get(0).local_get(1).local_get(2).memory_fill(m);
            }
            Check::Copy(d, src) => {
                let (ad, asrc) = (
                    Layout::mem_ax(self.input, d),
                    Layout::mem_ax(self.input, src),
                );
                let an = Ax {
                    is64: ad.is64 && asrc.is64,
                };
                self.range_oob(&mut s, Target::Memory(d), 0, ad.is64, 2, an.is64);
                self.range_oob(&mut s, Target::Memory(src), 1, asrc.is64, 2, an.is64);
                s.i32_or().if_(BlockType::Empty);
                self.fail(
                    &mut s,
                    kind::MEMORY_OOB,
                    &[
                        (2, Some(ax_num(an))),
                        (1, Some(ax_num(asrc))),
                        (0, Some(ax_num(ad))),
                    ],
                    3,
                );
                s.return_().end();
                s.local_get(0).local_get(1).local_get(2).memory_copy(d, src);
            }
            Check::Init(m, seg) => {
                let am = Layout::mem_ax(self.input, m);
                self.range_oob(&mut s, Target::Memory(m), 0, am.is64, 2, false);
                // s + n > len
                s.local_get(1)
                    .i64_extend_i32_u()
                    .local_get(2)
                    .i64_extend_i32_u()
                    .i64_add();
                self.data_len(&mut s, seg);
                s.i64_gt_u().i32_or();
                s.if_(BlockType::Empty);
                self.fail(
                    &mut s,
                    kind::MEMORY_OOB,
                    &[
                        (2, Some(Num::I32)),
                        (1, Some(Num::I32)),
                        (0, Some(ax_num(am))),
                    ],
                    3,
                );
                s.return_().end();
                s.local_get(0).local_get(1).local_get(2).memory_init(m, seg);
            }
            Check::TableGet(t) => {
                let at = Layout::table_ax(self.input, t);
                let elem = Layout::table_elem(self.input, t)?;
                self.index_oob(&mut s, t, 0);
                s.if_(BlockType::Empty);
                self.table_fail(&mut s, t, &[(0, Some(ax_num(at)))], 1);
                if let Some(h) = crate::layout::heap_of(elem) {
                    s.ref_null(h);
                }
                s.return_().end();
                s.local_get(0).table_get(t);
            }
            Check::TableSet(t) => {
                let at = Layout::table_ax(self.input, t);
                self.index_oob(&mut s, t, 0);
                s.if_(BlockType::Empty);
                self.table_fail(&mut s, t, &[(1, None), (0, Some(ax_num(at)))], 2);
                s.return_().end();
                s.local_get(0).local_get(1).table_set(t);
            }
            Check::TableFill(t) => {
                let at = Layout::table_ax(self.input, t);
                self.range_oob(&mut s, Target::Table(t), 0, at.is64, 2, at.is64);
                s.if_(BlockType::Empty);
                self.table_fail(
                    &mut s,
                    t,
                    &[(2, Some(ax_num(at))), (1, None), (0, Some(ax_num(at)))],
                    3,
                );
                s.return_().end();
                s.local_get(0).local_get(1).local_get(2).table_fill(t);
            }
            Check::TableCopy(d, src) => {
                let (ad, asrc) = (
                    Layout::table_ax(self.input, d),
                    Layout::table_ax(self.input, src),
                );
                let an = Ax {
                    is64: ad.is64 && asrc.is64,
                };
                self.range_oob(&mut s, Target::Table(d), 0, ad.is64, 2, an.is64);
                self.range_oob(&mut s, Target::Table(src), 1, asrc.is64, 2, an.is64);
                s.i32_or().if_(BlockType::Empty);
                self.table_fail(
                    &mut s,
                    d,
                    &[
                        (2, Some(ax_num(an))),
                        (1, Some(ax_num(asrc))),
                        (0, Some(ax_num(ad))),
                    ],
                    3,
                );
                s.return_().end();
                s.local_get(0).local_get(1).local_get(2).table_copy(d, src);
            }
            Check::TableInit(t, e) => {
                let at = Layout::table_ax(self.input, t);
                self.range_oob(&mut s, Target::Table(t), 0, at.is64, 2, false);
                s.local_get(1)
                    .i64_extend_i32_u()
                    .local_get(2)
                    .i64_extend_i32_u()
                    .i64_add();
                self.elem_len(&mut s, e);
                s.i64_gt_u().i32_or();
                s.if_(BlockType::Empty);
                self.table_fail(
                    &mut s,
                    t,
                    &[
                        (2, Some(Num::I32)),
                        (1, Some(Num::I32)),
                        (0, Some(ax_num(at))),
                    ],
                    3,
                );
                s.return_().end();
                s.local_get(0).local_get(1).local_get(2).table_init(e, t);
            }
            Check::Bounds(m) | Check::Atomic(m) => {
                // (addr, offset-or-end: i64, packed) -> addr
                // packed = below << 5 | above << 3 | log2(size)
                self.bounds(c, m, matches!(check, Check::Atomic(_)));
            }
        }
        Ok(())
    }

    /// Pushes `index + count > size` (as i32) for a memory or table range
    /// whose index and count are in locals, computed without overflow.
    #[allow(clippy::too_many_arguments)]
    fn range_oob(
        &self,
        s: &mut InstructionSink<'_>,
        target: Target,
        index: u32,
        index64: bool,
        count: u32,
        count64: bool,
    ) {
        let size = |rt: &Runtime<'_, '_>, s: &mut InstructionSink<'_>| match target {
            Target::Memory(m) => rt.mem_bytes_i64(s, m),
            Target::Table(t) => rt.table_size_i64(s, t),
        };
        let count_i64 = |s: &mut InstructionSink<'_>| {
            s.local_get(count);
            if !count64 {
                s.i64_extend_i32_u();
            }
        };
        if index64 {
            // count > size || index > size - count
            count_i64(s);
            size(self, s);
            s.i64_gt_u();
            size(self, s);
            count_i64(s);
            s.i64_sub().local_get(index).i64_lt_u().i32_or();
        } else {
            // A 32-bit index plus count cannot overflow an i64.
            s.local_get(index).i64_extend_i32_u();
            count_i64(s);
            s.i64_add();
            size(self, s);
            s.i64_gt_u();
        }
    }

    fn index_oob(&self, s: &mut InstructionSink<'_>, t: u32, index: u32) {
        let at = Layout::table_ax(self.input, t);
        s.local_get(index);
        at.to_i64(s);
        self.table_size_i64(s, t);
        s.i64_ge_u();
    }

    /// A table's current size as i64: a constant when it never changes (the
    /// only way without reference types), else `table.size`.
    fn table_size_i64(&self, s: &mut InstructionSink<'_>, t: u32) {
        match self.plan.fixed_size.get(t as usize).copied().flatten() {
            Some(size) if !self.plan.reftypes => {
                s.i64_const(size as i64);
            }
            _ => {
                s.table_size(t);
                Layout::table_ax(self.input, t).to_i64(s);
            }
        }
    }

    fn table_fail(
        &self,
        s: &mut InstructionSink<'_>,
        t: u32,
        operands: &[(u32, Option<Num>)],
        below: u32,
    ) {
        let g = self.lay.g;
        self.fail(s, kind::TABLE_OOB, operands, below);
        s.i32_const(t as i32).global_set(g.tt);
    }

    /// Pushes the current length of a data segment, as i64 (active segments
    /// read as empty once instantiated; dropped ones too).
    fn data_len(&self, s: &mut InstructionSink<'_>, seg: u32) {
        let passive = self
            .input
            .data_passive
            .get(seg as usize)
            .copied()
            .unwrap_or(true);
        let len = if passive {
            self.input.data_lens.get(seg as usize).copied().unwrap_or(0)
        } else {
            0
        };
        self.seg_len(s, len, self.lay.data_dropped.get(&seg).copied());
    }

    fn elem_len(&self, s: &mut InstructionSink<'_>, e: u32) {
        let len = self
            .input
            .elements
            .get(e as usize)
            .map_or(0, |elem| match elem.mode {
                ElemMode::Passive => elem.items.len() as u32,
                _ => 0,
            });
        self.seg_len(s, len, self.lay.elem_dropped.get(&e).copied());
    }

    fn seg_len(&self, s: &mut InstructionSink<'_>, len: u32, dropped: Option<u32>) {
        s.i64_const(i64::from(len));
        if let Some(flag) = dropped {
            s.i64_const(0).global_get(flag).i32_eqz().select();
        }
    }

    fn bounds(&self, c: &mut Code, m: u32, atomic: bool) {
        let g = self.lay.g;
        let am = Layout::mem_ax(self.input, m);
        let num = if am.is64 { Num::I64 } else { Num::I32 };
        let end = c.local(ValType::I64);
        let k = c.local(ValType::I32);
        let mut s = c.i();
        // end = offset + size (i64) [+ addr]
        s.local_get(1);
        s.i64_const(1)
            .local_get(2)
            .i32_const(7)
            .i32_and()
            .i64_extend_i32_u()
            .i64_shl()
            .i64_add()
            .local_set(end);
        // Out of bounds: addr + end > size (no overflow for 32-bit addresses;
        // for 64-bit ones: end > size || addr > size - end).
        if am.is64 {
            s.local_get(end);
            self.mem_bytes_i64(&mut s, m);
            s.i64_gt_u();
            self.mem_bytes_i64(&mut s, m);
            s.local_get(end).i64_sub().local_get(0).i64_lt_u().i32_or();
        } else {
            s.local_get(0).i64_extend_i32_u().local_get(end).i64_add();
            self.mem_bytes_i64(&mut s, m);
            s.i64_gt_u();
        }
        s.local_set(k);
        if atomic {
            // Misaligned: (addr + offset) & (size - 1)
            s.local_get(k).i32_eqz().if_(BlockType::Empty).local_get(0);
            am.to_i64(&mut s);
            s.local_get(1)
                .i64_add()
                .i64_const(1)
                .local_get(2)
                .i32_const(7)
                .i32_and()
                .i64_extend_i32_u()
                .i64_shl()
                .i64_const(1)
                .i64_sub()
                .i64_and()
                .i64_eqz()
                .i32_eqz()
                .i32_const(2)
                .i32_mul()
                .local_set(k)
                .end();
        }
        s.local_get(k)
            .if_(BlockType::Empty)
            .call(self.h(Helper::Start));
        // Values above the address, unknown here, then the address.
        s.block(BlockType::Empty)
            .loop_(BlockType::Empty)
            .local_get(2)
            .i32_const(3)
            .i32_shr_u()
            .i32_const(3)
            .i32_and()
            .i32_eqz()
            .br_if(1)
            .call(self.h(Helper::SpMissing))
            .local_get(2)
            .i32_const(8)
            .i32_sub()
            .local_set(2)
            .br(0)
            .end()
            .end();
        s.local_get(0)
            .call(self.h(Helper::Sp(num)))
            .local_get(2)
            .i32_const(5)
            .i32_shr_u()
            .global_set(g.pm)
            .i32_const(kind::MEMORY_OOB)
            .i32_const(kind::UNALIGNED)
            .local_get(k)
            .i32_const(1)
            .i32_eq()
            .select()
            .global_set(g.u)
            .end()
            .local_get(0);
    }

    /// `CallIndirect(t)(slot, class) -> kind`: 0 when a `call_indirect` with
    /// that expected signature class would call a function.
    fn call_indirect(&self, c: &mut Code, t: u32) -> Result<(), Error> {
        let at = Layout::table_ax(self.input, t);
        let static_ = self.lay.static_tables.get(&t);
        let mut s = c.i();
        s.local_get(0);
        match static_ {
            Some(st) => {
                at.konst(&mut s, st.slots.len() as i64);
            }
            None => {
                s.table_size(t);
            }
        }
        at.ge_u(&mut s);
        s.if_(BlockType::Empty)
            .i32_const(kind::CALL_TABLE_OOB)
            .return_()
            .end();
        match static_ {
            Some(st) => {
                let class = c.local(ValType::I32);
                self.slot_class(c, st, class, at);
                let mut s = c.i();
                s.local_get(class)
                    .i32_eqz()
                    .if_(BlockType::Empty)
                    .i32_const(kind::CALL_NULL)
                    .return_()
                    .end();
                if !self.input.gc_types {
                    s.local_get(class)
                        .local_get(1)
                        .i32_ne()
                        .if_(BlockType::Empty)
                        .i32_const(kind::CALL_SIGNATURE)
                        .return_()
                        .end();
                }
                s.i32_const(0);
            }
            None => {
                c.i()
                    .local_get(0)
                    .table_get(t)
                    .ref_is_null()
                    .if_(BlockType::Empty)
                    .i32_const(kind::CALL_NULL)
                    .return_()
                    .end()
                    .i32_const(0);
            }
        }
        Ok(())
    }

    /// Sets local `class` to the class of slot `local 0` of a static table.
    fn slot_class(&self, c: &mut Code, st: &crate::layout::StaticTable, class: u32, at: Ax) {
        let classes = st.classes;
        // Slots past the last non-null one are null: no need to tabulate them.
        let used = st.slots.iter().rposition(|c| *c != 0).map_or(0, |p| p + 1);
        let mut s = c.i();
        if used == 0 || classes <= 1 {
            s.i32_const(0).local_set(class);
            return;
        }
        s.i32_const(0).local_set(class).block(BlockType::Empty); // $out
        for _ in 0..classes {
            s.block(BlockType::Empty);
        }
        s.local_get(0);
        at.to_i32(&mut s);
        // Beyond `used` (but in bounds): the default, class 0.
        s.br_table(st.slots[..used].iter().copied(), 0);
        for j in 0..classes {
            s.end();
            if j > 0 {
                s.i32_const(j as i32).local_set(class);
            }
            s.br(classes - j - 1);
        }
        s.end();
    }

    /// The body of a wrapper.
    pub fn wrapper_body(&self, w: &Wrapper) -> Result<Vec<u8>, Error> {
        let g = self.lay.g;
        let f = w.func();
        let sig = self
            .input
            .func_sig(f)
            .ok_or_else(|| Error::invalid(0, format!("function {f} has no function type")))?;
        let n = sig.params.len() as u32;
        let mut c = Code::new(n);
        let saved = self.opts.call_depth_limit.map(|_| c.local(ValType::I32));
        if let Wrapper::Slot { elem, item, .. } = *w {
            let e = &self.input.elements[elem as usize];
            let (table, expr) = match &e.mode {
                ElemMode::Active {
                    table, offset_expr, ..
                } => (*table, offset_expr.clone()),
                _ => return Err(Error::invalid(0, "slot wrapper for a non-active segment")),
            };
            c.i().global_get(g.wc);
            c.bytes.extend_from_slice(&self.input.bytes[expr]);
            let mut s = c.i();
            Layout::table_ax(self.input, table).to_i32(&mut s);
            s.i32_const(item as i32 + 1)
                .i32_add()
                .i32_eq()
                .if_(BlockType::Empty)
                .i32_const(0)
                .global_set(g.wc);
            for p in 0..n {
                s.local_get(p);
            }
            if self.plan.tail_calls {
                s.return_call(f);
            } else {
                s.call(f).return_();
            }
            s.end();
        }
        let mut s = c.i();
        s.i32_const(0).global_set(g.wc).i32_const(0).global_set(g.u);
        if let Some(saved) = saved {
            s.global_get(g.depth)
                .local_set(saved)
                .i32_const(0)
                .global_set(g.depth);
        }
        for p in 0..n {
            s.local_get(p);
        }
        s.call(f);
        if let Some(saved) = saved {
            s.local_get(saved).global_set(g.depth);
        }
        s.global_get(g.u)
            .if_(BlockType::Empty)
            .call(self.h(Helper::RootEnd))
            .end();
        Ok(c.finish())
    }
}

#[derive(Clone, Copy)]
enum Target {
    Memory(u32),
    Table(u32),
}

/// The one-byte abstract reference type a dump global of this type is written as.
fn abstract_ref_byte(r: wasmparser::RefType) -> u8 {
    use wasmparser::{AbstractHeapType as A, HeapType};
    match r.heap_type() {
        HeapType::Abstract { ty, .. } => match ty {
            A::Func | A::NoFunc => 0x70,
            A::Extern | A::NoExtern => 0x6f,
            A::Exn | A::NoExn => 0x69,
            A::Cont | A::NoCont => 0x68,
            A::Any | A::None => 0x6e,
            A::Eq => 0x6d,
            A::I31 => 0x6c,
            A::Struct => 0x6b,
            A::Array => 0x6a,
        },
        // Concrete types: functions or GC objects; both print as null.
        HeapType::Concrete(_) | HeapType::Exact(_) => {
            if r.is_func_ref() {
                0x70
            } else {
                0x6e
            }
        }
    }
}
