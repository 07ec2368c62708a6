//! Loading DWARF from a Wasm module's custom sections without copying them.
//!
//! A module's `.debug_*` custom sections become gimli sections that are views
//! into one shared, reference-counted buffer holding the whole file, so loading
//! costs one section-table walk (done by [`ModuleLayout`]) and nothing else.
//! Units are parsed later, only when a lookup needs them.

use std::sync::Arc;

use wasm_coredump::ModuleLayout;

/// The gimli reader used throughout this crate: a little-endian view into a
/// shared buffer holding a whole module file.
pub type Reader = gimli::EndianArcSlice<gimli::LittleEndian>;

/// DWARF sections of one Wasm file, as gimli sees them.
pub(crate) fn load(bytes: &Arc<[u8]>, layout: &ModuleLayout) -> gimli::Dwarf<Reader> {
    let whole = Reader::new(bytes.clone(), gimli::LittleEndian);
    let empty = whole.range(0..0);
    let section = |id: gimli::SectionId| -> Result<Reader, std::convert::Infallible> {
        // The first section of a name wins; duplicates are unusual.
        let found = layout.custom_sections().iter().find(|(name, range)| {
            name == id.name() && range.end <= bytes.len() && range.start <= range.end
        });
        Ok(match found {
            Some((_, range)) => whole.range(range.clone()),
            None => empty.clone(),
        })
    };
    match gimli::Dwarf::load(section) {
        Ok(dwarf) => dwarf,
        Err(never) => match never {},
    }
}

/// Whether a module carries DWARF: a non-empty `.debug_info` section.
pub(crate) fn has_debug_info(layout: &ModuleLayout) -> bool {
    layout
        .custom_sections()
        .iter()
        .any(|(name, range)| name == ".debug_info" && !range.is_empty())
}
