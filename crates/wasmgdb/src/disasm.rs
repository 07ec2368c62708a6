//! `disassemble`: the selected frame's function as Wasm text (wasmprinter),
//! each instruction with its module offset, the frame's own marked `=>`.
//!
//! wasmprinter prints whole modules, so the module is printed once (DWARF
//! and other custom sections after the code left out, which keeps every
//! code offset unchanged) and the lines are kept for later commands.

use std::fmt::Write as _;

use crate::error::{Error, Result, bail};
use crate::session::Session;

fn read_leb(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut result = 0u64;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        result |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(result);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// The module without custom sections that follow the Code section
/// (except `name`, which gives functions their names).
fn without_trailing_custom_sections(wasm: &[u8]) -> Vec<u8> {
    let Some(header) = wasm.get(..8) else {
        return wasm.to_vec();
    };
    let mut out = header.to_vec();
    let mut pos = 8;
    let mut after_code = false;
    while pos < wasm.len() {
        let start = pos;
        let id = wasm[pos];
        pos += 1;
        let Some(size) = read_leb(wasm, &mut pos) else {
            return wasm.to_vec();
        };
        let Some(end) = pos.checked_add(size as usize).filter(|e| *e <= wasm.len()) else {
            return wasm.to_vec();
        };
        let keep = if id == 0 && after_code {
            let mut p = pos;
            let name =
                read_leb(wasm, &mut p).and_then(|len| wasm.get(p..p.checked_add(len as usize)?));
            name == Some(b"name")
        } else {
            true
        };
        if keep {
            out.extend_from_slice(&wasm[start..end]);
        }
        if id == 10 {
            after_code = true;
        }
        pos = end;
    }
    out
}

/// Every line of the module's text, with the module offset it stands for.
pub fn render(wasm: &[u8]) -> Result<Vec<(Option<usize>, String)>> {
    let stripped = without_trailing_custom_sections(wasm);
    let mut storage = String::new();
    let mut config = wasmprinter::Config::new();
    config.fold_instructions(false);
    let lines = config
        .offsets_and_lines(&stripped, &mut storage)
        .map_err(|e| Error::command(format!("cannot disassemble the module: {e}")))?;
    Ok(lines.map(|(o, l)| (o, l.trim_end().to_string())).collect())
}

impl Session {
    /// `disassemble`.
    pub(crate) fn disassemble(&mut self, out: &mut String) -> Result<()> {
        let Some(frame) = self.frames.get(self.selected).cloned() else {
            bail!("No frame selected.");
        };
        let layout = self.symbols.layout();
        let Some(body) = layout.function_body(frame.location.function) else {
            bail!(
                "Function {} is not defined in the module.",
                frame.location.function
            );
        };
        let pc = self.frame_pc(self.selected).map(|p| p as usize);
        let lines = self.disassembly()?;
        let name = self
            .symbols
            .function_name(frame.location.function)
            .map_or_else(|| "??".to_string(), |n| n.name);
        let _ = writeln!(
            out,
            "Dump of assembler code for function {name} (wasm function {}):",
            frame.location.function
        );
        // The body's size LEB sits just before `body.start`; the header line
        // (`(func ...`) is printed at the entry's start.
        let entry_start = body.start.saturating_sub(5);
        let mut printed = 0;
        for (offset, text) in lines.iter() {
            let Some(offset) = *offset else { continue };
            if offset < entry_start || offset >= body.end {
                continue;
            }
            if offset < body.start && !text.trim_start().starts_with("(func") {
                continue;
            }
            let marker = if Some(offset) == pc { "=> " } else { "   " };
            let rel = offset.saturating_sub(body.start);
            let _ = writeln!(out, "{marker}{offset:#010x} <+{rel}>:\t{}", text.trim());
            printed += 1;
        }
        if printed == 0 {
            out.push_str("(no instructions found for this function)\n");
        }
        out.push_str("End of assembler dump.\n");
        Ok(())
    }
}
