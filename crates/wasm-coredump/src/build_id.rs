//! The `build_id` and `external_debug_info` custom sections, and appending
//! custom sections to a module without touching its other bytes.

use std::fmt;

use crate::ParseError;

/// Name of the tool-conventions build id section.
pub const BUILD_ID_SECTION: &str = "build_id";
/// Name of the tool-conventions section pointing at a separate debug file.
pub const EXTERNAL_DEBUG_INFO_SECTION: &str = "external_debug_info";

/// A module's build id: the raw id bytes (16 for a UUID, as lld writes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuildId(Vec<u8>);

impl BuildId {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        BuildId(bytes.into())
    }

    pub fn from_uuid(uuid: uuid::Uuid) -> Self {
        BuildId(uuid.as_bytes().to_vec())
    }

    /// Parses a `build_id` section payload.
    ///
    /// The standard form is a varuint32 length then that many bytes. Some
    /// writers store the id bytes with no length; a payload that is not exactly
    /// a length plus that many bytes is read that way.
    pub fn from_section_payload(payload: &[u8], offset: usize) -> Result<Self, ParseError> {
        if payload.is_empty() {
            return Err(ParseError::new(offset, "empty build_id section"));
        }
        let mut reader = wasmparser::BinaryReader::new(payload, offset);
        if let Ok(len) = reader.read_var_u32() {
            let rest = reader.bytes_remaining();
            if rest == len as usize && len > 0 {
                let start = payload.len() - rest;
                return Ok(BuildId(payload[start..].to_vec()));
            }
        }
        Ok(BuildId(payload.to_vec()))
    }

    /// The standard section payload: varuint32 length then the bytes.
    pub fn to_section_payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + 5);
        write_var_u32(&mut out, self.0.len() as u32);
        out.extend_from_slice(&self.0);
        out
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id as a UUID, when it is 16 bytes long.
    pub fn as_uuid(&self) -> Option<uuid::Uuid> {
        uuid::Uuid::from_slice(&self.0).ok()
    }

    /// The debug id Sentry computes for this module: the first 16 bytes of the
    /// raw section payload, length prefix included (zero-padded).
    pub fn sentry_debug_id(&self) -> uuid::Uuid {
        let payload = self.to_section_payload();
        let mut bytes = [0u8; 16];
        let n = payload.len().min(16);
        bytes[..n].copy_from_slice(&payload[..n]);
        uuid::Uuid::from_bytes(bytes)
    }

    /// Parses the textual form: a UUID (with or without dashes) or any even-length hex string.
    pub fn parse(text: &str) -> Option<Self> {
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        if hex.is_empty()
            || !hex.len().is_multiple_of(2)
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()?;
        Some(BuildId(bytes))
    }

    /// Lower-case hex with no separators; safe as a file or URL path component.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for BuildId {
    /// A UUID prints hyphenated; any other length as plain hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_uuid() {
            Some(uuid) => write!(f, "{}", uuid.hyphenated()),
            None => f.write_str(&self.to_hex()),
        }
    }
}

impl fmt::Debug for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildId({self})")
    }
}

/// Parses an `external_debug_info` payload: a varuint32 length then a UTF-8 URL.
pub fn parse_external_debug_info(payload: &[u8], offset: usize) -> Result<String, ParseError> {
    let mut reader = wasmparser::BinaryReader::new(payload, offset);
    let url = reader.read_unlimited_string()?;
    if !reader.eof() {
        return Err(ParseError::new(
            reader.original_position(),
            "trailing bytes after the external_debug_info URL",
        ));
    }
    Ok(url.to_string())
}

/// Encodes an `external_debug_info` payload.
pub fn external_debug_info_payload(url: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(url.len() + 5);
    write_var_u32(&mut out, url.len() as u32);
    out.extend_from_slice(url.as_bytes());
    out
}

/// Appends a custom section to an encoded module, leaving every existing byte as it is.
pub fn append_custom_section(module: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut name_field = Vec::with_capacity(name.len() + 5);
    write_var_u32(&mut name_field, name.len() as u32);
    name_field.extend_from_slice(name.as_bytes());
    module.push(0); // custom section id
    write_var_u32(&mut *module, (name_field.len() + payload.len()) as u32);
    module.extend_from_slice(&name_field);
    module.extend_from_slice(payload);
}

pub(crate) fn write_var_u32(out: &mut Vec<u8>, mut value: u32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 16] = [
        0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe,
        0x0f,
    ];

    #[test]
    fn standard_and_raw_payloads_are_both_read() {
        let id = BuildId::new(ID);
        let payload = id.to_section_payload();
        assert_eq!(payload[0], 16);
        assert_eq!(BuildId::from_section_payload(&payload, 0).unwrap(), id);
        // Written without the length prefix.
        assert_eq!(BuildId::from_section_payload(&ID, 0).unwrap(), id);
        assert!(BuildId::from_section_payload(&[], 0).is_err());
    }

    #[test]
    fn sentry_debug_id_is_length_byte_then_first_fifteen_bytes() {
        let id = BuildId::new(ID);
        let sentry = id.sentry_debug_id();
        assert_eq!(sentry.as_bytes()[0], 0x10);
        assert_eq!(&sentry.as_bytes()[1..], &ID[..15]);
    }

    #[test]
    fn text_forms_round_trip() {
        let id = BuildId::new(ID);
        assert_eq!(id.to_string(), "10213243-5465-7687-98a9-bacbdcedfe0f");
        assert_eq!(BuildId::parse(&id.to_string()), Some(id.clone()));
        assert_eq!(BuildId::parse(&id.to_hex()), Some(id));
        assert_eq!(BuildId::parse("../etc"), None);
        assert_eq!(BuildId::parse("abc"), None);
    }

    #[test]
    fn external_debug_info_round_trips() {
        let payload = external_debug_info_payload("debug/app.debug.wasm");
        assert_eq!(
            parse_external_debug_info(&payload, 0).unwrap(),
            "debug/app.debug.wasm"
        );
        let mut bad = payload.clone();
        bad.push(0);
        assert!(parse_external_debug_info(&bad, 0).is_err());
        assert!(parse_external_debug_info(&payload[..4], 0).is_err());
    }
}
