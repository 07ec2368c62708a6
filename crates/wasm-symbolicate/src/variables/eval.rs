//! Evaluating DWARF location expressions against a dumped Wasm frame.
//!
//! gimli's `Evaluation` does the stack machine, but refuses
//! `DW_OP_WASM_location` outright (`UnsupportedEvaluation`). So before
//! evaluating, each `DW_OP_WASM_location kind index` is rewritten into a
//! `DW_OP_bregx n 0` whose register number `n` indexes a side table of the
//! Wasm locations; when gimli asks for register `n`, the answer is the
//! local, global or operand-stack slot from the dump. `DW_OP_WASM_location`
//! thus pushes the slot's value, as FORMATS.md reads it: followed by
//! `DW_OP_stack_value` it is the variable's value; alone it is the address
//! of the variable in linear memory. Expressions that mix Wasm locations with
//! branches (`DW_OP_skip`, `DW_OP_bra`) are refused rather than re-linked.

use std::sync::Arc;

use gimli::{Encoding, EvaluationResult, Expression, Operation, Reader as _};
use wasm_coredump::{Memory, Value};

use crate::dwarf::Reader;

/// The dumped state of one frame, as location expressions need it.
pub trait FrameState {
    /// Local `index` (parameters first), `None` when the dump lacks it.
    fn local(&self, index: u32) -> Option<Value>;
    /// Global `index` of the frame's instance.
    fn global(&self, index: u32) -> Option<Value>;
    /// Operand-stack slot `index`, 0 being the bottom.
    fn stack(&self, index: u32) -> Option<Value>;
    /// The instance's linear memory 0.
    fn memory(&self) -> Option<&Memory>;
    /// How the frame's function assigns local `index`, when the state
    /// knows the function's code. Lets variable lookups tell a local that
    /// still holds a value from one the code has since reused.
    fn local_writes(&self, index: u32) -> Option<LocalWrites> {
        let _ = index;
        None
    }
}

/// The `local.set`/`local.tee` instructions of one local in a function body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalWrites {
    /// Whether the local is a parameter (its value on entry is the argument).
    pub is_param: bool,
    /// Writes anywhere in the body.
    pub total: u32,
    /// Writes at code offsets before the frame's current instruction.
    pub before_pc: u32,
}

/// A frame state built from a core dump's frame and instance.
#[derive(Debug, Clone, Copy)]
pub struct DumpFrameState<'a> {
    pub dump: &'a wasm_coredump::CoreDump,
    pub frame: &'a wasm_coredump::Frame,
}

impl FrameState for DumpFrameState<'_> {
    fn local(&self, index: u32) -> Option<Value> {
        self.frame.locals.get(index as usize).copied()
    }

    fn global(&self, index: u32) -> Option<Value> {
        self.dump
            .instance_global(self.frame.instance, index)
            .map(|g| g.value)
    }

    fn stack(&self, index: u32) -> Option<Value> {
        self.frame.stack.get(index as usize).copied()
    }

    fn memory(&self) -> Option<&Memory> {
        self.dump.instance_memory(self.frame.instance, 0)
    }
}

/// Which Wasm slot a `DW_OP_WASM_location` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmSlot {
    Local(u32),
    Global(u32),
    Stack(u32),
}

impl std::fmt::Display for WasmSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WasmSlot::Local(i) => write!(f, "local {i}"),
            WasmSlot::Global(i) => write!(f, "global {i}"),
            WasmSlot::Stack(i) => write!(f, "operand stack slot {i}"),
        }
    }
}

/// Why a location could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The dump does not record what the expression needs.
    #[error("<unavailable: the dump does not record {0}>")]
    MissingSlot(WasmSlot),
    /// A memory read failed (outside memory, excluded from the dump, no memory).
    #[error("<unavailable: cannot read memory at {address:#x}: {reason}>")]
    Memory { address: u64, reason: String },
    /// `DW_OP_fbreg` without a usable frame base.
    #[error("<unavailable: no frame base>")]
    NoFrameBase,
    /// The expression needs something a post-mortem tool cannot know
    /// (entry values, TLS, call-frame CFA…).
    #[error("<unavailable: needs {0}>")]
    Unsupported(String),
    /// The expression is malformed.
    #[error("<error: bad DWARF expression: {0}>")]
    Malformed(String),
}

fn malformed(err: gimli::Error) -> EvalError {
    EvalError::Malformed(err.to_string())
}

/// Where one piece of a variable is.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// In linear memory at this address.
    Memory(u64),
    /// Not stored anywhere; the value is known (little-endian bytes).
    Value(Vec<u8>),
    /// Optimised out.
    Empty,
}

/// One piece of a variable's location.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// Size in bits, `None` for a single piece covering the whole object.
    pub size_in_bits: Option<u64>,
    /// Bit offset within the place (for values).
    pub bit_offset: Option<u64>,
    pub place: Place,
}

/// Rewrites `DW_OP_WASM_location` into `DW_OP_bregx` (see the module docs).
fn rewrite(
    expression: &Expression<Reader>,
    encoding: Encoding,
) -> Result<(Expression<Reader>, Vec<WasmSlot>), EvalError> {
    let mut reader = expression.0.clone();
    let mut out = Vec::with_capacity(reader.len());
    let mut slots = Vec::new();
    let mut branches = false;
    while !reader.is_empty() {
        let before = reader.clone();
        let op = Operation::parse(&mut reader, encoding).map_err(malformed)?;
        let len = before.len() - reader.len();
        let slot = match op {
            Operation::WasmLocal { index } => Some(WasmSlot::Local(index)),
            Operation::WasmGlobal { index } => Some(WasmSlot::Global(index)),
            Operation::WasmStack { index } => Some(WasmSlot::Stack(index)),
            Operation::Skip { .. } | Operation::Bra { .. } => {
                branches = true;
                None
            }
            _ => None,
        };
        match slot {
            Some(slot) => {
                let register = u16::try_from(slots.len())
                    .map_err(|_| EvalError::Malformed("too many Wasm locations".into()))?;
                slots.push(slot);
                out.push(gimli::DW_OP_bregx.0);
                write_uleb(&mut out, u64::from(register));
                out.push(0); // SLEB 0
            }
            None => {
                let bytes = before.bytes().get(..len).ok_or_else(|| {
                    EvalError::Malformed("operation longer than the expression".into())
                })?;
                out.extend_from_slice(bytes);
            }
        }
    }
    if branches && !slots.is_empty() {
        return Err(EvalError::Unsupported(
            "branches combined with DW_OP_WASM_location".into(),
        ));
    }
    if slots.is_empty() {
        return Ok((expression.clone(), slots));
    }
    let bytes: Arc<[u8]> = out.into();
    Ok((Expression(Reader::new(bytes, gimli::LittleEndian)), slots))
}

fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The DWARF stack value standing for a dumped Wasm value: 32-bit values
/// (and 64-bit ones that fit) are address-sized generic values, so that
/// arithmetic with literals works; wider ones keep all 64 bits.
fn stack_value(value: Value, slot: WasmSlot) -> Result<gimli::Value, EvalError> {
    let bits = match value {
        Value::I32(v) => u64::from(v as u32),
        Value::F32(bits) => u64::from(bits),
        Value::I64(v) => v as u64,
        Value::F64(bits) => bits,
        Value::Missing | Value::V128(_) | Value::RefNull(_) => {
            return Err(EvalError::MissingSlot(slot));
        }
    };
    Ok(if bits <= u64::from(u32::MAX) {
        gimli::Value::Generic(bits)
    } else {
        gimli::Value::U64(bits)
    })
}

fn value_bytes(value: gimli::Value) -> Vec<u8> {
    use gimli::Value as V;
    match value {
        V::Generic(v) | V::U64(v) => v.to_le_bytes().to_vec(),
        V::I8(v) => v.to_le_bytes().to_vec(),
        V::U8(v) => v.to_le_bytes().to_vec(),
        V::I16(v) => v.to_le_bytes().to_vec(),
        V::U16(v) => v.to_le_bytes().to_vec(),
        V::I32(v) => v.to_le_bytes().to_vec(),
        V::U32(v) => v.to_le_bytes().to_vec(),
        V::I64(v) => v.to_le_bytes().to_vec(),
        V::F32(v) => v.to_le_bytes().to_vec(),
        V::F64(v) => v.to_le_bytes().to_vec(),
    }
}

/// What else an evaluation may need from the DWARF around it.
pub trait ExpressionContext {
    /// The `ValueType` of the base type DIE at this unit offset.
    fn base_type(&self, offset: gimli::UnitOffset<usize>) -> Option<gimli::ValueType> {
        let _ = offset;
        None
    }
    /// An address from `.debug_addr`.
    fn indexed_address(&self, index: gimli::DebugAddrIndex<usize>) -> Option<u64> {
        let _ = index;
        None
    }
}

/// No surrounding DWARF: enough for self-contained expressions.
pub struct NoContext;
impl ExpressionContext for NoContext {}

/// Evaluates a location expression. `frame_base` answers `DW_OP_fbreg`.
pub fn evaluate(
    expression: &Expression<Reader>,
    encoding: Encoding,
    frame_base: Option<u64>,
    state: &dyn FrameState,
    context: &dyn ExpressionContext,
) -> Result<Vec<Piece>, EvalError> {
    if expression.0.is_empty() {
        // DWARF: an empty location description means optimised out.
        return Ok(vec![Piece {
            size_in_bits: None,
            bit_offset: None,
            place: Place::Empty,
        }]);
    }
    let (expression, slots) = rewrite(expression, encoding)?;
    let mut eval = expression.evaluation(encoding);
    eval.set_max_iterations(100_000);
    let mut step = eval.evaluate().map_err(malformed)?;
    loop {
        step = match step {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresRegister { register, .. } => {
                let slot = *slots
                    .get(usize::from(register.0))
                    .ok_or_else(|| EvalError::Unsupported(format!("register {}", register.0)))?;
                let value = match slot {
                    WasmSlot::Local(i) => state.local(i),
                    WasmSlot::Global(i) => state.global(i),
                    WasmSlot::Stack(i) => state.stack(i),
                }
                .ok_or(EvalError::MissingSlot(slot))?;
                eval.resume_with_register(stack_value(value, slot)?)
                    .map_err(malformed)?
            }
            EvaluationResult::RequiresFrameBase => {
                let base = frame_base.ok_or(EvalError::NoFrameBase)?;
                eval.resume_with_frame_base(base).map_err(malformed)?
            }
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let memory = state.memory().ok_or_else(|| EvalError::Memory {
                    address,
                    reason: "the dump has no linear memory".into(),
                })?;
                let mut buf = [0u8; 8];
                let len = usize::from(size).min(8);
                memory
                    .read_into(address, &mut buf[..len])
                    .map_err(|e| EvalError::Memory {
                        address,
                        reason: e.to_string(),
                    })?;
                eval.resume_with_memory(gimli::Value::Generic(u64::from_le_bytes(buf)))
                    .map_err(malformed)?
            }
            EvaluationResult::RequiresRelocatedAddress(address) => eval
                .resume_with_relocated_address(address)
                .map_err(malformed)?,
            EvaluationResult::RequiresIndexedAddress { index, .. } => {
                let address = context.indexed_address(index).ok_or_else(|| {
                    EvalError::Malformed(format!("no .debug_addr entry {}", index.0))
                })?;
                eval.resume_with_indexed_address(address)
                    .map_err(malformed)?
            }
            EvaluationResult::RequiresBaseType(offset) => {
                let ty = context.base_type(offset).ok_or_else(|| {
                    EvalError::Malformed(format!("no base type at {:#x}", offset.0))
                })?;
                eval.resume_with_base_type(ty).map_err(malformed)?
            }
            EvaluationResult::RequiresTls(_) => {
                return Err(EvalError::Unsupported("thread-local storage".into()));
            }
            EvaluationResult::RequiresCallFrameCfa => {
                return Err(EvalError::Unsupported("the call frame address".into()));
            }
            EvaluationResult::RequiresAtLocation(_) => {
                return Err(EvalError::Unsupported(
                    "another DIE's location (DW_OP_call)".into(),
                ));
            }
            EvaluationResult::RequiresEntryValue(_) => {
                return Err(EvalError::Unsupported(
                    "the value on entry to the function".into(),
                ));
            }
            EvaluationResult::RequiresParameterRef(_) => {
                return Err(EvalError::Unsupported(
                    "a parameter's value in the caller".into(),
                ));
            }
        };
    }
    let mut pieces = Vec::new();
    for piece in eval.result() {
        let place = match piece.location {
            gimli::Location::Empty => Place::Empty,
            gimli::Location::Address { address } => Place::Memory(address),
            gimli::Location::Value { value } => Place::Value(value_bytes(value)),
            gimli::Location::Bytes { value } => {
                Place::Value(value.to_slice().map_err(malformed)?.into_owned())
            }
            gimli::Location::Register { register } => {
                return Err(EvalError::Unsupported(format!("register {}", register.0)));
            }
            gimli::Location::ImplicitPointer { .. } => {
                return Err(EvalError::Unsupported("an implicit pointer".into()));
            }
        };
        pieces.push(Piece {
            size_in_bits: piece.size_in_bits,
            bit_offset: piece.bit_offset,
            place,
        });
    }
    Ok(pieces)
}

/// The frame base for `DW_OP_fbreg`: the address a `DW_AT_frame_base`
/// expression yields, whether it names a memory location (the address) or
/// is a value (`DW_OP_stack_value`: the value itself).
pub fn frame_base(
    expression: &Expression<Reader>,
    encoding: Encoding,
    state: &dyn FrameState,
    context: &dyn ExpressionContext,
) -> Result<u64, EvalError> {
    let pieces = evaluate(expression, encoding, None, state, context)?;
    match pieces.as_slice() {
        [
            Piece {
                place: Place::Memory(address),
                ..
            },
        ] => Ok(*address),
        [
            Piece {
                place: Place::Value(bytes),
                ..
            },
        ] => {
            let mut buf = [0u8; 8];
            let n = bytes.len().min(8);
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok(u64::from_le_bytes(buf))
        }
        _ => Err(EvalError::NoFrameBase),
    }
}

/// Reads `size` bytes of an object from its pieces. Bytes of pieces that are
/// optimised out make the whole read fail with `Ok(None)`.
pub fn read_pieces(
    pieces: &[Piece],
    size: u64,
    state: &dyn FrameState,
) -> Result<Option<Vec<u8>>, EvalError> {
    let size =
        usize::try_from(size).map_err(|_| EvalError::Malformed("object too large".into()))?;
    if size > 1 << 24 {
        return Err(EvalError::Malformed(format!("object of {size} bytes")));
    }
    let mut out = Vec::with_capacity(size);
    for piece in pieces {
        let wanted = match piece.size_in_bits {
            Some(bits) => usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX),
            None => size.saturating_sub(out.len()),
        };
        let wanted = wanted.min(size.saturating_sub(out.len()));
        match &piece.place {
            Place::Empty => return Ok(None),
            Place::Memory(address) => {
                let memory = state.memory().ok_or_else(|| EvalError::Memory {
                    address: *address,
                    reason: "the dump has no linear memory".into(),
                })?;
                let bytes = memory
                    .read(*address, wanted)
                    .map_err(|e| EvalError::Memory {
                        address: *address,
                        reason: e.to_string(),
                    })?;
                out.extend_from_slice(&bytes);
            }
            Place::Value(bytes) => {
                let skip = usize::try_from(piece.bit_offset.unwrap_or(0) / 8).unwrap_or(usize::MAX);
                let available = bytes.get(skip..).unwrap_or(&[]);
                let take = wanted.min(available.len());
                out.extend_from_slice(&available[..take]);
                // A value narrower than the piece is zero-extended.
                out.resize(out.len() + (wanted - take), 0);
            }
        }
        if out.len() >= size {
            break;
        }
    }
    if out.len() < size {
        return Ok(None);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_coredump::MemoryLimits;

    #[derive(Default)]
    struct State {
        locals: Vec<Value>,
        globals: Vec<Value>,
        stack: Vec<Value>,
        memory: Option<Memory>,
    }

    impl FrameState for State {
        fn local(&self, index: u32) -> Option<Value> {
            self.locals.get(index as usize).copied()
        }
        fn global(&self, index: u32) -> Option<Value> {
            self.globals.get(index as usize).copied()
        }
        fn stack(&self, index: u32) -> Option<Value> {
            self.stack.get(index as usize).copied()
        }
        fn memory(&self) -> Option<&Memory> {
            self.memory.as_ref()
        }
    }

    const ENCODING: Encoding = Encoding {
        format: gimli::Format::Dwarf32,
        version: 4,
        address_size: 4,
    };

    fn expr(bytes: &[u8]) -> Expression<Reader> {
        Expression(Reader::new(Arc::from(bytes), gimli::LittleEndian))
    }

    fn eval(bytes: &[u8], frame_base: Option<u64>, state: &State) -> Result<Vec<Piece>, EvalError> {
        evaluate(&expr(bytes), ENCODING, frame_base, state, &NoContext)
    }

    fn single(bytes: &[u8], frame_base: Option<u64>, state: &State) -> Place {
        let pieces = eval(bytes, frame_base, state).expect("evaluates");
        assert_eq!(pieces.len(), 1, "{pieces:?}");
        pieces[0].place.clone()
    }

    const WASM: u8 = 0xed;
    const STACK_VALUE: u8 = 0x9f;

    fn as_u64(place: &Place) -> u64 {
        match place {
            Place::Value(bytes) => {
                let mut buf = [0u8; 8];
                buf[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
                u64::from_le_bytes(buf)
            }
            other => panic!("not a value: {other:?}"),
        }
    }

    fn state() -> State {
        let mut memory = Memory::new(MemoryLimits::pages(1));
        memory
            .write(0x1000, &0x1234_5678u32.to_le_bytes())
            .expect("write");
        memory
            .write(0x2000, &0x1000u32.to_le_bytes())
            .expect("write");
        State {
            locals: vec![
                Value::I32(7),
                Value::I32(0x2000),
                Value::I64(-2),
                Value::Missing,
                Value::F64(2.5f64.to_bits()),
            ],
            globals: vec![Value::I32(0x1ff0), Value::I32(5)],
            stack: vec![Value::I32(11), Value::I32(-1)],
            memory: Some(memory),
        }
    }

    #[test]
    fn wasm_location_kinds_with_stack_value() {
        let s = state();
        // kind 0: local 0
        assert_eq!(as_u64(&single(&[WASM, 0, 0, STACK_VALUE], None, &s)), 7);
        // kind 1: global 1 (ULEB index)
        assert_eq!(as_u64(&single(&[WASM, 1, 1, STACK_VALUE], None, &s)), 5);
        // kind 2: operand stack slot 1 (bottom is 0); i32 -1 as 32 bits
        assert_eq!(
            as_u64(&single(&[WASM, 2, 1, STACK_VALUE], None, &s)),
            0xffff_ffff
        );
        // kind 3: global with a fixed 4-byte index
        assert_eq!(
            as_u64(&single(&[WASM, 3, 1, 0, 0, 0, STACK_VALUE], None, &s)),
            5
        );
        // An i64 keeps all 64 bits.
        assert_eq!(
            as_u64(&single(&[WASM, 0, 2, STACK_VALUE], None, &s)),
            (-2i64) as u64
        );
        // An f64 local: raw bits.
        assert_eq!(
            as_u64(&single(&[WASM, 0, 4, STACK_VALUE], None, &s)),
            2.5f64.to_bits()
        );
    }

    #[test]
    fn wasm_location_without_stack_value_is_an_address() {
        let s = state();
        // The object lives in memory at the address held in local 1.
        assert_eq!(single(&[WASM, 0, 1], None, &s), Place::Memory(0x2000));
        let pieces = eval(&[WASM, 0, 1], None, &s).expect("evaluates");
        assert_eq!(
            read_pieces(&pieces, 4, &s).expect("reads"),
            Some(0x1000u32.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn arithmetic_on_wasm_values() {
        let s = state();
        // local 1 + 8, DW_OP_plus_uconst
        assert_eq!(
            as_u64(&single(&[WASM, 0, 1, 0x23, 8, STACK_VALUE], None, &s)),
            0x2008
        );
        // local 0 & 0xff: DW_OP_constu 0xff, DW_OP_and
        assert_eq!(
            as_u64(&single(
                &[WASM, 0, 0, 0x10, 0xff, 0x01, 0x1a, STACK_VALUE],
                None,
                &s
            )),
            7
        );
        // Dereference: *(local 1) = 0x1000, then *(0x1000).
        assert_eq!(
            as_u64(&single(&[WASM, 0, 1, 0x06, 0x06, STACK_VALUE], None, &s)),
            0x1234_5678
        );
    }

    #[test]
    fn fbreg_on_local_and_global_frame_bases() {
        let s = state();
        // -O0: frame base is local 1 as a value.
        let base =
            frame_base(&expr(&[WASM, 0, 1, STACK_VALUE]), ENCODING, &s, &NoContext).expect("base");
        assert_eq!(base, 0x2000);
        // -O2: the __stack_pointer global, as a memory location description.
        let base2 = frame_base(&expr(&[WASM, 1, 0]), ENCODING, &s, &NoContext).expect("base");
        assert_eq!(base2, 0x1ff0);
        // DW_OP_fbreg +16 (SLEB 0x10)
        assert_eq!(
            single(&[0x91, 0x10], Some(base2), &s),
            Place::Memory(0x2000)
        );
        // DW_OP_fbreg -16 (SLEB 0x70)
        assert_eq!(single(&[0x91, 0x70], Some(base), &s), Place::Memory(0x1ff0));
        assert_eq!(eval(&[0x91, 0x10], None, &s), Err(EvalError::NoFrameBase));
    }

    #[test]
    fn pieces_and_optimised_out_parts() {
        let s = state();
        // local 0 (4 bytes) then stack slot 0 (4 bytes): an 8-byte object.
        let e = [
            WASM,
            0,
            0,
            STACK_VALUE,
            0x93,
            4,
            WASM,
            2,
            0,
            STACK_VALUE,
            0x93,
            4,
        ];
        let pieces = eval(&e, None, &s).expect("evaluates");
        assert_eq!(pieces.len(), 2);
        let bytes = read_pieces(&pieces, 8, &s)
            .expect("reads")
            .expect("complete");
        assert_eq!(bytes, [7, 0, 0, 0, 11, 0, 0, 0]);
        // First half optimised out (an empty piece).
        let e = [0x93, 4, WASM, 0, 0, STACK_VALUE, 0x93, 4];
        let pieces = eval(&e, None, &s).expect("evaluates");
        assert_eq!(pieces[0].place, Place::Empty);
        assert_eq!(read_pieces(&pieces, 8, &s).expect("reads"), None);
        // An empty expression: optimised out.
        let pieces = eval(&[], None, &s).expect("evaluates");
        assert!(pieces.iter().all(|p| p.place == Place::Empty), "{pieces:?}");
    }

    #[test]
    fn constants_and_addresses() {
        let s = state();
        // DW_OP_lit3, stack_value
        assert_eq!(as_u64(&single(&[0x33, STACK_VALUE], None, &s)), 3);
        // DW_OP_implicit_value 4 bytes
        assert_eq!(
            single(&[0x9e, 4, 1, 2, 3, 4], None, &s),
            Place::Value(vec![1, 2, 3, 4])
        );
        // DW_OP_addr 0x1000 (a static)
        assert_eq!(
            single(&[0x03, 0x00, 0x10, 0, 0], None, &s),
            Place::Memory(0x1000)
        );
    }

    #[test]
    fn what_the_dump_lacks_is_reported() {
        let s = state();
        assert_eq!(
            eval(&[WASM, 0, 3, STACK_VALUE], None, &s),
            Err(EvalError::MissingSlot(WasmSlot::Local(3)))
        );
        assert_eq!(
            eval(&[WASM, 0, 40, STACK_VALUE], None, &s),
            Err(EvalError::MissingSlot(WasmSlot::Local(40)))
        );
        let err = eval(&[WASM, 2, 9, STACK_VALUE], None, &s).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "<unavailable: the dump does not record operand stack slot 9>"
        );
        // Memory beyond the dumped memory.
        let pieces = eval(&[0x03, 0xf0, 0xff, 0xff, 0xff], None, &s).expect("evaluates");
        assert!(matches!(
            read_pieces(&pieces, 4, &s),
            Err(EvalError::Memory { .. })
        ));
        assert!(matches!(
            eval(&[0x03, 0xf0, 0xff, 0xff, 0xff, 0x06], None, &s),
            Err(EvalError::Memory { .. })
        ));
        // Entry values cannot be known after the fact.
        assert!(matches!(
            eval(&[0xa3, 1, 0x30, STACK_VALUE], None, &s),
            Err(EvalError::Unsupported(_))
        ));
    }

    #[test]
    fn malformed_expressions_are_errors() {
        let s = state();
        for bytes in [
            &[WASM][..],
            &[WASM, 9, 0],
            &[WASM, 0],
            &[0x91],
            &[0x06],
            &[0x2f, 0xff, 0x7f],
            &[0xff],
        ] {
            assert!(eval(bytes, Some(0), &s).is_err(), "{bytes:?}");
        }
        // Branches with Wasm locations are refused rather than mis-linked.
        assert!(matches!(
            eval(&[WASM, 0, 0, 0x2f, 0, 0, STACK_VALUE], None, &s),
            Err(EvalError::Unsupported(_))
        ));
        // An infinite loop stops.
        assert!(eval(&[0x2f, 0xfd, 0xff], None, &s).is_err());
    }
}
