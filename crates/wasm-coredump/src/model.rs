//! The in-memory model of a core dump: what the reader produces and the writer consumes.

use std::fmt;
use std::str::FromStr;

use crate::build_id::BuildId;
use crate::memory::Memory;

/// A whole core dump: process, modules, instances, threads, memories and globals,
/// plus the facts the spec has no field for (trap, build ids), carried in our own
/// custom sections (see the crate docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoreDump {
    /// The executable name from the `core` section, if any.
    pub executable_name: Option<String>,
    /// The modules, from `coremodules` plus our `postmortem.modules` metadata.
    pub modules: Vec<DumpedModule>,
    /// The instances, from `coreinstances`.
    pub instances: Vec<Instance>,
    /// One entry per `corestack` section, in file order.
    pub threads: Vec<Thread>,
    /// Linear memories, in the dump's memory index space.
    pub memories: Vec<Memory>,
    /// Globals, in the dump's global index space.
    pub globals: Vec<Global>,
    /// Why the program stopped, from `postmortem.trap`.
    pub trap: Option<TrapInfo>,
    /// Free-form facts about the capture (capturing tool, host, time…), from `postmortem.info`.
    pub info: Vec<(String, String)>,
}

impl CoreDump {
    /// The memory with dump index `index`.
    pub fn memory(&self, index: u32) -> Result<&Memory, crate::MemoryError> {
        self.memories
            .get(index as usize)
            .ok_or(crate::MemoryError::NoSuchMemory(index))
    }

    /// The memory an instance calls its `index`-th memory.
    pub fn instance_memory(&self, instance: u32, index: u32) -> Option<&Memory> {
        let inst = self.instances.get(instance as usize)?;
        let dump_index = *inst.memories.get(index as usize)?;
        self.memories.get(dump_index as usize)
    }

    /// The global an instance calls its `index`-th global.
    pub fn instance_global(&self, instance: u32, index: u32) -> Option<&Global> {
        let inst = self.instances.get(instance as usize)?;
        let dump_index = *inst.globals.get(index as usize)?;
        self.globals.get(dump_index as usize)
    }

    /// The first thread's frames: the crashing stack in a single-threaded dump.
    pub fn main_frames(&self) -> &[Frame] {
        self.threads.first().map_or(&[], |t| t.frames.as_slice())
    }

    /// The value of an `info` entry.
    pub fn info(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A module the dumped process had loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpedModule {
    /// The name given in `coremodules`.
    pub name: String,
    /// The module's `build_id`, when the capturing tool knew it.
    pub build_id: Option<BuildId>,
    /// Where the module was loaded from, when known.
    pub path: Option<String>,
}

/// An instance of a module, mapping its own memory and global indices to the dump's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    /// Index into [`CoreDump::modules`].
    pub module: u32,
    /// For each of the instance's memories, its index in [`CoreDump::memories`].
    pub memories: Vec<u32>,
    /// For each of the instance's globals, its index in [`CoreDump::globals`].
    pub globals: Vec<u32>,
}

/// One thread's stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thread {
    pub name: String,
    /// Youngest (trapping) frame first.
    pub frames: Vec<Frame>,
}

/// One stack frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    /// Index into [`CoreDump::instances`]; 0 in dumps written in the older layout.
    pub instance: u32,
    /// Function index in the instance's module (imports counted).
    pub function: u32,
    /// Offset from the start of the function body (after its size), in the
    /// input module's coordinates. 0 means unknown.
    pub code_offset: u32,
    /// Parameters then declared locals; may be empty when the capturer had none.
    pub locals: Vec<Value>,
    /// The operand stack, bottom first; may be empty.
    pub stack: Vec<Value>,
}

/// A value in a frame or a global.
///
/// Frames can only hold the first five kinds; `V128` and `RefNull` occur in globals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// The capturer did not know the value.
    Missing,
    I32(i32),
    I64(i64),
    /// Raw IEEE-754 bits, so NaN payloads survive.
    F32(u32),
    /// Raw IEEE-754 bits, so NaN payloads survive.
    F64(u64),
    V128(u128),
    /// A reference; dumps record references as null.
    RefNull(RefKind),
}

impl Value {
    /// The value as an `f32`, if it is one.
    pub fn as_f32(self) -> Option<f32> {
        match self {
            Value::F32(bits) => Some(f32::from_bits(bits)),
            _ => None,
        }
    }

    /// The value as an `f64`, if it is one.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Value::F64(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }

    /// Integer values widened to `i64` (i32 sign-extended).
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// Integer values as unsigned: i32 zero-extended, i64 reinterpreted.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Value::I32(v) => Some(u64::from(v as u32)),
            Value::I64(v) => Some(v as u64),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Missing => f.write_str("<missing>"),
            Value::I32(v) => write!(f, "i32:{v}"),
            Value::I64(v) => write!(f, "i64:{v}"),
            Value::F32(bits) => write!(f, "f32:{}", f32::from_bits(bits)),
            Value::F64(bits) => write!(f, "f64:{}", f64::from_bits(bits)),
            Value::V128(v) => write!(f, "v128:{v:#034x}"),
            Value::RefNull(kind) => write!(f, "ref.null {kind}"),
        }
    }
}

/// The abstract heap type of a null reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Func,
    Extern,
    Any,
    Eq,
    I31,
    Struct,
    Array,
    Exn,
    Cont,
    None,
    NoFunc,
    NoExtern,
    NoExn,
    NoCont,
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            RefKind::Func => "func",
            RefKind::Extern => "extern",
            RefKind::Any => "any",
            RefKind::Eq => "eq",
            RefKind::I31 => "i31",
            RefKind::Struct => "struct",
            RefKind::Array => "array",
            RefKind::Exn => "exn",
            RefKind::Cont => "cont",
            RefKind::None => "none",
            RefKind::NoFunc => "nofunc",
            RefKind::NoExtern => "noextern",
            RefKind::NoExn => "noexn",
            RefKind::NoCont => "nocont",
        };
        f.write_str(name)
    }
}

/// The type of a global's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    /// A nullable reference to the given abstract heap type.
    Ref(RefKind),
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(kind) => write!(f, "{kind}ref"),
        }
    }
}

/// A dumped global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Global {
    pub ty: ValType,
    pub mutable: bool,
    pub value: Value,
}

/// Why the program stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapInfo {
    pub kind: TrapKind,
    /// The engine's or tool's message, e.g. `wasm trap: integer divide by zero`.
    pub message: String,
}

/// The kinds of trap a Wasm program can hit, with stable kebab-case names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrapKind {
    Unreachable,
    IntegerDivideByZero,
    IntegerOverflow,
    BadConversionToInteger,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    StackOverflow,
    NullReference,
    UnalignedAtomic,
    /// Stopped by an epoch deadline or similar timeout.
    Interrupt,
    OutOfFuel,
    /// A kind this crate does not know; the name is kept as written.
    Other(String),
}

impl TrapKind {
    /// Every named kind (not `Other`).
    pub const ALL: [TrapKind; 13] = [
        TrapKind::Unreachable,
        TrapKind::IntegerDivideByZero,
        TrapKind::IntegerOverflow,
        TrapKind::BadConversionToInteger,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::BadSignature,
        TrapKind::StackOverflow,
        TrapKind::NullReference,
        TrapKind::UnalignedAtomic,
        TrapKind::Interrupt,
        TrapKind::OutOfFuel,
    ];

    /// The stable name, e.g. `integer-divide-by-zero`.
    pub fn as_str(&self) -> &str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::IntegerDivideByZero => "integer-divide-by-zero",
            TrapKind::IntegerOverflow => "integer-overflow",
            TrapKind::BadConversionToInteger => "bad-conversion-to-integer",
            TrapKind::MemoryOutOfBounds => "memory-out-of-bounds",
            TrapKind::TableOutOfBounds => "table-out-of-bounds",
            TrapKind::IndirectCallToNull => "indirect-call-to-null",
            TrapKind::BadSignature => "bad-signature",
            TrapKind::StackOverflow => "stack-overflow",
            TrapKind::NullReference => "null-reference",
            TrapKind::UnalignedAtomic => "unaligned-atomic",
            TrapKind::Interrupt => "interrupt",
            TrapKind::OutOfFuel => "out-of-fuel",
            TrapKind::Other(name) => name,
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrapKind {
    type Err = std::convert::Infallible;

    /// Never fails: unknown names become [`TrapKind::Other`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(TrapKind::ALL
            .iter()
            .find(|kind| kind.as_str() == s)
            .cloned()
            .unwrap_or_else(|| TrapKind::Other(s.to_string())))
    }
}
