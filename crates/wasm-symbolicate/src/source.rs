//! Finding a DWARF source path on the local disk (for `list`).
//!
//! DWARF paths are what the compiler saw: often relative to the build
//! directory (`./fixtures/c/crash.c` after `-fdebug-prefix-map`) or absolute
//! on another machine. This tries the path as it is, then under each search
//! directory with ever shorter trailing parts of the path, down to the bare
//! file name.

use std::path::{Component, Path, PathBuf};

/// The first existing file for `dwarf_path`: the path itself, then for each
/// directory in `search_dirs`, `dir/<path>` with leading components removed
/// one at a time (`dir/fixtures/c/crash.c`, `dir/c/crash.c`, `dir/crash.c`).
pub fn find_source_file(dwarf_path: &str, search_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = Path::new(dwarf_path);
    if path.is_file() {
        return Some(path.to_owned());
    }
    let parts: Vec<&std::ffi::OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    for dir in search_dirs {
        for skip in 0..parts.len() {
            let mut candidate = dir.clone();
            candidate.extend(&parts[skip..]);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_tried_under_search_dirs() {
        let dir = std::env::temp_dir().join(format!("wasm-symbolicate-src-{}", std::process::id()));
        let nested = dir.join("c");
        std::fs::create_dir_all(&nested).expect("mkdir");
        std::fs::write(nested.join("crash.c"), "int main;").expect("write");
        let found = find_source_file("/elsewhere/fixtures/c/crash.c", std::slice::from_ref(&dir));
        assert_eq!(found, Some(nested.join("crash.c")));
        assert_eq!(
            find_source_file("/elsewhere/none.c", std::slice::from_ref(&dir)),
            None
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
