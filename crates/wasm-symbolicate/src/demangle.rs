//! Turning linkage names into the names a debugger user expects.
//!
//! DWARF and the `name` section give linkage names: Rust legacy
//! (`_ZN5crash6divide17h90ac5566512292e2E`) and v0 (`_RNv…`) manglings and
//! C++ Itanium manglings (`_ZN3foo3barEi`). C and Zig names are not mangled
//! (Zig's linkage names read `crash.divide`) and are kept as they are.
//! Rust names are printed without their hash (`crash::divide`), as gdb does.

/// The source language of a compilation unit, as far as naming is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameLanguage {
    Rust,
    Cpp,
    /// C, Zig or anything else: names are never mangled by the language,
    /// but a mangled name (e.g. Rust code linked into a C program) is still
    /// recognised by its prefix.
    Other,
}

impl NameLanguage {
    /// Classifies a DWARF `DW_AT_language`.
    pub fn from_dwarf(lang: Option<gimli::DwLang>) -> Self {
        match lang {
            Some(gimli::DW_LANG_Rust) => NameLanguage::Rust,
            Some(
                gimli::DW_LANG_C_plus_plus
                | gimli::DW_LANG_C_plus_plus_03
                | gimli::DW_LANG_C_plus_plus_11
                | gimli::DW_LANG_C_plus_plus_14
                | gimli::DW_LANG_ObjC_plus_plus,
            ) => NameLanguage::Cpp,
            _ => NameLanguage::Other,
        }
    }
}

/// Demangles `name` if it is a Rust (legacy or v0) or C++ mangled name;
/// otherwise returns it unchanged.
///
/// ```
/// use wasm_symbolicate::demangle;
/// assert_eq!(demangle("_ZN5crash6divide17h90ac5566512292e2E"), "crash::divide");
/// assert_eq!(demangle("_ZN3foo3barEi"), "foo::bar(int)");
/// assert_eq!(demangle("crash.divide"), "crash.divide");
/// assert_eq!(demangle("main"), "main");
/// ```
pub fn demangle(name: &str) -> String {
    demangle_for(name, NameLanguage::Other)
}

/// Like [`demangle`], trying the unit's language's scheme first.
pub fn demangle_for(name: &str, language: NameLanguage) -> String {
    let attempts: [fn(&str) -> Option<String>; 2] = match language {
        NameLanguage::Cpp => [demangle_cpp, demangle_rust],
        NameLanguage::Rust | NameLanguage::Other => [demangle_rust, demangle_cpp],
    };
    attempts
        .iter()
        .find_map(|attempt| attempt(name))
        .unwrap_or_else(|| name.to_string())
}

fn demangle_rust(name: &str) -> Option<String> {
    if !(name.starts_with("_ZN") || name.starts_with("_R")) {
        return None;
    }
    rustc_demangle::try_demangle(name)
        .ok()
        // `{:#}` leaves out the legacy `::h…` hash and v0 crate disambiguators.
        .map(|d| format!("{d:#}"))
}

fn demangle_cpp(name: &str) -> Option<String> {
    if !name.starts_with("_Z") {
        return None;
    }
    let symbol = cpp_demangle::Symbol::new(name.as_bytes()).ok()?;
    symbol.demangle().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_legacy_without_hash() {
        assert_eq!(
            demangle("_ZN5crash6divide17h90ac5566512292e2E"),
            "crash::divide"
        );
        assert_eq!(
            demangle(
                "_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h268eb054b1ee9d64E.llvm.5641838708000853314"
            ),
            "std::rt::lang_start::{{closure}}"
        );
    }

    #[test]
    fn rust_v0() {
        assert_eq!(demangle("_RNvCs1234_5crate4main"), "crate::main");
        assert_eq!(
            demangle("_RNvNtCs1234_7mycrate3foo3bar"),
            "mycrate::foo::bar"
        );
    }

    #[test]
    fn cpp() {
        assert_eq!(demangle("_ZN3foo3barEi"), "foo::bar(int)");
        assert_eq!(demangle("_Z6squarei"), "square(int)");
        // A C++ name that would also parse as a Rust legacy path is C++ in a C++ unit.
        assert_eq!(demangle_for("_ZN2ns1fEv", NameLanguage::Cpp), "ns::f()");
    }

    #[test]
    fn plain_names_are_kept() {
        for name in [
            "main",
            "crash.divide",
            "_start",
            "__original_main",
            "_Z",
            "_ZN",
            "_R",
            "",
        ] {
            assert_eq!(demangle(name), name);
        }
    }

    #[test]
    fn garbage_never_panics() {
        for name in [
            "_ZN9999999999999999999999E",
            "_RNvC",
            "_ZZZZZZZZ",
            "_ZN3\u{e9}E",
            "_Z\u{0}",
        ] {
            let _ = demangle(name);
            let _ = demangle_for(name, NameLanguage::Cpp);
        }
    }
}
