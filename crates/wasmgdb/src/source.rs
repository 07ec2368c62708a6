//! Source files for `list`, `info source` and the line under each selected
//! frame: DWARF paths are rewritten by `set substitute-path` rules, then
//! looked up as they are and under the `--source-dir`s, the module's and
//! dump's directories and the working directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use wasm_symbolicate::find_source_file;

use crate::error::{Result, bail};
use crate::session::Session;

impl Session {
    /// Where the DWARF path `file` is on this machine.
    pub(crate) fn locate_source(&self, file: &str) -> Option<PathBuf> {
        let mut candidates = vec![file.to_string()];
        for (from, to) in &self.substitutions {
            if let Some(rest) = file.strip_prefix(from.as_str()) {
                candidates.insert(0, format!("{to}{rest}"));
            }
        }
        candidates
            .iter()
            .find_map(|path| find_source_file(path, &self.source_dirs))
    }

    fn source_lines(&self, path: &Path) -> Option<Vec<String>> {
        let text = std::fs::read(path).ok()?;
        Some(
            String::from_utf8_lossy(&text)
                .lines()
                .map(str::to_string)
                .collect(),
        )
    }

    /// The text of one line of `file`.
    pub(crate) fn source_line(&self, file: &str, line: u32) -> Option<String> {
        let path = self.locate_source(file)?;
        let lines = self.source_lines(&path)?;
        lines.get(line.checked_sub(1)? as usize).cloned()
    }

    fn print_lines(&mut self, path: &Path, first: u32, last: u32, out: &mut String) -> Result<()> {
        let Some(lines) = self.source_lines(path) else {
            bail!("{}: No such file or directory.", path.display());
        };
        let count = lines.len() as u32;
        if first > count {
            bail!(
                "Line number {first} out of range; \"{}\" has {count} lines.",
                path.display()
            );
        }
        for n in first.max(1)..=last.min(count) {
            let _ = writeln!(out, "{n}\t{}", lines[(n - 1) as usize]);
        }
        self.list_next = Some((path.to_path_buf(), last.min(count).saturating_add(1)));
        Ok(())
    }

    /// `list [LINE | FILE:LINE | FUNCTION | -]`.
    pub(crate) fn list(&mut self, args: &str, out: &mut String) -> Result<()> {
        let size = self.listsize.max(1);
        let around = |line: u32| {
            let first = line.saturating_sub(size / 2).max(1);
            (first, first.saturating_add(size - 1))
        };
        let args = args.trim();
        if args.is_empty() {
            if let Some((path, next)) = self.list_next.clone() {
                return self.print_lines(&path, next, next.saturating_add(size - 1), out);
            }
            let (file, line) = self.current_file_line()?;
            let path = self.require_source(&file)?;
            let (first, last) = around(line);
            return self.print_lines(&path, first, last, out);
        }
        if args == "-" {
            let Some((path, next)) = self.list_next.clone() else {
                bail!("No default source file.");
            };
            let end = next.saturating_sub(size + 1);
            if end == 0 {
                bail!("Already at the start of {}.", path.display());
            }
            let first = end.saturating_sub(size - 1).max(1);
            self.print_lines(&path, first, end, out)?;
            self.list_next = Some((path, first.saturating_add(size)));
            return Ok(());
        }
        // FIRST,LAST.
        if let Some((a, b)) = args.split_once(',')
            && let (Ok(first), Ok(last)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>())
        {
            let path = self.require_source(&self.current_file_line()?.0)?;
            return self.print_lines(&path, first, last.max(first), out);
        }
        // FILE:LINE, LINE, or a function name.
        let (file, line) = if let Some((file, line)) = args.rsplit_once(':')
            && let Ok(line) = line.trim().parse::<u32>()
        {
            (file.trim().to_string(), line)
        } else if let Ok(line) = args.parse::<u32>() {
            (self.current_file_line()?.0, line)
        } else {
            let name = args.trim_start_matches('*');
            let functions = self.symbols.functions()?;
            let found = functions.iter().find(|f| {
                f.name.name == name
                    || crash_name(&f.name.name) == name
                    || f.name.linkage_name.as_deref() == Some(name)
            });
            match found {
                Some(f) => match (&f.decl_file, f.decl_line) {
                    (Some(file), Some(line)) => (file.clone(), line),
                    _ => bail!("Function \"{name}\" has no line information."),
                },
                None => bail!("Function \"{name}\" not defined."),
            }
        };
        let path = self.require_source(&file)?;
        let (first, last) = around(line);
        self.print_lines(&path, first, last, out)
    }

    fn require_source(&self, file: &str) -> Result<PathBuf> {
        match self.locate_source(file) {
            Some(p) => Ok(p),
            None => bail!(
                "{file}: No such file or directory. (Use --source-dir or `set substitute-path`.)"
            ),
        }
    }

    fn current_file_line(&self) -> Result<(String, u32)> {
        let Some(frame) = self.frames.get(self.selected) else {
            bail!("No stack.");
        };
        match (&frame.source.file, frame.source.line) {
            (Some(file), Some(line)) => Ok((file.clone(), line)),
            (Some(file), None) => Ok((file.clone(), 1)),
            _ => bail!("No line number information available for the selected frame."),
        }
    }

    /// `info source`.
    pub(crate) fn info_source(&self, out: &mut String) -> Result<()> {
        let Some(frame) = self.frames.get(self.selected) else {
            bail!("No stack.");
        };
        let Some(file) = &frame.source.file else {
            out.push_str("No current source file.\n");
            return Ok(());
        };
        let _ = writeln!(out, "Current source file is {file}");
        match self.locate_source(file) {
            Some(path) => {
                let shown = std::fs::canonicalize(&path).unwrap_or(path.clone());
                let _ = writeln!(out, "Located in {}", shown.display());
                if let Some(lines) = self.source_lines(&path) {
                    let _ = writeln!(out, "Contains {} lines.", lines.len());
                }
            }
            None => out.push_str(
                "The file was not found on this machine (see --source-dir, set substitute-path).\n",
            ),
        }
        let _ = writeln!(
            out,
            "Source language is {}.",
            self.language_name(self.selected)
        );
        let _ = writeln!(out, "Debug info: {}.", self.symbols.source());
        Ok(())
    }
}

/// Zig names functions `crash.divide`; accept the bare `divide` too.
fn crash_name(name: &str) -> &str {
    name.rsplit(['.', ':']).next().unwrap_or(name)
}
