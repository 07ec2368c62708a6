//! The interactive loop: readline editing and history (rustyline), tab
//! completion of commands, `info` subcommands, variables and type names,
//! and gdb's keys: Ctrl-C abandons the line, Ctrl-D quits, an empty line
//! repeats the last command.

use std::cell::RefCell;
use std::io::Write as _;
use std::path::PathBuf;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::commands::{COMMANDS, Flow, INFO_COMMANDS};
use crate::session::Session;

/// The prompt, as gdb's `(gdb) `.
pub const PROMPT: &str = "(wasmgdb) ";

struct GdbHelper {
    session: Rc<RefCell<Session>>,
}

impl GdbHelper {
    fn symbol_words(&self) -> Vec<String> {
        let session = self.session.borrow();
        let mut words = Vec::new();
        if let Ok(Some((scopes, inline))) = session.scope(session.selected_frame())
            && let Some(scope) = scopes.get(inline)
        {
            words.extend(scope.variables.iter().map(|v| v.name.clone()));
        }
        if let Ok(entries) = session.symbols().named_entries() {
            for e in entries {
                words.push(e.name.clone());
                if e.qualified_name != e.name {
                    words.push(e.qualified_name.clone());
                }
            }
        }
        words.sort();
        words.dedup();
        words
    }
}

fn pairs(prefix: &str, words: impl IntoIterator<Item = String>) -> Vec<Pair> {
    words
        .into_iter()
        .filter(|w| w.starts_with(prefix))
        .map(|w| Pair {
            display: w.clone(),
            replacement: w,
        })
        .collect()
}

impl Completer for GdbHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '$' || c == '-'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let previous: Vec<&str> = before[..start].split_whitespace().collect();
        let candidates = match previous.as_slice() {
            [] => pairs(word, COMMANDS.iter().map(|(n, _, _)| n.to_string())),
            [cmd]
                if crate::commands::resolve_info(word).is_some()
                    || matches!(*cmd, "info" | "i" | "inf") =>
            {
                if matches!(*cmd, "info" | "i" | "inf") {
                    pairs(word, INFO_COMMANDS.iter().map(|(n, _)| n.to_string()))
                } else {
                    pairs(word, self.symbol_words())
                }
            }
            [cmd, "function"] if matches!(*cmd, "frame" | "f") => {
                let session = self.session.borrow();
                let mut names: Vec<String> = session
                    .frames()
                    .iter()
                    .map(|f| f.source.function_name().to_string())
                    .collect();
                names.sort();
                names.dedup();
                pairs(word, names)
            }
            [cmd] if matches!(*cmd, "frame" | "f") => {
                pairs(word, ["function".to_string(), "level".to_string()])
            }
            [cmd] if matches!(*cmd, "help" | "h") => {
                pairs(word, COMMANDS.iter().map(|(n, _, _)| n.to_string()))
            }
            [cmd] if cmd.starts_with("bt") || cmd.starts_with("back") => {
                pairs(word, ["full".to_string()])
            }
            _ => pairs(word, self.symbol_words()),
        };
        Ok((start, candidates))
    }
}

impl Hinter for GdbHelper {
    type Hint = String;
}

impl Highlighter for GdbHelper {}

impl Validator for GdbHelper {}
impl Helper for GdbHelper {}

fn history_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WASMGDB_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".wasmgdb_history"))
}

/// Runs one command and prints its output (stdout) or error (stderr).
pub fn run_command(session: &mut Session, line: &str) -> Flow {
    let mut out = String::new();
    // A Ctrl-C that came at the prompt is not meant for this command.
    crate::interrupt::clear();
    let result = session.execute(line, &mut out);
    print!("{out}");
    let _ = std::io::stdout().flush();
    match result {
        Ok(flow) => flow,
        Err(e) => {
            if session.json_output() {
                eprintln!("{}", serde_json::json!({ "error": e.to_string() }));
            } else {
                eprintln!("{e}");
            }
            Flow::Continue
        }
    }
}

/// The interactive loop; returns when the user quits.
pub fn run(session: Session) -> rustyline::Result<()> {
    let session = Rc::new(RefCell::new(session));
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .max_history_size(1000)?
        .build();
    let mut editor: Editor<GdbHelper, rustyline::history::DefaultHistory> =
        Editor::with_config(config)?;
    // At the prompt the terminal is raw and Ctrl-C reaches readline as a key;
    // while a command runs it is a SIGINT, which stops the command only. Set
    // after the editor, whose own SIGINT handler only wakes a readline. (One
    // handler per process: a second `run` keeps the first.)
    let _ = ctrlc::set_handler(crate::interrupt::request);
    editor.set_helper(Some(GdbHelper {
        session: session.clone(),
    }));
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut last = String::new();
    loop {
        match editor.readline(PROMPT) {
            Ok(line) => {
                let line = if line.trim().is_empty() {
                    last.clone()
                } else {
                    let _ = editor.add_history_entry(line.as_str());
                    last = line.clone();
                    line
                };
                if line.trim().is_empty() {
                    continue;
                }
                let flow = run_command(&mut session.borrow_mut(), &line);
                if flow == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                println!("Quit");
            }
            Err(ReadlineError::Eof) => {
                println!("quit");
                break;
            }
            Err(e) => {
                if let Some(path) = &history {
                    let _ = editor.save_history(path);
                }
                return Err(e);
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}
