//! Evaluating parsed expressions against a dumped frame.
//!
//! Values are typed bytes, plus the linear-memory address when they are
//! lvalues (so `&x`, `x.f` of a memory object and `x/` work). Memory reads
//! go through the dump's bounds-checked API; objects larger than
//! [`MAX_VALUE_SIZE`] are refused, as gdb's `max-value-size` does.

use wasm_coredump::Memory;
use wasm_symbolicate::variables::{Member, Type, TypeKind};

use super::parse::{BinOp, Expr, TypeName, UnOp};
use crate::error::{Result, bail};

/// The largest object `print` reads (gdb's `max-value-size` default).
pub const MAX_VALUE_SIZE: u64 = 65536;

/// A value's contents.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Little-endian bytes, as long as the type.
    Bytes(Vec<u8>),
    /// No value: `<optimized out>`, `<unavailable: …>`.
    Missing(String),
}

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj {
    pub ty: Type,
    pub data: Data,
    /// Where it lives in linear memory, when it does.
    pub address: Option<u64>,
}

/// What evaluation needs from the session.
pub trait Env {
    /// A variable in scope, or a static.
    fn variable(&self, name: &str) -> Result<Option<Obj>>;
    /// `$…` names: history, Wasm locals/globals/stack, registers.
    fn dollar(&self, name: &str) -> Result<Obj>;
    /// A named type from the program's DWARF (not the C builtins).
    fn find_type(&self, name: &str) -> Result<Option<Type>>;
    fn memory(&self) -> Option<&Memory>;
}

pub fn base_type(name: &str, encoding: gimli::DwAte, size: u64) -> Type {
    Type {
        name: name.to_string(),
        size: Some(size),
        kind: TypeKind::Base { encoding },
    }
}

/// The C and Rust builtin type names.
pub fn builtin_type(name: &str) -> Option<Type> {
    use gimli::{DW_ATE_boolean as B, DW_ATE_float as F, DW_ATE_signed as S, DW_ATE_unsigned as U};
    let (enc, size) = match name {
        "char" | "signed char" => (gimli::DW_ATE_signed_char, 1),
        "unsigned char" => (gimli::DW_ATE_unsigned_char, 1),
        "short" | "short int" | "signed short" | "i16" => (S, 2),
        "unsigned short" | "unsigned short int" | "u16" => (U, 2),
        "int" | "signed" | "signed int" | "i32" | "long" | "long int" | "isize" => (S, 4),
        "unsigned" | "unsigned int" | "u32" | "unsigned long" | "usize" => (U, 4),
        "long long" | "long long int" | "i64" => (S, 8),
        "unsigned long long" | "u64" => (U, 8),
        "i8" => (S, 1),
        "u8" => (U, 1),
        "float" | "f32" => (F, 4),
        "double" | "f64" => (F, 8),
        "_Bool" | "bool" => (B, 1),
        "void" => return Some(Type::void()),
        _ => return None,
    };
    Some(base_type(name, enc, size))
}

pub fn pointer_to(target: Type) -> Type {
    let name = if target.name.ends_with('*') {
        format!("{}*", target.name)
    } else {
        format!("{} *", target.name)
    };
    Type {
        name,
        size: Some(4),
        kind: TypeKind::Pointer {
            pointee: (target.kind != TypeKind::Void).then(|| Box::new(target)),
        },
    }
}

fn int_type(size: u64, signed: bool) -> Type {
    match (size > 4, signed) {
        (false, true) => base_type("int", gimli::DW_ATE_signed, 4),
        (false, false) => base_type("unsigned int", gimli::DW_ATE_unsigned, 4),
        (true, true) => base_type("long long", gimli::DW_ATE_signed, 8),
        (true, false) => base_type("unsigned long long", gimli::DW_ATE_unsigned, 8),
    }
}

fn double_type() -> Type {
    base_type("double", gimli::DW_ATE_float, 8)
}

impl Obj {
    pub fn from_int(value: i128, ty: Type) -> Obj {
        let size = ty.size.unwrap_or(4).min(16) as usize;
        let bytes = value.to_le_bytes()[..size].to_vec();
        Obj {
            ty,
            data: Data::Bytes(bytes),
            address: None,
        }
    }

    fn from_f64(value: f64, ty: Type) -> Obj {
        let bytes = if ty.size == Some(4) {
            (value as f32).to_le_bytes().to_vec()
        } else {
            value.to_le_bytes().to_vec()
        };
        Obj {
            ty,
            data: Data::Bytes(bytes),
            address: None,
        }
    }

    pub fn bytes(&self) -> Result<&[u8]> {
        match &self.data {
            Data::Bytes(b) => Ok(b),
            Data::Missing(why) => {
                if why.contains("optimized out") {
                    bail!("value has been optimized out");
                }
                bail!("value is not available: {why}");
            }
        }
    }
}

/// A scalar view of a value.
#[derive(Debug, Clone)]
enum Scalar {
    Int {
        value: i128,
        size: u64,
        signed: bool,
    },
    Float(f64),
    Ptr {
        address: u64,
        ty: Type,
    },
}

fn le_int(bytes: &[u8], signed: bool) -> i128 {
    let n = bytes.len().min(16);
    let mut buf = [0u8; 16];
    buf[..n].copy_from_slice(&bytes[..n]);
    let raw = i128::from_le_bytes(buf);
    if signed && n > 0 && n < 16 {
        let shift = 128 - 8 * n as u32;
        (raw << shift) >> shift
    } else {
        raw
    }
}

/// Whether values of this type are signed integers.
pub fn is_signed(ty: &Type) -> bool {
    match &ty.kind {
        TypeKind::Base { encoding } => {
            matches!(*encoding, gimli::DW_ATE_signed | gimli::DW_ATE_signed_char)
        }
        TypeKind::Enum { signed, .. } => *signed,
        _ => false,
    }
}

fn scalar(obj: &Obj) -> Result<Scalar> {
    let bytes = obj.bytes()?;
    Ok(match &obj.ty.kind {
        TypeKind::Base { encoding } if *encoding == gimli::DW_ATE_float => match bytes.len() {
            4 => Scalar::Float(f64::from(f32::from_le_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3],
            ]))),
            8 => Scalar::Float(f64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))),
            n => bail!("cannot compute with a {n}-byte float"),
        },
        TypeKind::Base { .. } | TypeKind::Enum { .. } => Scalar::Int {
            value: le_int(bytes, is_signed(&obj.ty)),
            size: bytes.len() as u64,
            signed: is_signed(&obj.ty),
        },
        TypeKind::Pointer { .. } => Scalar::Ptr {
            address: le_int(bytes, false) as u64,
            ty: obj.ty.clone(),
        },
        _ => bail!("Argument to arithmetic operation not a number or boolean."),
    })
}

fn truthy(s: &Scalar) -> bool {
    match s {
        Scalar::Int { value, .. } => *value != 0,
        Scalar::Float(f) => *f != 0.0,
        Scalar::Ptr { address, .. } => *address != 0,
    }
}

/// Evaluates `expr`.
pub fn evaluate(expr: &Expr, env: &dyn Env) -> Result<Obj> {
    Evaluator { env, depth: 0 }.eval(expr)
}

/// Resolves a cast's type name.
pub fn resolve_type(name: &TypeName, env: &dyn Env) -> Result<Type> {
    let base = match builtin_type(&name.base) {
        Some(t) => t,
        None => match env.find_type(&name.base)? {
            Some(t) => t,
            None => bail!("No symbol \"{}\" in current context.", name.base),
        },
    };
    let mut ty = base;
    for _ in 0..name.pointers {
        ty = pointer_to(ty);
    }
    Ok(ty)
}

struct Evaluator<'a> {
    env: &'a dyn Env,
    depth: u32,
}

impl Evaluator<'_> {
    fn eval(&mut self, expr: &Expr) -> Result<Obj> {
        self.depth += 1;
        if self.depth > 200 {
            bail!("expression nested too deeply");
        }
        let out = self.eval_inner(expr);
        self.depth -= 1;
        out
    }

    fn eval_inner(&mut self, expr: &Expr) -> Result<Obj> {
        match expr {
            Expr::Int(v) => {
                let ty = if i32::try_from(*v).is_ok() {
                    int_type(4, true)
                } else if i64::try_from(*v).is_ok() {
                    int_type(8, true)
                } else {
                    int_type(8, false)
                };
                Ok(Obj::from_int(*v, ty))
            }
            Expr::Float(f) => Ok(Obj::from_f64(*f, double_type())),
            Expr::Char(c) => Ok(Obj::from_int(
                i128::from(*c),
                base_type("char", gimli::DW_ATE_signed_char, 1),
            )),
            Expr::Str(s) => {
                let mut bytes = s.clone();
                bytes.push(0);
                let element = base_type("char", gimli::DW_ATE_signed_char, 1);
                Ok(Obj {
                    ty: Type {
                        name: format!("char [{}]", bytes.len()),
                        size: Some(bytes.len() as u64),
                        kind: TypeKind::Array {
                            element: Box::new(element),
                            count: Some(bytes.len() as u64),
                        },
                    },
                    data: Data::Bytes(bytes),
                    address: None,
                })
            }
            Expr::Name(name) => match self.env.variable(name)? {
                Some(obj) => Ok(obj),
                None => bail!("No symbol \"{name}\" in current context."),
            },
            Expr::Dollar(name) => self.env.dollar(name),
            Expr::Member(base, field) => {
                let base = self.eval(base)?;
                // gdb lets `.` reach through pointers (Zig and Rust references too).
                let base = if matches!(base.ty.kind, TypeKind::Pointer { .. }) {
                    self.deref(&base)?
                } else {
                    base
                };
                self.member(&base, field)
            }
            Expr::Arrow(base, field) => {
                let base = self.eval(base)?;
                match base.ty.kind {
                    TypeKind::Pointer { .. } => {
                        let target = self.deref(&base)?;
                        self.member(&target, field)
                    }
                    TypeKind::Struct { .. } | TypeKind::Union { .. } => self.member(&base, field),
                    _ => bail!(
                        "The -> operator must be applied to a pointer or struct, not `{}'.",
                        base.ty.name
                    ),
                }
            }
            Expr::Index(base, index) => {
                let base = self.eval(base)?;
                let index = self.eval(index)?;
                let Scalar::Int { value, .. } = scalar(&index)? else {
                    bail!("Array index must be an integer.");
                };
                self.index(&base, value)
            }
            Expr::Unary(op, operand) => self.unary(*op, operand),
            Expr::Binary(op, a, b) => {
                let a = self.eval(a)?;
                if matches!(op, BinOp::And | BinOp::Or) {
                    let left = truthy(&scalar(&a)?);
                    let result = match (op, left) {
                        (BinOp::And, false) => false,
                        (BinOp::Or, true) => true,
                        _ => truthy(&scalar(&self.eval(b)?)?),
                    };
                    return Ok(Obj::from_int(i128::from(result), int_type(4, true)));
                }
                let b = self.eval(b)?;
                binary(*op, &a, &b)
            }
            Expr::Cast(name, operand) => {
                let ty = resolve_type(name, self.env)?;
                let value = self.eval(operand)?;
                self.cast(value, ty)
            }
            Expr::SizeofType(name) => {
                let ty = resolve_type(name, self.env)?;
                let Some(size) = ty.size else {
                    bail!("The size of `{}' is not known.", ty.name);
                };
                Ok(Obj::from_int(i128::from(size), int_type(4, false)))
            }
            Expr::Repeat(base, count) => {
                let base = self.eval(base)?;
                let Scalar::Int { value: count, .. } = scalar(&self.eval(count)?)? else {
                    bail!("Only values in memory can be extended with '@'.");
                };
                let Some(address) = base.address else {
                    bail!("Only values in memory can be extended with '@'.");
                };
                if count <= 0 {
                    bail!("Non-positive repeat count.");
                }
                let element = base.ty.clone();
                let size = element.size.unwrap_or(0);
                let count = u64::try_from(count).unwrap_or(u64::MAX);
                let total = size.saturating_mul(count);
                let ty = Type {
                    name: format!("{} [{count}]", element.name),
                    size: Some(total),
                    kind: TypeKind::Array {
                        element: Box::new(element),
                        count: Some(count),
                    },
                };
                self.read(ty, address)
            }
        }
    }

    fn read(&self, ty: Type, address: u64) -> Result<Obj> {
        let Some(size) = ty.size else {
            bail!(
                "Cannot read a value of type `{}': its size is unknown.",
                ty.name
            );
        };
        if size > MAX_VALUE_SIZE {
            bail!("value requires {size} bytes, which is more than max-value-size");
        }
        let Some(memory) = self.env.memory() else {
            bail!("Cannot access memory at address {address:#x}: the dump has no linear memory");
        };
        match memory.read(address, size as usize) {
            Ok(bytes) => Ok(Obj {
                ty,
                data: Data::Bytes(bytes),
                address: Some(address),
            }),
            Err(_) => bail!("Cannot access memory at address {address:#x}"),
        }
    }

    /// The full definition of a type that DWARF decoding cut short.
    fn complete(&self, ty: Type) -> Result<Type> {
        if ty.kind == TypeKind::Opaque
            && let Some(found) = self.env.find_type(&ty.name)?
            && found.kind != TypeKind::Opaque
        {
            return Ok(found);
        }
        Ok(ty)
    }

    fn deref(&self, obj: &Obj) -> Result<Obj> {
        let TypeKind::Pointer { pointee } = &obj.ty.kind else {
            bail!("Attempt to take contents of a non-pointer value.");
        };
        let Some(pointee) = pointee else {
            bail!("Attempt to take contents of a non-pointer value.");
        };
        let pointee = self.complete((**pointee).clone())?;
        let address = le_int(obj.bytes()?, false) as u64;
        self.read(pointee, address)
    }

    fn member(&self, obj: &Obj, field: &str) -> Result<Obj> {
        let ty = self.complete(obj.ty.clone())?;
        let members: &[Member] = match &ty.kind {
            TypeKind::Struct { members } | TypeKind::Union { members } => members,
            _ => bail!("Attempt to extract a component of a value that is not a structure."),
        };
        // Rust tuple fields are named __0, __1.
        let found = members.iter().find(|m| {
            m.name.as_deref() == Some(field) || m.name.as_deref() == Some(&format!("__{field}"))
        });
        let Some(member) = found else {
            bail!("There is no member named {field}.");
        };
        let size = member.ty.size.unwrap_or(0);
        let bytes = obj.bytes()?;
        let start = usize::try_from(member.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
        let data = match bytes.get(start..end) {
            Some(b) => {
                let mut b = b.to_vec();
                if let Some(bits) = member.bit_size {
                    let raw = le_int(&b, false) as u128;
                    let shift = member.bit_offset.unwrap_or(0) % 64;
                    let mask = if bits >= 64 {
                        u128::MAX
                    } else {
                        (1u128 << bits) - 1
                    };
                    let v = (raw >> shift) & mask;
                    b = v.to_le_bytes()[..b.len().min(16)].to_vec();
                }
                Data::Bytes(b)
            }
            None => bail!("member {field} lies outside the object"),
        };
        Ok(Obj {
            ty: member.ty.clone(),
            data,
            address: obj.address.map(|a| a + member.offset),
        })
    }

    fn index(&self, base: &Obj, index: i128) -> Result<Obj> {
        match &base.ty.kind {
            TypeKind::Array { element, .. } => {
                let element = self.complete((**element).clone())?;
                let size = element.size.unwrap_or(0);
                let offset = index.checked_mul(i128::from(size));
                let Some(offset) = offset else {
                    bail!("array index out of range");
                };
                if let Some(address) = base.address {
                    let Some(at) = offset
                        .checked_add(i128::from(address))
                        .and_then(|a| u64::try_from(a).ok())
                    else {
                        bail!("Cannot access memory: index {index} is out of range");
                    };
                    return self.read(element, at);
                }
                let bytes = base.bytes()?;
                let start = usize::try_from(offset).ok();
                let slice = start.and_then(|s| bytes.get(s..s.checked_add(size as usize)?));
                match slice {
                    Some(b) => Ok(Obj {
                        ty: element,
                        data: Data::Bytes(b.to_vec()),
                        address: None,
                    }),
                    None => bail!("no such vector element"),
                }
            }
            // A pointer (Rust reference) to an array indexes the array.
            TypeKind::Pointer {
                pointee: Some(pointee),
            } if matches!(pointee.kind, TypeKind::Array { .. }) => {
                let array = self.deref(base)?;
                self.index(&array, index)
            }
            TypeKind::Pointer {
                pointee: Some(pointee),
            } => {
                let element = self.complete((**pointee).clone())?;
                let size = element.size.unwrap_or(0);
                let address = le_int(base.bytes()?, false);
                let Some(at) = index
                    .checked_mul(i128::from(size))
                    .and_then(|o| o.checked_add(address))
                    .and_then(|a| u64::try_from(a).ok())
                else {
                    bail!("Cannot access memory: index {index} is out of range");
                };
                self.read(element, at)
            }
            TypeKind::Struct { members } => {
                // Slices: {data_ptr, length} (Rust), {ptr, len} (Zig).
                let ptr = members
                    .iter()
                    .find(|m| matches!(m.name.as_deref(), Some("data_ptr" | "ptr")));
                match ptr {
                    Some(m) => {
                        let name = m.name.clone().unwrap_or_default();
                        let pointer = self.member(base, &name)?;
                        self.index(&pointer, index)
                    }
                    None => bail!("cannot subscript something of type `{}'", base.ty.name),
                }
            }
            _ => bail!("cannot subscript something of type `{}'", base.ty.name),
        }
    }

    fn unary(&mut self, op: UnOp, operand: &Expr) -> Result<Obj> {
        let value = self.eval(operand)?;
        match op {
            UnOp::Deref => match &value.ty.kind {
                TypeKind::Pointer { .. } => self.deref(&value),
                TypeKind::Array { .. } => self.index(&value, 0),
                TypeKind::Base { .. } => {
                    // gdb reads an int through `*` as an int at that address.
                    let address = le_int(value.bytes()?, false) as u64;
                    self.read(int_type(4, true), address)
                }
                _ => bail!("Attempt to take contents of a non-pointer value."),
            },
            UnOp::AddrOf => {
                let Some(address) = value.address else {
                    bail!("Attempt to take address of value not located in memory.");
                };
                Ok(Obj::from_int(i128::from(address), pointer_to(value.ty)))
            }
            UnOp::Sizeof => {
                let Some(size) = value.ty.size else {
                    bail!("The size of `{}' is not known.", value.ty.name);
                };
                Ok(Obj::from_int(i128::from(size), int_type(4, false)))
            }
            UnOp::Neg | UnOp::Not | UnOp::BitNot => {
                let s = scalar(&value)?;
                Ok(match (op, s) {
                    (UnOp::Not, s) => Obj::from_int(i128::from(!truthy(&s)), int_type(4, true)),
                    (UnOp::Neg, Scalar::Float(f)) => Obj::from_f64(-f, double_type()),
                    (
                        UnOp::Neg,
                        Scalar::Int {
                            value,
                            size,
                            signed,
                        },
                    ) => {
                        let ty = int_type(size, signed);
                        Obj::from_int(value.wrapping_neg(), ty)
                    }
                    (
                        UnOp::BitNot,
                        Scalar::Int {
                            value,
                            size,
                            signed,
                        },
                    ) => Obj::from_int(!value, int_type(size, signed)),
                    _ => bail!("Argument to arithmetic operation not a number or boolean."),
                })
            }
        }
    }

    fn cast(&self, value: Obj, ty: Type) -> Result<Obj> {
        match &ty.kind {
            TypeKind::Pointer { .. } | TypeKind::Base { .. } | TypeKind::Enum { .. } => {}
            TypeKind::Void => {
                return Ok(Obj {
                    ty,
                    data: Data::Bytes(Vec::new()),
                    address: None,
                });
            }
            _ => {
                // Reinterpreting an object in memory as another type.
                if let Some(address) = value.address {
                    return self.read(ty, address);
                }
                bail!("Invalid cast.");
            }
        }
        let s = match &value.ty.kind {
            TypeKind::Array { .. } => match value.address {
                Some(address) => Scalar::Ptr {
                    address,
                    ty: value.ty.clone(),
                },
                None => bail!("Invalid cast."),
            },
            _ => scalar(&value)?,
        };
        let is_float =
            matches!(ty.kind, TypeKind::Base { encoding } if encoding == gimli::DW_ATE_float);
        Ok(match s {
            Scalar::Float(f) if is_float => Obj::from_f64(f, ty),
            Scalar::Float(f) => Obj::from_int(f as i128, ty),
            Scalar::Int { value, .. } if is_float => Obj::from_f64(value as f64, ty),
            Scalar::Int { value, .. } => Obj::from_int(value, ty),
            Scalar::Ptr { address, .. } => Obj::from_int(i128::from(address), ty),
        })
    }
}

fn binary(op: BinOp, a: &Obj, b: &Obj) -> Result<Obj> {
    let (sa, sb) = (scalar(a)?, scalar(b)?);
    use Scalar::*;
    let compare = |ord: std::cmp::Ordering| -> Option<bool> {
        Some(match op {
            BinOp::Lt => ord.is_lt(),
            BinOp::Gt => ord.is_gt(),
            BinOp::Le => ord.is_le(),
            BinOp::Ge => ord.is_ge(),
            BinOp::Eq => ord.is_eq(),
            BinOp::Ne => ord.is_ne(),
            _ => return None,
        })
    };
    let boolean = |b: bool| Obj::from_int(i128::from(b), int_type(4, true));
    match (&sa, &sb) {
        (Ptr { address, ty }, Int { value, .. }) | (Int { value, .. }, Ptr { address, ty })
            if matches!(op, BinOp::Add | BinOp::Sub) =>
        {
            if matches!(sb, Ptr { .. }) && op == BinOp::Sub {
                bail!("Argument to arithmetic operation not a number or boolean.");
            }
            let step = match &ty.kind {
                TypeKind::Pointer { pointee: Some(p) } => p.size.unwrap_or(1),
                _ => 1,
            };
            let delta = value.wrapping_mul(i128::from(step));
            let result = if op == BinOp::Add {
                i128::from(*address).wrapping_add(delta)
            } else {
                i128::from(*address).wrapping_sub(delta)
            };
            Ok(Obj::from_int(result & 0xffff_ffff, ty.clone()))
        }
        (Ptr { address: x, ty }, Ptr { address: y, .. }) => {
            if let Some(r) = compare(x.cmp(y)) {
                return Ok(boolean(r));
            }
            if op == BinOp::Sub {
                let step = match &ty.kind {
                    TypeKind::Pointer { pointee: Some(p) } => p.size.unwrap_or(1).max(1),
                    _ => 1,
                };
                let diff = (i128::from(*x) - i128::from(*y)) / i128::from(step);
                return Ok(Obj::from_int(diff, int_type(8, true)));
            }
            bail!("Argument to arithmetic operation not a number or boolean.")
        }
        (Float(_), _) | (_, Float(_)) => {
            let f = |s: &Scalar| match s {
                Float(f) => *f,
                Int { value, .. } => *value as f64,
                Ptr { address, .. } => *address as f64,
            };
            let (x, y) = (f(&sa), f(&sb));
            if let Some(r) = compare(x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Less)) {
                return Ok(boolean(r));
            }
            let v = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => bail!("Integer only operation."),
            };
            Ok(Obj::from_f64(v, double_type()))
        }
        _ => {
            let int = |s: &Scalar| match s {
                Int {
                    value,
                    size,
                    signed,
                } => (*value, *size, *signed),
                Ptr { address, .. } => (i128::from(*address), 4, false),
                Float(f) => (*f as i128, 8, true),
            };
            let (x, xs, xsigned) = int(&sa);
            let (y, ys, ysigned) = int(&sb);
            if let Some(r) = compare(x.cmp(&y)) {
                return Ok(boolean(r));
            }
            let size = xs.max(ys).max(4);
            // C's usual conversions: unsigned wins at equal width.
            let signed = match xs.max(4).cmp(&ys.max(4)) {
                std::cmp::Ordering::Greater => xsigned,
                std::cmp::Ordering::Less => ysigned,
                std::cmp::Ordering::Equal => xsigned && ysigned,
            };
            let v = match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                BinOp::Mul => x.wrapping_mul(y),
                BinOp::Div | BinOp::Rem if y == 0 => bail!("Division by zero"),
                BinOp::Div => x.wrapping_div(y),
                BinOp::Rem => x.wrapping_rem(y),
                BinOp::Shl => x.wrapping_shl((y & 127) as u32),
                BinOp::Shr => x.wrapping_shr((y & 127) as u32),
                BinOp::BitAnd => x & y,
                BinOp::BitOr => x | y,
                BinOp::BitXor => x ^ y,
                _ => bail!("unsupported operator"),
            };
            Ok(Obj::from_int(v, int_type(size, signed)))
        }
    }
}
