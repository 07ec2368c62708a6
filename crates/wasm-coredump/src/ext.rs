//! Our extension custom sections, for the facts the core-dump spec has no field for.
//!
//! Readers that do not know them skip them, as with any custom section.
//! All start with a 0x00 version byte; `name` is a varuint32 length plus UTF-8.
//!
//! ```text
//! postmortem.trap     ::= 0x0 kind:name message:name
//! postmortem.modules  ::= 0x0 vec(moduleidx:u32 build_id:vec(byte) path:name)   ; empty = unknown
//! postmortem.info     ::= 0x0 vec(key:name value:name)
//! postmortem.excluded ::= 0x0 vec(memidx:u32 start:u64 len:u64)
//! ```

use wasmparser::BinaryReader;

use crate::ParseError;
use crate::model::{TrapInfo, TrapKind};
use crate::read::expect_zero;

pub const TRAP_SECTION: &str = "postmortem.trap";
pub const MODULES_SECTION: &str = "postmortem.modules";
pub const INFO_SECTION: &str = "postmortem.info";
pub const EXCLUDED_SECTION: &str = "postmortem.excluded";

pub(crate) struct ModuleMeta {
    pub module: u32,
    pub build_id: Option<Vec<u8>>,
    pub path: Option<String>,
}

pub(crate) struct Excluded {
    pub memory: u32,
    pub start: u64,
    pub len: u64,
}

fn finish<T>(reader: &BinaryReader<'_>, section: &str, value: T) -> Result<T, ParseError> {
    if reader.eof() {
        Ok(value)
    } else {
        Err(ParseError::new(
            reader.original_position(),
            format!("trailing bytes at end of {section} section"),
        ))
    }
}

fn read_count(reader: &mut BinaryReader<'_>) -> Result<u32, ParseError> {
    let at = reader.original_position();
    let count = reader.read_var_u32()?;
    if count as usize > reader.bytes_remaining() {
        return Err(ParseError::new(
            at,
            format!("count {count} is larger than the rest of the section"),
        ));
    }
    Ok(count)
}

pub(crate) fn read_trap(mut reader: BinaryReader<'_>) -> Result<TrapInfo, ParseError> {
    expect_zero(&mut reader, TRAP_SECTION)?;
    let kind = reader.read_unlimited_string()?;
    let message = reader.read_unlimited_string()?.to_string();
    let kind: TrapKind = match kind.parse() {
        Ok(kind) => kind,
        Err(never) => match never {},
    };
    finish(&reader, TRAP_SECTION, TrapInfo { kind, message })
}

pub(crate) fn read_modules(mut reader: BinaryReader<'_>) -> Result<Vec<ModuleMeta>, ParseError> {
    expect_zero(&mut reader, MODULES_SECTION)?;
    let count = read_count(&mut reader)?;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let module = reader.read_var_u32()?;
        let id_len = read_count(&mut reader)? as usize;
        let id = reader.read_bytes(id_len)?.to_vec();
        let path = reader.read_unlimited_string()?;
        out.push(ModuleMeta {
            module,
            build_id: (!id.is_empty()).then_some(id),
            path: (!path.is_empty()).then(|| path.to_string()),
        });
    }
    finish(&reader, MODULES_SECTION, out)
}

pub(crate) fn read_info(mut reader: BinaryReader<'_>) -> Result<Vec<(String, String)>, ParseError> {
    expect_zero(&mut reader, INFO_SECTION)?;
    let count = read_count(&mut reader)?;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let key = reader.read_unlimited_string()?.to_string();
        let value = reader.read_unlimited_string()?.to_string();
        out.push((key, value));
    }
    finish(&reader, INFO_SECTION, out)
}

pub(crate) fn read_excluded(mut reader: BinaryReader<'_>) -> Result<Vec<Excluded>, ParseError> {
    expect_zero(&mut reader, EXCLUDED_SECTION)?;
    let count = read_count(&mut reader)?;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let memory = reader.read_var_u32()?;
        let start = reader.read_var_u64()?;
        let len = reader.read_var_u64()?;
        out.push(Excluded { memory, start, len });
    }
    finish(&reader, EXCLUDED_SECTION, out)
}

/// Encoders for the same sections, used by the writer.
pub(crate) mod encode {
    use crate::build_id::write_var_u32;

    pub fn name(out: &mut Vec<u8>, s: &str) {
        write_var_u32(out, s.len() as u32);
        out.extend_from_slice(s.as_bytes());
    }

    pub fn var_u64(out: &mut Vec<u8>, mut value: u64) {
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

    pub fn u32(out: &mut Vec<u8>, value: u32) {
        write_var_u32(out, value);
    }
}
