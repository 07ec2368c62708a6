//! The parameters and locals in scope at a dumped frame's code location.
//!
//! The frame's DIEs come from the same lookup as its backtrace line: the
//! subprogram, plus one inlined subroutine per inlined frame. Each scope's
//! variables are its `DW_TAG_formal_parameter` and `DW_TAG_variable`
//! children, and those of nested lexical blocks whose ranges hold the
//! address. `DW_OP_fbreg` uses the physical function's `DW_AT_frame_base`.

use gimli::{AttributeValue, Expression, Reader as _, UnitOffset, UnitRef};
use wasm_coredump::{CodeLocation, Memory};

use super::eval::{self, EvalError, ExpressionContext, FrameState};
use super::format::format_value;
use super::types::{self, Type, TypeStyle};
use crate::demangle::NameLanguage;
use crate::dwarf::Reader;
use crate::error::{Error, Result};
use crate::symbolicator::{SourceFrame, Symbolicator, UnitNaming};

/// A variable's value, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum VariableValue {
    /// The object's bytes, little-endian, as long as its type.
    Bytes(Vec<u8>),
    /// The compiler dropped it here (no location, no location-list entry
    /// for this address, or an empty piece).
    OptimizedOut,
    /// It has a location, but the dump cannot answer it.
    Unavailable(EvalError),
}

/// A parameter or local variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub is_parameter: bool,
    pub ty: Type,
    pub value: VariableValue,
    /// Where the object lives in linear memory, when its location is a
    /// single memory address (what `&name` yields).
    pub address: Option<u64>,
}

impl Variable {
    /// The value as gdb prints it: `3`, `<optimized out>`, `<unavailable: …>`.
    pub fn display_value(&self, memory: Option<&Memory>) -> String {
        match &self.value {
            VariableValue::Bytes(bytes) => format_value(&self.ty, bytes, memory),
            VariableValue::OptimizedOut => "<optimized out>".into(),
            VariableValue::Unavailable(err) => err.to_string(),
        }
    }
}

/// One source frame and the variables in scope in it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameScope {
    pub frame: SourceFrame,
    pub variables: Vec<Variable>,
}

/// DWARF around an expression: base types and `.debug_addr`.
pub(crate) struct UnitContext<'a>(pub(crate) UnitRef<'a, Reader>);

impl ExpressionContext for UnitContext<'_> {
    fn base_type(&self, offset: UnitOffset<usize>) -> Option<gimli::ValueType> {
        types::base_value_type(self.0, offset)
    }

    fn indexed_address(&self, index: gimli::DebugAddrIndex<usize>) -> Option<u64> {
        self.0.address(index).ok()
    }
}

impl Symbolicator {
    /// The source frames at `location` (innermost first, as
    /// [`Symbolicator::symbolicate`] gives them), each with the parameters and
    /// locals in scope, evaluated against `state`.
    pub fn frame_variables(
        &self,
        location: CodeLocation,
        state: &dyn FrameState,
    ) -> Result<Vec<FrameScope>> {
        let frames = self.symbolicate(location)?;
        let (Some(dwarf), Ok(address)) =
            (self.dwarf_data(), self.layout().to_dwarf_address(location))
        else {
            return Ok(frames
                .into_iter()
                .map(|frame| FrameScope {
                    frame,
                    variables: Vec::new(),
                })
                .collect());
        };
        let unit = dwarf
            .context
            .find_dwarf_and_unit(address.0)
            .skip_all_loads();
        let Some(unit) = unit else {
            return Ok(frames
                .into_iter()
                .map(|frame| FrameScope {
                    frame,
                    variables: Vec::new(),
                })
                .collect());
        };
        let context = |e| Error::dwarf(format!("reading variables at {address}"), e);
        let style = type_style(unit);
        let unit_context = UnitContext(unit);

        // The physical function's frame base.
        let frame_base = match frames.last().and_then(|f| f.die) {
            Some(die) => {
                let entry = unit.entry(die).map_err(context)?;
                match entry.attr_value(gimli::DW_AT_frame_base) {
                    Some(value) => location_expression(unit, value, address.0)
                        .map_err(context)?
                        .map(|expr| eval::frame_base(&expr, unit.encoding(), state, &unit_context)),
                    None => None,
                }
            }
            None => None,
        };

        let mut scopes = Vec::with_capacity(frames.len());
        for frame in frames {
            let mut variables = Vec::new();
            if let Some(die) = frame.die {
                let mut dies = Vec::new();
                scope_variables(unit, die, address.0, &mut dies, 0).map_err(context)?;
                for (offset, is_parameter) in dies {
                    let entry = unit.entry(offset).map_err(context)?;
                    let Some(name) = resolved(unit, &entry, gimli::DW_AT_name, 0)
                        .and_then(|v| unit.attr_string(v).ok())
                        .and_then(|s| types::reader_string(&s))
                    else {
                        continue;
                    };
                    let type_offset = match resolved(unit, &entry, gimli::DW_AT_type, 0) {
                        Some(AttributeValue::UnitRef(o)) => Some(o),
                        _ => None,
                    };
                    let ty = types::decode(unit, type_offset, style);
                    let (value, place) = variable_value(
                        unit,
                        &entry,
                        &ty,
                        address.0,
                        frame_base.as_ref(),
                        state,
                        &unit_context,
                    )
                    .map_err(context)?;
                    variables.push(Variable {
                        name,
                        is_parameter,
                        ty,
                        value,
                        address: place,
                    });
                }
            }
            scopes.push(FrameScope { frame, variables });
        }
        Ok(scopes)
    }
}

/// How the unit's language spells type names.
pub(crate) fn type_style(unit: UnitRef<'_, Reader>) -> TypeStyle {
    let naming = UnitNaming::of(unit);
    match (naming.language, naming.prefer_source_name) {
        (NameLanguage::Rust, _) => TypeStyle::Rust,
        (_, true) => TypeStyle::C,
        _ => TypeStyle::Plain,
    }
}

/// An attribute of a DIE or, failing that, of its abstract origin or specification.
pub(crate) fn resolved(
    unit: UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    at: gimli::DwAt,
    depth: u32,
) -> Option<AttributeValue<Reader>> {
    if let Some(value) = entry.attr_value(at) {
        return Some(value);
    }
    if depth >= 8 {
        return None;
    }
    for origin_at in [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification] {
        if let Some(AttributeValue::UnitRef(offset)) = entry.attr_value(origin_at) {
            let origin = unit.entry(offset).ok()?;
            return resolved(unit, &origin, at, depth + 1);
        }
    }
    None
}

/// Offsets of the variables of the scope at `die`, descending into lexical
/// blocks that hold `address` (not into inlined subroutines: they are
/// frames of their own).
fn scope_variables(
    unit: UnitRef<'_, Reader>,
    die: UnitOffset<usize>,
    address: u64,
    out: &mut Vec<(UnitOffset<usize>, bool)>,
    depth: u32,
) -> gimli::Result<()> {
    if depth > 64 {
        return Ok(());
    }
    let mut tree = unit.entries_tree(Some(die))?;
    let root = tree.root()?;
    let mut children = root.children();
    let mut blocks = Vec::new();
    while let Some(child) = children.next()? {
        let entry = child.entry();
        match entry.tag() {
            gimli::DW_TAG_formal_parameter => out.push((entry.offset(), true)),
            gimli::DW_TAG_variable => out.push((entry.offset(), false)),
            gimli::DW_TAG_lexical_block => {
                let mut ranges = unit.die_ranges(entry)?;
                while let Some(range) = ranges.next()? {
                    if range.begin <= address && address < range.end {
                        blocks.push(entry.offset());
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    for block in blocks {
        scope_variables(unit, block, address, out, depth + 1)?;
    }
    Ok(())
}

/// The expression of a location attribute at `address`: the expression
/// itself, or the location-list entry covering the address (`None`: none does).
fn location_expression(
    unit: UnitRef<'_, Reader>,
    value: AttributeValue<Reader>,
    address: u64,
) -> gimli::Result<Option<Expression<Reader>>> {
    if let AttributeValue::Exprloc(expr) = value {
        return Ok(Some(expr));
    }
    let Some(mut list) = unit.attr_locations(value)? else {
        return Ok(None);
    };
    while let Some(entry) = list.next()? {
        if entry.range.begin <= address && address < entry.range.end {
            return Ok(Some(entry.data));
        }
    }
    Ok(None)
}

/// `DW_OP_WASM_location 0x0 N` (optionally `DW_OP_stack_value`) and nothing else.
fn plain_local(expr: &Expression<Reader>) -> Option<u32> {
    let mut r = expr.0.clone();
    if r.read_u8().ok()? != 0xed || r.read_u8().ok()? != 0 {
        return None;
    }
    let index = u32::try_from(r.read_uleb128().ok()?).ok()?;
    match r.len() {
        0 => Some(index),
        1 if r.read_u8().ok()? == gimli::DW_OP_stack_value.0 => Some(index),
        _ => None,
    }
}

/// A variable's location expression at `address`, with two corrections
/// for what Wasm producers get wrong, both decided from how the function's
/// code assigns the local (when the frame state knows it):
///
/// - a location-list entry naming a local that the code never reassigns
///   stays true after its range ends (clang and rustc at -O0 end the range
///   of a by-value aggregate's pointer parameter early; the local is never
///   reused), when no later entry takes over;
/// - a parameter said to live in its own local for the whole function is
///   not trusted once the code has written that local before the current
///   instruction (LLVM's local reuse does this without updating DWARF).
fn variable_location(
    unit: UnitRef<'_, Reader>,
    value: AttributeValue<Reader>,
    address: u64,
    state: &dyn FrameState,
    is_parameter: bool,
) -> gimli::Result<Option<Expression<Reader>>> {
    if let AttributeValue::Exprloc(expr) = value {
        if is_parameter
            && let Some(local) = plain_local(&expr)
            && let Some(writes) = state.local_writes(local)
            && writes.is_param
            && writes.before_pc > 0
        {
            return Ok(None);
        }
        return Ok(Some(expr));
    }
    let Some(mut list) = unit.attr_locations(value)? else {
        return Ok(None);
    };
    let mut last_before: Option<(u64, Expression<Reader>)> = None;
    let mut later = false;
    while let Some(entry) = list.next()? {
        if entry.range.begin <= address && address < entry.range.end {
            return Ok(Some(entry.data));
        }
        if entry.range.begin > address {
            later = true;
        } else if last_before
            .as_ref()
            .is_none_or(|(end, _)| entry.range.end > *end)
        {
            last_before = Some((entry.range.end, entry.data));
        }
    }
    if later {
        return Ok(None);
    }
    let Some((_, expr)) = last_before else {
        return Ok(None);
    };
    let stable = plain_local(&expr)
        .and_then(|local| state.local_writes(local))
        .is_some_and(|w| w.total == 0 || (w.total == 1 && !w.is_param && w.before_pc == 1));
    Ok(stable.then_some(expr))
}

/// The value of a variable DIE and, when it lives at one memory address, that address.
#[allow(clippy::too_many_arguments)]
pub(crate) fn variable_value(
    unit: UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    ty: &Type,
    address: u64,
    frame_base: Option<&std::result::Result<u64, EvalError>>,
    state: &dyn FrameState,
    context: &dyn ExpressionContext,
) -> gimli::Result<(VariableValue, Option<u64>)> {
    let mut place = None;
    let value = value_and_place(
        unit, entry, ty, address, frame_base, state, context, &mut place,
    )?;
    Ok((value, place))
}

#[allow(clippy::too_many_arguments)]
fn value_and_place(
    unit: UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    ty: &Type,
    address: u64,
    frame_base: Option<&std::result::Result<u64, EvalError>>,
    state: &dyn FrameState,
    context: &dyn ExpressionContext,
    address_out: &mut Option<u64>,
) -> gimli::Result<VariableValue> {
    let size = ty.size;
    if let Some(value) = entry.attr_value(gimli::DW_AT_location) {
        let is_parameter = entry.tag() == gimli::DW_TAG_formal_parameter;
        let Some(expr) = variable_location(unit, value, address, state, is_parameter)? else {
            return Ok(VariableValue::OptimizedOut);
        };
        // A discarded static: DW_OP_addr with a tombstone.
        let base = match frame_base {
            Some(Ok(base)) => Some(*base),
            _ => None,
        };
        let pieces = match eval::evaluate(&expr, unit.encoding(), base, state, context) {
            Ok(pieces) => pieces,
            Err(EvalError::NoFrameBase) => {
                return Ok(VariableValue::Unavailable(match frame_base {
                    Some(Err(err)) => err.clone(),
                    _ => EvalError::NoFrameBase,
                }));
            }
            Err(err) => return Ok(VariableValue::Unavailable(err)),
        };
        if pieces.iter().all(|p| p.place == eval::Place::Empty) {
            return Ok(VariableValue::OptimizedOut);
        }
        if let [
            eval::Piece {
                place: eval::Place::Memory(at),
                size_in_bits: None,
                ..
            },
        ] = pieces.as_slice()
        {
            *address_out = Some(*at);
        }
        if pieces
            .iter()
            .any(|p| matches!(p.place, eval::Place::Memory(a) if a >= 0xffff_fffe))
        {
            return Ok(VariableValue::OptimizedOut);
        }
        let Some(size) = size else {
            return Ok(VariableValue::Unavailable(EvalError::Malformed(format!(
                "type `{}` has no size",
                ty.name
            ))));
        };
        return Ok(match eval::read_pieces(&pieces, size, state) {
            Ok(Some(bytes)) => VariableValue::Bytes(bytes),
            Ok(None) => VariableValue::OptimizedOut,
            Err(err) => VariableValue::Unavailable(err),
        });
    }
    let Some(constant) = resolved(unit, entry, gimli::DW_AT_const_value, 0) else {
        return Ok(VariableValue::OptimizedOut);
    };
    let width = size
        .and_then(|s| usize::try_from(s).ok())
        .unwrap_or(8)
        .min(1 << 20);
    let fixed = |v: u64| {
        let mut bytes = v.to_le_bytes().to_vec();
        bytes.resize(width, if (v as i64) < 0 { 0xff } else { 0 });
        bytes.truncate(width);
        bytes
    };
    Ok(match constant {
        AttributeValue::Sdata(v) => VariableValue::Bytes(fixed(v as u64)),
        AttributeValue::Udata(v) => VariableValue::Bytes({
            let mut b = v.to_le_bytes().to_vec();
            b.resize(width, 0);
            b.truncate(width);
            b
        }),
        AttributeValue::Data1(v) => VariableValue::Bytes(fixed(u64::from(v))),
        AttributeValue::Data2(v) => VariableValue::Bytes(fixed(u64::from(v))),
        AttributeValue::Data4(v) => VariableValue::Bytes(fixed(u64::from(v))),
        AttributeValue::Data8(v) => VariableValue::Bytes(fixed(v)),
        AttributeValue::Block(block) => VariableValue::Bytes(block.to_slice()?.into_owned()),
        other => VariableValue::Unavailable(EvalError::Unsupported(format!(
            "constant of form {other:?}"
        ))),
    })
}
