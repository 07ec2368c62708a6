//! The command language: gdb's command names and abbreviations, dispatched
//! to the session. Each command appends its output to a string; errors are
//! returned for the caller to print, so one bad command never ends a
//! session (gdb's behaviour, `-batch` included).

use std::fmt::Write as _;

use serde_json::json;
use wasm_symbolicate::variables::{Type, TypeKind, VariableValue};

use crate::error::{Error, Result, bail};
use crate::expr::{self, Data, Obj};
use crate::print::{self, Format};
use crate::session::{Session, obj_of};

/// What the REPL should do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// Top-level commands: (name, shortest accepted abbreviation, help).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "backtrace",
        "ba",
        "Print the stack: backtrace [full] [N | -N]. Aliases: bt, where.",
    ),
    ("bt", "bt", "Alias for backtrace."),
    ("where", "whe", "Alias for backtrace."),
    (
        "frame",
        "f",
        "Select and print a frame: frame [N | level N | function NAME].",
    ),
    (
        "thread",
        "t",
        "Select a thread of the dump and show its youngest frame: thread [N].",
    ),
    ("up", "up", "Select the caller's frame: up [N]."),
    ("down", "do", "Select the callee's frame: down [N]."),
    (
        "info",
        "i",
        "Show things about the dump: info frame|locals|args|source|registers|functions|types|variables|globals|imports|exports|modules|threads|memory|process [REGEX].",
    ),
    (
        "print",
        "p",
        "Evaluate and print an expression: print[/FMT] EXPR (FMT: x d u o t c f a s z).",
    ),
    ("inspect", "insp", "Alias for print."),
    ("output", "outp", "Like print, without history or newline."),
    ("ptype", "pt", "Print a type's definition: ptype EXPR|TYPE."),
    (
        "whatis",
        "wha",
        "Print the type of an expression: whatis EXPR|TYPE.",
    ),
    (
        "x",
        "x",
        "Examine linear memory: x/NFU ADDRESS (F: x d u o t a c f s z; U: b h w g).",
    ),
    (
        "find",
        "fin",
        "Search memory: find [/b|/h|/w|/g] START, END|+LENGTH, VALUE...",
    ),
    (
        "list",
        "l",
        "List source lines: list [LINE | FIRST,LAST | FILE:LINE | FUNCTION | -].",
    ),
    (
        "disassemble",
        "disas",
        "Show the frame's function as Wasm text, the current instruction marked with =>.",
    ),
    (
        "set",
        "set",
        "set substitute-path FROM TO | set listsize N.",
    ),
    ("show", "show", "show substitute-path | listsize | version."),
    ("help", "h", "Show help: help [COMMAND]."),
    ("quit", "q", "Leave wasmgdb."),
    ("echo", "echo", "Print text: echo TEXT."),
];

/// `info` subcommands, for dispatch, help and completion.
pub const INFO_COMMANDS: &[(&str, &str)] = &[
    ("frame", "f"),
    ("locals", "lo"),
    ("args", "ar"),
    ("source", "so"),
    ("registers", "r"),
    ("all-registers", "al"),
    ("functions", "fu"),
    ("types", "ty"),
    ("variables", "va"),
    ("globals", "gl"),
    ("imports", "im"),
    ("exports", "ex"),
    ("modules", "mo"),
    ("sharedlibrary", "sh"),
    ("threads", "th"),
    ("memory", "me"),
    ("process", "pro"),
    ("line", "li"),
];

fn resolve<'a>(
    word: &str,
    table: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Option<&'a str> {
    if let Some((name, _)) = table.clone().find(|(name, _)| *name == word) {
        return Some(name);
    }
    let matches: Vec<&str> = table
        .clone()
        .filter(|(name, abbrev)| {
            name.starts_with(word) && word.starts_with(abbrev) || *abbrev == word
        })
        .map(|(n, _)| n)
        .collect();
    if matches.len() == 1 {
        return matches.first().copied();
    }
    // A unique prefix also works, as in gdb.
    let prefixed: Vec<&str> = table
        .filter(|(name, _)| name.starts_with(word))
        .map(|(n, _)| n)
        .collect();
    (prefixed.len() == 1).then(|| prefixed[0])
}

/// Splits `p/x foo` into (`p`, Some(`x`), `foo`).
fn split_command(line: &str) -> (&str, Option<&str>, &str) {
    let line = line.trim();
    let end = line
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(line.len());
    let (word, rest) = line.split_at(end);
    if let Some(rest) = rest.strip_prefix('/') {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (fmt, args) = rest.split_at(end);
        (word, Some(fmt), args.trim())
    } else {
        (word, None, rest.trim())
    }
}

impl Session {
    /// Runs one command line, appending its output to `out`.
    pub fn execute(&mut self, line: &str, out: &mut String) -> Result<Flow> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(Flow::Continue);
        }
        let (word, fmt, args) = split_command(line);
        let Some(command) = resolve(word, COMMANDS.iter().map(|(n, a, _)| (*n, *a))) else {
            bail!("Undefined command: \"{word}\".  Try \"help\".");
        };
        match command {
            "backtrace" | "bt" | "where" => self.backtrace(args, out)?,
            "frame" => self.frame_command(args, out)?,
            "thread" => self.thread_command(args, out)?,
            "up" => self.move_frame(args, 1, out)?,
            "down" => self.move_frame(args, -1, out)?,
            "info" => self.info(args, out)?,
            "print" | "inspect" => self.print(fmt, args, out, true)?,
            "output" => self.print(fmt, args, out, false)?,
            "ptype" => self.ptype(args, true, out)?,
            "whatis" => self.ptype(args, false, out)?,
            "x" => self.examine_command(fmt, args, out)?,
            "find" => self.find(fmt, args, out)?,
            "list" => self.list(args, out)?,
            "disassemble" => self.disassemble(out)?,
            "set" => self.set(args, out)?,
            "show" => self.show(args, out)?,
            "help" => help(args, out)?,
            "echo" => {
                out.push_str(&args.replace("\\n", "\n"));
            }
            "quit" => return Ok(Flow::Quit),
            _ => bail!("Undefined command: \"{word}\".  Try \"help\"."),
        }
        Ok(Flow::Continue)
    }

    /// `#N  0x… in name (args) at file:line`.
    pub fn frame_line(&self, index: usize) -> String {
        let Some(entry) = self.frames.get(index) else {
            return String::new();
        };
        // As gdb: the number padded to two digits, then a space.
        let mut line = format!("#{index:<2} ");
        if !entry.source.inlined
            && let Some(pc) = self.frame_pc(index)
        {
            let _ = write!(line, "{pc:#010x} in ");
        }
        line.push_str(entry.source.function_name());
        line.push_str(" (");
        if let Ok(Some((scopes, inline))) = self.scope(index)
            && let Some(scope) = scopes.get(inline)
        {
            let memory = self.memory();
            let args: Vec<String> = scope
                .variables
                .iter()
                .filter(|v| v.is_parameter)
                .map(|v| format!("{}={}", v.name, frame_argument(&v.ty, &v.value, memory)))
                .collect();
            line.push_str(&args.join(", "));
        }
        line.push(')');
        match (entry.source.file_name(), entry.source.line) {
            (Some(file), Some(l)) => {
                let _ = write!(line, " at {file}:{l}");
            }
            (Some(file), None) => {
                let _ = write!(line, " at {file}");
            }
            _ => {
                let _ = write!(line, " from {}", self.symbols.module().display_name());
            }
        }
        if let Some(err) = &entry.error {
            let _ = write!(line, " [{err}]");
        }
        line
    }

    /// The frame line and its source line, as `frame` prints.
    pub(crate) fn frame_header(&self, index: usize) -> String {
        let mut out = self.frame_line(index);
        out.push('\n');
        if let Some(entry) = self.frames.get(index)
            && let (Some(file), Some(line)) = (&entry.source.file, entry.source.line)
        {
            match self.source_line(file, line) {
                Some(text) => {
                    let _ = writeln!(out, "{line}\t{text}");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{line}\t{}: No such file or directory.",
                        entry.source.file_name().unwrap_or(file)
                    );
                }
            }
        }
        out
    }

    fn thread_command(&mut self, args: &str, out: &mut String) -> Result<()> {
        if self.dump.threads.is_empty() {
            bail!("No threads.");
        }
        let args = args.trim();
        if args.is_empty() {
            let current = self.selected_thread();
            let _ = writeln!(
                out,
                "[Current thread is {} (\"{}\")]",
                current + 1,
                self.dump.threads[0].name
            );
            return Ok(());
        }
        let number = args
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=self.dump.threads.len()).contains(n))
            .ok_or_else(|| Error::command(format!("Invalid thread ID: {args}")))?;
        self.select_thread(number - 1)?;
        let _ = writeln!(
            out,
            "[Switching to thread {number} (\"{}\")]",
            self.dump.threads[0].name
        );
        if self.frames.is_empty() {
            out.push_str("No stack.\n");
            return Ok(());
        }
        self.frame_command("0", out)
    }

    fn backtrace(&mut self, args: &str, out: &mut String) -> Result<()> {
        let mut full = false;
        let mut limit: Option<i64> = None;
        for word in args.split_whitespace() {
            match word {
                "full" | "-full" => full = true,
                n => match n.parse::<i64>() {
                    Ok(n) => limit = Some(n),
                    Err(_) => bail!("No symbol \"{n}\" in current context."),
                },
            }
        }
        let total = self.frames.len();
        let range: Vec<usize> = match limit {
            Some(n) if n >= 0 => (0..total.min(n as usize)).collect(),
            Some(n) => (total.saturating_sub(n.unsigned_abs() as usize)..total).collect(),
            None => (0..total).collect(),
        };
        if self.json {
            let frames: Vec<serde_json::Value> =
                range.iter().map(|&i| self.frame_json(i, full)).collect();
            let _ = writeln!(out, "{}", json!({ "frames": frames }));
            return Ok(());
        }
        if total == 0 {
            out.push_str("No stack.\n");
            return Ok(());
        }
        for &i in &range {
            crate::interrupt::check()?;
            out.push_str(&self.frame_line(i));
            out.push('\n');
            if full {
                out.push_str(&self.locals_text(i, false, "        "));
            }
        }
        if let Some(&last) = range.last()
            && last + 1 < total
        {
            out.push_str("(More stack frames follow...)\n");
        }
        Ok(())
    }

    fn frame_json(&self, index: usize, with_locals: bool) -> serde_json::Value {
        let Some(entry) = self.frames.get(index) else {
            return serde_json::Value::Null;
        };
        let memory = self.memory();
        let mut args = Vec::new();
        let mut locals = Vec::new();
        if let Ok(Some((scopes, inline))) = self.scope(index)
            && let Some(scope) = scopes.get(inline)
        {
            for v in &scope.variables {
                let item = json!({
                    "name": v.name,
                    "type": v.ty.name,
                    "value": v.display_value(memory),
                    "available": matches!(v.value, VariableValue::Bytes(_)),
                });
                if v.is_parameter {
                    args.push(item);
                } else {
                    locals.push(item);
                }
            }
        }
        let mut value = json!({
            "level": index,
            "function": entry.source.function.as_ref().map(|f| f.name.clone()),
            "linkage_name": entry.source.function.as_ref().and_then(|f| f.linkage_name.clone()),
            "file": entry.source.file,
            "line": entry.source.line,
            "column": entry.source.column,
            "inlined": entry.source.inlined,
            "pc": self.frame_pc(index),
            "wasm_function": entry.location.function,
            "code_offset": entry.location.offset,
            "args": args,
        });
        if with_locals && let Some(map) = value.as_object_mut() {
            map.insert("locals".into(), serde_json::Value::Array(locals));
        }
        if let (Some(err), Some(map)) = (&entry.error, value.as_object_mut()) {
            map.insert("error".into(), json!(err));
        }
        value
    }

    fn select(&mut self, index: usize, out: &mut String) {
        self.selected = index;
        self.list_next = None;
        if self.json {
            let _ = writeln!(
                out,
                "{}",
                json!({ "selected": self.frame_json(index, false) })
            );
        } else {
            out.push_str(&self.frame_header(index));
        }
    }

    fn frame_command(&mut self, args: &str, out: &mut String) -> Result<()> {
        if self.frames.is_empty() {
            bail!("No stack.");
        }
        if let Some(name) = args.strip_prefix("function") {
            let name = name.trim();
            let found = self.frames.iter().position(|f| {
                let shown = f.source.function_name();
                shown == name || shown.rsplit(['.', ':']).next() == Some(name)
            });
            match found {
                Some(index) => {
                    self.select(index, out);
                    return Ok(());
                }
                None => bail!("No frame for function \"{name}\"."),
            }
        }
        let arg = args.strip_prefix("level").map_or(args, str::trim);
        if arg.is_empty() {
            let index = self.selected;
            self.select(index, out);
            return Ok(());
        }
        let index = match arg.parse::<usize>() {
            Ok(n) => n,
            Err(_) => match self.evaluate(arg).and_then(|v| obj_int(&v)) {
                Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
                Err(_) => bail!("Invalid frame specification \"{arg}\"."),
            },
        };
        if index >= self.frames.len() {
            bail!("No frame at level {arg}.");
        }
        self.select(index, out);
        Ok(())
    }

    fn move_frame(&mut self, args: &str, direction: i64, out: &mut String) -> Result<()> {
        if self.frames.is_empty() {
            bail!("No stack.");
        }
        let count = if args.is_empty() {
            1
        } else {
            match args.parse::<i64>() {
                Ok(n) => n,
                Err(_) => bail!("Invalid number \"{args}\"."),
            }
        };
        let target = (self.selected as i64).saturating_add(direction.saturating_mul(count));
        let last = self.frames.len() as i64 - 1;
        if target < 0 {
            if self.selected == 0 {
                bail!("Bottom (innermost) frame selected; you cannot go down.");
            }
            self.select(0, out);
            return Ok(());
        }
        if target > last {
            if self.selected as i64 == last {
                bail!("Initial frame selected; you cannot go up.");
            }
            self.select(last as usize, out);
            return Ok(());
        }
        self.select(target as usize, out);
        Ok(())
    }

    /// `name = value` lines for a frame's locals (or arguments).
    pub(crate) fn locals_text(&self, index: usize, arguments: bool, indent: &str) -> String {
        let mut out = String::new();
        let scope = match self.scope(index) {
            Ok(Some(s)) => s,
            Ok(None) => {
                let _ = writeln!(out, "{indent}No symbol table info available.");
                return out;
            }
            Err(e) => {
                let _ = writeln!(out, "{indent}<error: {e}>");
                return out;
            }
        };
        let (scopes, inline) = scope;
        let memory = self.memory();
        let Some(scope) = scopes.get(inline) else {
            return out;
        };
        if !self.symbols.has_dwarf() {
            let _ = writeln!(out, "{indent}No symbol table info available.");
            return out;
        }
        let mut any = false;
        // gdb lists the innermost block's variables first.
        for v in scope
            .variables
            .iter()
            .rev()
            .filter(|v| v.is_parameter == arguments)
        {
            any = true;
            let _ = writeln!(out, "{indent}{} = {}", v.name, v.display_value(memory));
        }
        if !any {
            let _ = writeln!(
                out,
                "{indent}{}",
                if arguments {
                    "No arguments."
                } else {
                    "No locals."
                }
            );
        }
        out
    }

    fn variables_json(&self, arguments: bool) -> Result<serde_json::Value> {
        let memory = self.memory();
        let mut items = Vec::new();
        if let Some((scopes, inline)) = self.scope(self.selected)?
            && let Some(scope) = scopes.get(inline)
        {
            for v in scope
                .variables
                .iter()
                .rev()
                .filter(|v| v.is_parameter == arguments)
            {
                items.push(json!({
                    "name": v.name,
                    "type": v.ty.name,
                    "value": v.display_value(memory),
                    "available": matches!(v.value, VariableValue::Bytes(_)),
                    "address": v.address,
                }));
            }
        }
        Ok(json!({ "frame": self.selected, if arguments { "args" } else { "locals" }: items }))
    }

    fn print(
        &mut self,
        fmt: Option<&str>,
        args: &str,
        out: &mut String,
        record: bool,
    ) -> Result<()> {
        let format = match fmt {
            None => None,
            Some(f) => {
                let letter = f.chars().find(|c| !c.is_ascii_digit());
                match letter {
                    Some(c) => Some(Format::from_letter(c)?),
                    None => None,
                }
            }
        };
        let obj = if args.is_empty() {
            match self.history.last() {
                Some(obj) => obj.clone(),
                None => bail!("History is empty."),
            }
        } else {
            self.evaluate(args)?
        };
        let text = print::format_obj(&obj, format, self.memory());
        if !record {
            out.push_str(&text);
            return Ok(());
        }
        let is_void =
            obj.ty.kind == TypeKind::Void && matches!(obj.data, Data::Bytes(ref b) if b.is_empty());
        let text = if is_void { "void".to_string() } else { text };
        self.history.push(obj.clone());
        let n = self.history.len();
        if self.json {
            let _ = writeln!(
                out,
                "{}",
                json!({
                    "history": n,
                    "expression": args,
                    "type": obj.ty.name,
                    "value": text,
                    "address": obj.address,
                    "available": matches!(obj.data, Data::Bytes(_)),
                })
            );
        } else {
            let _ = writeln!(out, "${n} = {text}");
        }
        Ok(())
    }

    fn ptype(&mut self, args: &str, expand: bool, out: &mut String) -> Result<()> {
        if args.is_empty() {
            bail!("Argument required (one or more choice items).");
        }
        let lang = self.language(self.selected);
        let env = self.env();
        // A type name, else an expression's type.
        let ty: Type = match expr::parse_type_name(args, &env) {
            Some(name) => expr::resolve_type(&name, &env)?,
            None => {
                let parsed = expr::parse(args, &env)?;
                expr::evaluate(&parsed, &env)?.ty
            }
        };
        let ty = if ty.kind == TypeKind::Opaque {
            self.symbols.find_type(&ty.name)?.unwrap_or(ty)
        } else {
            ty
        };
        if expand {
            let _ = writeln!(out, "{}", print::ptype(&ty, lang));
        } else {
            let _ = writeln!(out, "type = {}", ty.name);
        }
        Ok(())
    }

    fn examine_command(&mut self, fmt: Option<&str>, args: &str, out: &mut String) -> Result<()> {
        let (last, next) = self.examine;
        let spec = print::parse_examine(fmt.unwrap_or(""), last)?;
        let address = if args.is_empty() {
            match next {
                Some(a) => a,
                None => bail!("Argument required (starting display address)."),
            }
        } else {
            let value = self.evaluate(args)?;
            match (&value.ty.kind, value.address) {
                // `x arr` and `x struct_var` examine the object itself.
                (
                    TypeKind::Array { .. } | TypeKind::Struct { .. } | TypeKind::Union { .. },
                    Some(a),
                ) => a,
                _ => u64::try_from(obj_int(&value)?).unwrap_or(u64::MAX),
            }
        };
        let Some(memory) = self.memory() else {
            bail!("The dump has no linear memory.");
        };
        let (text, after) = print::examine(memory, address, spec)?;
        out.push_str(&text);
        self.examine = (spec, Some(after));
        Ok(())
    }

    fn find(&mut self, fmt: Option<&str>, args: &str, out: &mut String) -> Result<()> {
        let unit = match fmt.and_then(|f| f.chars().find(|c| "bhwg".contains(*c))) {
            Some('b') => Some(1),
            Some('h') => Some(2),
            Some('w') => Some(4),
            Some('g') => Some(8),
            _ => None,
        };
        let max_count = fmt
            .map(|f| {
                f.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|d| d.parse::<usize>().ok());
        let parts = split_args(args);
        if parts.len() < 3 {
            bail!("Missing search parameters.");
        }
        let start = u64::try_from(obj_int(&self.evaluate(&parts[0])?)?).unwrap_or(u64::MAX);
        let end = match parts[1].strip_prefix('+') {
            Some(len) => {
                start.saturating_add(u64::try_from(obj_int(&self.evaluate(len)?)?).unwrap_or(0))
            }
            None => u64::try_from(obj_int(&self.evaluate(&parts[1])?)?)
                .unwrap_or(0)
                .saturating_add(1),
        };
        if end <= start {
            bail!("Invalid search space, end precedes start.");
        }
        let mut pattern = Vec::new();
        for part in &parts[2..] {
            let value = self.evaluate(part)?;
            let bytes = value.bytes()?.to_vec();
            match (&value.ty.kind, unit) {
                // A string literal is searched without its NUL.
                (TypeKind::Array { .. }, _) if part.trim_start().starts_with('"') => {
                    pattern.extend_from_slice(&bytes[..bytes.len().saturating_sub(1)]);
                }
                (_, Some(u)) => pattern.extend_from_slice(
                    &bytes
                        .iter()
                        .copied()
                        .chain(std::iter::repeat(0))
                        .take(u)
                        .collect::<Vec<_>>(),
                ),
                _ => pattern.extend_from_slice(&bytes),
            }
        }
        if pattern.is_empty() {
            bail!("Empty search pattern.");
        }
        let Some(memory) = self.memory() else {
            bail!("The dump has no linear memory.");
        };
        let end = end.min(memory.size());
        let mut found = 0usize;
        const CHUNK: u64 = 1 << 20;
        let mut at = start;
        'scan: while at < end {
            crate::interrupt::check()?;
            let len = (end - at).min(CHUNK + pattern.len() as u64);
            let Ok(bytes) = memory.read(at, len as usize) else {
                bail!("Unable to access {len} bytes of target memory at {at:#x}, halting search.");
            };
            let limit = (bytes.len() + 1)
                .saturating_sub(pattern.len())
                .min(CHUNK as usize);
            for i in 0..limit {
                if bytes[i..].starts_with(&pattern) {
                    let _ = writeln!(out, "{:#x}", at + i as u64);
                    found += 1;
                    if max_count.is_some_and(|m| found >= m) || found >= 10_000 {
                        break 'scan;
                    }
                }
            }
            at += CHUNK;
        }
        if found == 0 {
            out.push_str("Pattern not found.\n");
        } else {
            let _ = writeln!(
                out,
                "{found} pattern{} found.",
                if found == 1 { "" } else { "s" }
            );
        }
        Ok(())
    }

    fn set(&mut self, args: &str, out: &mut String) -> Result<()> {
        let mut words = args.split_whitespace();
        match words.next() {
            Some("substitute-path") => {
                let (Some(from), Some(to)) = (words.next(), words.next()) else {
                    bail!("Incorrect usage, too few arguments in command");
                };
                self.substitutions.push((from.to_string(), to.to_string()));
            }
            Some("listsize") => match words.next().and_then(|n| n.parse().ok()) {
                Some(n) => self.listsize = n,
                None => bail!("Argument required (integer to set it to.)."),
            },
            Some("var" | "variable") => bail!("Cannot modify a core dump."),
            Some(
                "print" | "pagination" | "height" | "width" | "confirm" | "verbose" | "logging"
                | "style",
            ) => {}
            Some(other) if other.contains('=') => bail!("Cannot modify a core dump."),
            Some(other) => bail!("No symbol \"{other}\" in current context."),
            None => bail!("Argument required (expression to compute)."),
        }
        let _ = out;
        Ok(())
    }

    fn show(&mut self, args: &str, out: &mut String) -> Result<()> {
        match args.trim() {
            "substitute-path" => {
                out.push_str("List of all source path substitution rules:\n");
                for (from, to) in &self.substitutions {
                    let _ = writeln!(out, "  `{from}' -> `{to}'.");
                }
            }
            "listsize" => {
                let _ = writeln!(
                    out,
                    "Number of source lines gdb will list by default is {}.",
                    self.listsize
                );
            }
            "version" | "" => {
                let _ = writeln!(out, "wasmgdb {}", env!("CARGO_PKG_VERSION"));
            }
            other => bail!("Undefined show command: \"{other}\".  Try \"help show\"."),
        }
        Ok(())
    }
}

/// gdb's `print frame-arguments scalars`: aggregates show as `...`.
fn frame_argument(
    ty: &Type,
    value: &VariableValue,
    memory: Option<&wasm_coredump::Memory>,
) -> String {
    match value {
        VariableValue::Bytes(bytes) => match &ty.kind {
            TypeKind::Struct { .. }
            | TypeKind::Union { .. }
            | TypeKind::Array { .. }
            | TypeKind::Opaque => "...".into(),
            TypeKind::Pointer { pointee }
                if !pointee.as_ref().is_some_and(|p| p.is_char_like()) =>
            {
                let mut raw = [0u8; 8];
                let n = bytes.len().min(8);
                raw[..n].copy_from_slice(&bytes[..n]);
                format!("{:#x}", u64::from_le_bytes(raw))
            }
            _ => obj_text(&obj_of(ty.clone(), value, None), memory),
        },
        VariableValue::OptimizedOut => "<optimized out>".into(),
        VariableValue::Unavailable(_) => "<unavailable>".into(),
    }
}

fn obj_text(obj: &Obj, memory: Option<&wasm_coredump::Memory>) -> String {
    print::format_obj(obj, None, memory)
}

/// An integer (or pointer) value.
pub(crate) fn obj_int(obj: &Obj) -> Result<i128> {
    let bytes = obj.bytes()?;
    match &obj.ty.kind {
        TypeKind::Base { encoding } if *encoding == gimli::DW_ATE_float => {
            bail!("Value is not an integer or pointer.")
        }
        TypeKind::Base { .. } | TypeKind::Enum { .. } | TypeKind::Pointer { .. } => {
            let mut buf = [0u8; 16];
            let n = bytes.len().min(16);
            buf[..n].copy_from_slice(&bytes[..n]);
            let raw = i128::from_le_bytes(buf);
            if expr::eval::is_signed(&obj.ty) && n > 0 && n < 16 {
                let shift = 128 - 8 * n as u32;
                Ok((raw << shift) >> shift)
            } else {
                Ok(raw)
            }
        }
        _ => bail!("Value is not an integer or pointer."),
    }
}

/// Splits `a, b, "x, y"` at top-level commas.
fn split_args(args: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in args.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                current.push(c);
            }
            (None, '(' | '[') => {
                depth += 1;
                current.push(c);
            }
            (None, ')' | ']') => {
                depth -= 1;
                current.push(c);
            }
            (None, ',') if depth == 0 => {
                parts.push(current.trim().to_string());
                current.clear();
            }
            (None, c) => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

fn help(args: &str, out: &mut String) -> Result<()> {
    let topic = args.trim();
    if topic.is_empty() {
        out.push_str("wasmgdb commands (gdb syntax; unique prefixes work):\n\n");
        for (name, _, text) in COMMANDS {
            let _ = writeln!(out, "{name:<12} -- {text}");
        }
        out.push_str(
            "\nExpressions: variables, statics, * & . -> [i], casts (T) and (T *)0xADDR,\n",
        );
        out.push_str(
            "integer arithmetic and comparisons, $N history, $localN $globalN $stackN, $sp, $pc.\n",
        );
        return Ok(());
    }
    let Some(name) = resolve(topic, COMMANDS.iter().map(|(n, a, _)| (*n, *a))) else {
        bail!("Undefined command: \"{topic}\".  Try \"help\".");
    };
    if let Some((_, _, text)) = COMMANDS.iter().find(|(n, _, _)| *n == name) {
        let _ = writeln!(out, "{text}");
    }
    if name == "info" {
        for (sub, _) in INFO_COMMANDS {
            let _ = writeln!(out, "  info {sub}");
        }
    }
    Ok(())
}

pub(crate) fn resolve_info(word: &str) -> Option<&'static str> {
    resolve(word, INFO_COMMANDS.iter().copied())
}

impl Session {
    /// JSON for `info locals` / `info args` when `--json` is on.
    pub(crate) fn locals_output(&self, arguments: bool, out: &mut String) -> Result<()> {
        if self.json {
            let _ = writeln!(out, "{}", self.variables_json(arguments)?);
        } else {
            out.push_str(&self.locals_text(self.selected, arguments, ""));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_resolve_like_gdb() {
        let table = || COMMANDS.iter().map(|(n, a, _)| (*n, *a));
        assert_eq!(resolve("p", table()), Some("print"));
        assert_eq!(resolve("bt", table()), Some("bt"));
        assert_eq!(resolve("f", table()), Some("frame"));
        assert_eq!(resolve("disas", table()), Some("disassemble"));
        assert_eq!(resolve("i", table()), Some("info"));
        assert_eq!(resolve("q", table()), Some("quit"));
        assert_eq!(resolve("xyzzy", table()), None);
        assert_eq!(resolve_info("lo"), Some("locals"));
        assert_eq!(resolve_info("frame"), Some("frame"));
    }

    #[test]
    fn command_words_split_off_formats() {
        assert_eq!(split_command("p/x foo"), ("p", Some("x"), "foo"));
        assert_eq!(split_command("x/4xw &v"), ("x", Some("4xw"), "&v"));
        assert_eq!(split_command("bt full"), ("bt", None, "full"));
        assert_eq!(
            split_args("&a, +16, \"x,y\", 3"),
            vec!["&a", "+16", "\"x,y\"", "3"]
        );
    }
}
