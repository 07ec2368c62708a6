//! A few conveniences for writing function bodies with `wasm-encoder`.

use wasm_encoder::{Encode, InstructionSink, MemArg, ValType};

/// A function body under construction: locals beyond the parameters, and code.
pub(crate) struct Code {
    params: u32,
    locals: Vec<ValType>,
    pub bytes: Vec<u8>,
}

impl Code {
    pub fn new(params: u32) -> Self {
        Code {
            params,
            locals: Vec::new(),
            bytes: Vec::with_capacity(64),
        }
    }

    /// A new local of type `ty`; returns its index.
    pub fn local(&mut self, ty: ValType) -> u32 {
        self.locals.push(ty);
        self.params + self.locals.len() as u32 - 1
    }

    pub fn i(&mut self) -> InstructionSink<'_> {
        InstructionSink::new(&mut self.bytes)
    }

    /// Encodes the body (locals, code, final `end`), without its size.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 8);
        let mut groups: Vec<(u32, ValType)> = Vec::new();
        for ty in &self.locals {
            match groups.last_mut() {
                Some((n, t)) if t == ty => *n += 1,
                _ => groups.push((1, *ty)),
            }
        }
        (groups.len() as u32).encode(&mut out);
        for (n, ty) in groups {
            n.encode(&mut out);
            ty.encode(&mut out);
        }
        self.i().end();
        out.extend_from_slice(&self.bytes);
        out
    }
}

/// The index type of a memory or table: i32 or i64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ax {
    pub is64: bool,
}

impl Ax {
    pub fn ty(self) -> ValType {
        if self.is64 {
            ValType::I64
        } else {
            ValType::I32
        }
    }

    pub fn konst(self, s: &mut InstructionSink<'_>, v: i64) {
        if self.is64 {
            s.i64_const(v);
        } else {
            s.i32_const(v as i32);
        }
    }

    pub fn add(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_add()
        } else {
            s.i32_add()
        };
    }

    pub fn sub(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_sub()
        } else {
            s.i32_sub()
        };
    }

    pub fn shl(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_shl()
        } else {
            s.i32_shl()
        };
    }

    pub fn shr_u(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_shr_u()
        } else {
            s.i32_shr_u()
        };
    }

    pub fn eq(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_eq()
        } else {
            s.i32_eq()
        };
    }

    pub fn ne(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_ne()
        } else {
            s.i32_ne()
        };
    }

    pub fn eqz(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_eqz()
        } else {
            s.i32_eqz()
        };
    }

    pub fn ge_u(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_ge_u()
        } else {
            s.i32_ge_u()
        };
    }

    /// Converts a value of this type to i64 (zero-extending).
    pub fn to_i64(self, s: &mut InstructionSink<'_>) {
        if !self.is64 {
            s.i64_extend_i32_u();
        }
    }

    /// Converts an i64 to this type (wrapping).
    pub fn of_i64(self, s: &mut InstructionSink<'_>) {
        if !self.is64 {
            s.i32_wrap_i64();
        }
    }

    /// Converts an i32 to this type (zero-extending).
    pub fn of_i32(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i64_extend_i32_u();
        }
    }

    /// Converts a value of this type to i32 (wrapping).
    pub fn to_i32(self, s: &mut InstructionSink<'_>) {
        if self.is64 {
            s.i32_wrap_i64();
        }
    }
}

/// A memory argument with no alignment promise.
pub(crate) fn mem(memory: u32, offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 0,
        memory_index: memory,
    }
}

/// Unsigned LEB128.
pub(crate) fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A name: length then UTF-8 bytes.
pub(crate) fn name(out: &mut Vec<u8>, s: &str) {
    uleb(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A custom section: id 0, size, name, payload.
pub(crate) fn custom_section(name_: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(name_.len() + payload.len() + 5);
    name(&mut body, name_);
    body.extend_from_slice(payload);
    let mut out = vec![0u8];
    uleb(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}
