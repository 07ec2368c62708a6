//! Symbolication over arbitrary modules and DWARF: build a `Symbolicator`
//! (no debug dirs, so only embedded DWARF is used), list the functions and
//! symbolicate a few locations taken from the input's tail and from the
//! functions' own ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_symbolicate::{CodeLocation, DebugInfoLocator, DwarfAddress, ModuleFile, Symbolicator};

fuzz_target!(|data: &[u8]| {
    let Ok(module) = ModuleFile::from_bytes(data.to_vec(), None) else {
        return;
    };
    let Ok(symbols) = Symbolicator::new(module, &DebugInfoLocator::new()) else {
        return;
    };
    let _ = symbols.has_dwarf();
    // Locations chosen by the input: its last 16 bytes.
    let tail = &data[data.len().saturating_sub(16)..];
    for chunk in tail.chunks_exact(8) {
        let function = u32::from_le_bytes(chunk[..4].try_into().unwrap()) % 4096;
        let offset = u32::from_le_bytes(chunk[4..].try_into().unwrap()) % (1 << 20);
        let _ = symbols.symbolicate(CodeLocation { function, offset });
        let _ = symbols.symbolicate_dwarf_address(DwarfAddress(u64::from(offset)));
        let _ = symbols.function_name(function);
    }
    // And a few inside real functions.
    if let Ok(functions) = symbols.functions() {
        for (i, _) in functions.iter().enumerate().take(64) {
            let i = i as u32;
            let _ = symbols.function_name(i);
            for offset in [0, 1, 5, 17] {
                let _ = symbols.symbolicate(CodeLocation { function: i, offset });
            }
        }
    }
});
