//! The `info` subcommands: the frame, its Wasm state, the program's symbols
//! and the dumped process (modules, threads, memories).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use regex::Regex;
use wasm_coredump::Value;
use wasm_symbolicate::variables::{FrameState, NamedKind};

use crate::commands::resolve_info;
use crate::error::{Result, bail};
use crate::session::Session;

fn value_text(value: Value) -> String {
    match value {
        Value::I32(v) => format!("{:#x}\t{v}", v as u32),
        Value::I64(v) => format!("{:#x}\t{v}", v as u64),
        Value::F32(bits) => format!("{}\t(f32 bits {bits:#x})", f32::from_bits(bits)),
        Value::F64(bits) => format!("{}\t(f64 bits {bits:#x})", f64::from_bits(bits)),
        Value::Missing => "<not saved>".into(),
        other => other.to_string(),
    }
}

fn matcher(args: &str) -> Result<Option<Regex>> {
    let pattern = args.trim();
    if pattern.is_empty() {
        return Ok(None);
    }
    match Regex::new(pattern) {
        Ok(r) => Ok(Some(r)),
        Err(e) => bail!("Invalid regexp: {e}"),
    }
}

impl Session {
    pub(crate) fn info(&mut self, args: &str, out: &mut String) -> Result<()> {
        let (word, rest) = match args.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (args, ""),
        };
        if word.is_empty() {
            bail!(
                "List of info subcommands: {}. Try \"help info\".",
                crate::commands::INFO_COMMANDS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let Some(sub) = resolve_info(word) else {
            bail!("Undefined info command: \"{word}\".  Try \"help info\".");
        };
        match sub {
            "frame" => self.info_frame(out),
            "locals" => self.locals_output(false, out),
            "args" => self.locals_output(true, out),
            "source" => self.info_source(out),
            "registers" | "all-registers" => self.info_registers(rest, out),
            "functions" => self.info_functions(rest, out),
            "types" => self.info_named(NamedKind::Type, rest, out),
            "variables" => self.info_named(NamedKind::Static, rest, out),
            "globals" => self.info_globals(out),
            "imports" => self.info_imports(out),
            "exports" => self.info_exports(out),
            "modules" | "sharedlibrary" => self.info_modules(out),
            "threads" => self.info_threads(out),
            "memory" => self.info_memory(out),
            "process" => self.info_process(out),
            "line" => self.info_line(out),
            _ => bail!("Undefined info command: \"{word}\".  Try \"help info\"."),
        }
    }

    fn info_frame(&self, out: &mut String) -> Result<()> {
        let index = self.selected;
        let Some(frame) = self.frames.get(index) else {
            bail!("No stack.");
        };
        let sp = self.stack.frame_sp(frame.physical);
        let _ = writeln!(
            out,
            "Stack level {index}, frame at {}:",
            sp.map_or_else(|| "<unknown sp>".to_string(), |s| format!("{s:#x}"))
        );
        let pc = self
            .frame_pc(index)
            .map_or_else(|| "??".into(), |p| format!("{p:#010x}"));
        let place = match (frame.source.file_name(), frame.source.line) {
            (Some(f), Some(l)) => format!(" ({f}:{l})"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            " pc = {pc} in {}{place}; wasm function {}, code offset {:#x}",
            frame.source.function_name(),
            frame.location.function,
            frame.location.offset
        );
        let mut relations = Vec::new();
        if index + 1 < self.frames.len() {
            relations.push(format!("called by frame at level {}", index + 1));
        }
        if index > 0 {
            relations.push(format!("caller of frame at level {}", index - 1));
        }
        if !relations.is_empty() {
            let _ = writeln!(out, " {}", relations.join(", "));
        }
        if frame.source.inlined {
            let _ = writeln!(out, " inlined into frame {}", index + 1);
        }
        let _ = writeln!(out, " source language {}.", self.language_name(index));
        if let Some(file) = &frame.source.file {
            let _ = writeln!(out, " source file {file}");
        }
        let dumped = self.dump.main_frames().get(frame.physical);
        if let Some(f) = dumped {
            let _ = writeln!(
                out,
                " wasm frame {} of instance {}: {} locals, {} operand stack values dumped",
                frame.physical,
                f.instance,
                f.locals.len(),
                f.stack.len()
            );
        }
        let args = self.locals_text(index, true, "");
        let _ = writeln!(out, " Arglist: {}", args.trim_end().replace('\n', ", "));
        if let Some(e) = &frame.error {
            let _ = writeln!(out, " warning: {e}");
        }
        Ok(())
    }

    fn info_registers(&self, which: &str, out: &mut String) -> Result<()> {
        let Some(frame) = self.frames.get(self.selected) else {
            bail!("No stack.");
        };
        let Some(dumped) = self.dump.main_frames().get(frame.physical) else {
            bail!("No stack.");
        };
        let state = self.stack.state(&self.dump, frame.physical);
        let which = which.trim_start_matches('$');
        let wanted = |name: &str| which.is_empty() || which == name;
        if let Some(pc) = self.frame_pc(self.selected)
            && wanted("pc")
        {
            let _ = writeln!(
                out,
                "{:<16}{pc:#x}\t(wasm function {}, code offset {:#x})",
                "pc", frame.location.function, frame.location.offset
            );
        }
        let params = self
            .module
            .param_counts
            .get(frame.location.function as usize)
            .copied()
            .unwrap_or(0);
        if dumped.locals.is_empty() {
            if which.is_empty() {
                out.push_str("(the dump records no locals for this frame)\n");
            }
            if let Some(state) = &state {
                for i in 0..64u32 {
                    if state.is_recovered_local(i)
                        && let Some(v) = state.local(i)
                        && wanted(&format!("local{i}"))
                    {
                        let _ = writeln!(
                            out,
                            "{:<16}{}\t(recovered from the prologue)",
                            format!("local{i}"),
                            value_text(v)
                        );
                    }
                }
            }
        }
        for (i, v) in dumped.locals.iter().enumerate() {
            let name = format!("local{i}");
            if wanted(&name) {
                let note = if (i as u32) < params { "\t(param)" } else { "" };
                let _ = writeln!(out, "{name:<16}{}{note}", value_text(*v));
            }
        }
        for (i, v) in dumped.stack.iter().enumerate() {
            let name = format!("stack{i}");
            if wanted(&name) {
                let _ = writeln!(out, "{name:<16}{}", value_text(*v));
            }
        }
        let instance = self.dump.instances.get(dumped.instance as usize);
        let count = instance.map_or(self.dump.globals.len(), |i| i.globals.len());
        for g in 0..count as u32 {
            let name = format!("global{g}");
            if !wanted(&name) && self.module.global_name(g) != Some(which) {
                continue;
            }
            let value = match &state {
                Some(s) => s.global(g),
                None => self
                    .dump
                    .instance_global(dumped.instance, g)
                    .map(|g| g.value),
            };
            let Some(value) = value else { continue };
            let label = self
                .module
                .global_name(g)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            let note = if frame.physical > 0 && Some(g) == self.stack.sp_global {
                "\t(this frame's value, recovered)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{:<16}{}{note}",
                format!("{name}{label}"),
                value_text(value)
            );
        }
        if !which.is_empty() && out.is_empty() {
            bail!("Invalid register `{which}'");
        }
        Ok(())
    }

    fn info_functions(&self, args: &str, out: &mut String) -> Result<()> {
        let re = matcher(args)?;
        let functions = self.symbols.functions()?;
        match &re {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "All functions matching regular expression \"{}\":",
                    r.as_str()
                );
            }
            None => out.push_str("All defined functions:\n"),
        }
        let mut by_file: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
        let mut plain = Vec::new();
        for f in &functions {
            let name = &f.name.name;
            if re.as_ref().is_some_and(|r| !r.is_match(name)) {
                continue;
            }
            match &f.decl_file {
                Some(file) => by_file
                    .entry(file.clone())
                    .or_default()
                    .push((f.decl_line.unwrap_or(0), name.clone())),
                None => plain.push((f.function_index, name.clone())),
            }
        }
        for (file, mut entries) in by_file {
            crate::interrupt::check()?;
            let _ = writeln!(out, "\nFile {file}:");
            entries.sort();
            entries.dedup();
            for (line, name) in entries {
                let _ = writeln!(out, "{line}:\t{name};");
            }
        }
        if !plain.is_empty() {
            out.push_str("\nNon-debugging symbols:\n");
            for (index, name) in plain {
                let pc = index
                    .and_then(|i| self.symbols.layout().function_body(i))
                    .map_or_else(|| "??".to_string(), |b| format!("{:#010x}", b.start));
                let _ = writeln!(out, "{pc}  {name}");
            }
        }
        Ok(())
    }

    fn info_named(&self, kind: NamedKind, args: &str, out: &mut String) -> Result<()> {
        let re = matcher(args)?;
        let entries = self.symbols.named_entries()?;
        let what = if kind == NamedKind::Type {
            "types"
        } else {
            "variables"
        };
        match &re {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "All {what} matching regular expression \"{}\":",
                    r.as_str()
                );
            }
            None => {
                let _ = writeln!(out, "All defined {what}:");
            }
        }
        let mut by_file: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
        for e in entries.iter().filter(|e| e.kind == kind) {
            if re.as_ref().is_some_and(|r| !r.is_match(&e.qualified_name)) {
                continue;
            }
            let shown = match (kind, e.keyword) {
                (NamedKind::Type, "struct" | "union" | "enum" | "class") => {
                    format!("{} {}", e.keyword, e.qualified_name)
                }
                (NamedKind::Type, "typedef") => format!("typedef {}", e.qualified_name),
                _ => e.qualified_name.clone(),
            };
            by_file
                .entry(e.decl_file.clone().unwrap_or_default())
                .or_default()
                .push((e.decl_line.unwrap_or(0), shown));
        }
        for (file, mut items) in by_file {
            if file.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "\nFile {file}:");
            }
            items.sort();
            items.dedup();
            for (line, name) in items {
                if line > 0 {
                    let _ = writeln!(out, "{line}:\t{name};");
                } else {
                    let _ = writeln!(out, "\t{name};");
                }
            }
        }
        Ok(())
    }

    fn info_globals(&self, out: &mut String) -> Result<()> {
        let instance = self.dump.main_frames().first().map_or(0, |f| f.instance);
        let count = self
            .dump
            .instances
            .get(instance as usize)
            .map_or(self.dump.globals.len(), |i| i.globals.len());
        if count == 0 {
            out.push_str("The dump records no globals.\n");
        }
        for g in 0..count as u32 {
            let Some(global) = self.dump.instance_global(instance, g) else {
                continue;
            };
            let name = self
                .module
                .global_name(g)
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            let mutability = if global.mutable { "mut " } else { "" };
            let _ = writeln!(
                out,
                "global {g}{name}: {mutability}{} = {}",
                global.ty,
                value_text(global.value)
            );
        }
        Ok(())
    }

    fn info_imports(&self, out: &mut String) -> Result<()> {
        if self.module.imports.is_empty() {
            out.push_str("The module has no imports.\n");
        }
        for i in &self.module.imports {
            let sig = i
                .signature
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            let _ = writeln!(out, "{} {}: {}.{}{sig}", i.kind, i.index, i.module, i.name);
        }
        Ok(())
    }

    fn info_exports(&self, out: &mut String) -> Result<()> {
        if self.module.exports.is_empty() {
            out.push_str("The module has no exports.\n");
        }
        for e in &self.module.exports {
            let target = if e.kind == "func" {
                self.symbols
                    .function_name(e.index)
                    .map(|n| format!(" ({})", n.name))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{} \"{}\": {} {}{target}",
                e.kind, e.name, e.kind, e.index
            );
        }
        Ok(())
    }

    fn info_modules(&self, out: &mut String) -> Result<()> {
        let module = self.symbols.module();
        let layout = self.symbols.layout();
        let _ = writeln!(out, "Module file: {}", module.display_name());
        let _ = writeln!(
            out,
            "  build id: {}",
            layout
                .build_id()
                .map_or_else(|| "none".to_string(), |b| b.to_string())
        );
        let _ = writeln!(
            out,
            "  functions: {} ({} imported)",
            layout.function_count(),
            layout.imported_functions()
        );
        let _ = writeln!(out, "  debug info: {}", self.symbols.source());
        if self.dump.modules.is_empty() {
            out.push_str("The dump lists no modules.\n");
        }
        for (i, m) in self.dump.modules.iter().enumerate() {
            let id = m
                .build_id
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |b| b.to_string());
            let path = m
                .path
                .as_deref()
                .map(|p| format!(", loaded from {p}"))
                .unwrap_or_default();
            let _ = writeln!(out, "Dumped module {i}: {} (build id {id}{path})", m.name);
        }
        Ok(())
    }

    fn info_threads(&self, out: &mut String) -> Result<()> {
        if self.dump.threads.is_empty() {
            out.push_str("No threads.\n");
            return Ok(());
        }
        out.push_str("  Id   Target Id         Frame\n");
        // In the file's order, whichever thread is selected (moved first).
        for i in 0..self.dump.threads.len() {
            let at = self.thread_order.iter().position(|&t| t == i).unwrap_or(i);
            let thread = &self.dump.threads[at];
            let current = if at == 0 { "*" } else { " " };
            let top = if at == 0 {
                self.frame_line(0)
                    .split_once(' ')
                    .map_or(String::new(), |(_, r)| r.trim().to_string())
            } else {
                thread
                    .frames
                    .first()
                    .map(|f| {
                        self.symbols
                            .function_name(f.function)
                            .map_or_else(|| format!("wasm function {}", f.function), |n| n.name)
                    })
                    .unwrap_or_default()
            };
            let _ = writeln!(
                out,
                "{current} {:<4} Thread {} \"{}\" {top}",
                i + 1,
                i + 1,
                thread.name
            );
        }
        Ok(())
    }

    fn info_memory(&self, out: &mut String) -> Result<()> {
        if self.dump.memories.is_empty() {
            out.push_str("The dump has no linear memory.\n");
        }
        for (i, m) in self.dump.memories.iter().enumerate() {
            let limits = m.limits();
            let _ = writeln!(
                out,
                "memory {i}: {} pages ({:#x} bytes){}{}; {} bytes stored in {} regions",
                limits.pages,
                m.size(),
                limits
                    .maximum
                    .map(|x| format!(", max {x} pages"))
                    .unwrap_or_default(),
                if limits.memory64 { ", 64-bit" } else { "" },
                m.stored_bytes(),
                m.regions().len()
            );
            for r in m.regions().iter().take(32) {
                let _ = writeln!(
                    out,
                    "  {:#010x}-{:#010x}",
                    r.address,
                    r.address + r.bytes.len() as u64
                );
            }
            if m.regions().len() > 32 {
                let _ = writeln!(out, "  ... {} more regions", m.regions().len() - 32);
            }
            for ex in m.excluded() {
                let _ = writeln!(
                    out,
                    "  excluded by the capturing tool: {:#x}-{:#x}",
                    ex.start, ex.end
                );
            }
        }
        for (i, decl) in self.module.memories.iter().enumerate() {
            let _ = writeln!(out, "module memory {i}: {decl}");
        }
        Ok(())
    }

    fn info_process(&self, out: &mut String) -> Result<()> {
        let name = self.dump.executable_name.as_deref().unwrap_or("<unknown>");
        let _ = writeln!(out, "process: {name}");
        let _ = writeln!(out, "core file: {}", self.dump_path.display());
        match &self.dump.trap {
            Some(t) => {
                let _ = writeln!(out, "trap: {} ({})", t.kind, t.message);
            }
            None => out.push_str("trap: not recorded\n"),
        }
        let _ = writeln!(
            out,
            "dumped locals: {}",
            if self.lacks_locals() {
                "not recorded (native dump)"
            } else {
                "recorded"
            }
        );
        for (k, v) in &self.dump.info {
            let _ = writeln!(out, "{k}: {v}");
        }
        Ok(())
    }

    fn info_line(&self, out: &mut String) -> Result<()> {
        let Some(frame) = self.frames.get(self.selected) else {
            bail!("No stack.");
        };
        let pc = self
            .frame_pc(self.selected)
            .map_or_else(|| "??".into(), |p| format!("{p:#x}"));
        match (&frame.source.file, frame.source.line) {
            (Some(file), Some(line)) => {
                let _ = writeln!(
                    out,
                    "Line {line} of \"{file}\" is at address {pc} <{}>.",
                    frame.source.function_name()
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "No line number information available for address {pc} <{}>",
                    frame.source.function_name()
                );
            }
        }
        Ok(())
    }
}
