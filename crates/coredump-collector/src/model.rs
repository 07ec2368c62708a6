//! The records the collector keeps and serves: stack traces, dumps, groups,
//! debug files. All of them serialize to the JSON the API returns and to the
//! JSON columns of the index.

use serde::{Deserialize, Serialize};

/// How far symbolication got for a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SymbolicationState {
    /// Every frame's module had a debug file.
    Complete,
    /// Some modules had a debug file, some are still awaited.
    Partial,
    /// No frame could be symbolicated yet: the debug files are awaited.
    Pending,
    /// The frames' modules have no build id, so no debug file can ever match.
    Unavailable,
}

impl SymbolicationState {
    pub fn as_str(self) -> &'static str {
        match self {
            SymbolicationState::Complete => "complete",
            SymbolicationState::Partial => "partial",
            SymbolicationState::Pending => "pending",
            SymbolicationState::Unavailable => "unavailable",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "complete" => SymbolicationState::Complete,
            "partial" => SymbolicationState::Partial,
            "pending" => SymbolicationState::Pending,
            _ => SymbolicationState::Unavailable,
        }
    }
}

/// One source-level frame (a Wasm frame expands to one per inlined call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    /// Demangled function name, when DWARF or the `name` section gives one.
    pub function: Option<String>,
    /// The mangled name, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkage_name: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// Inlined into the next location of the same Wasm frame.
    pub inlined: bool,
    /// Whether this location counts as the application's own code (see
    /// [`crate::fingerprint`]).
    pub in_app: bool,
}

impl SourceLocation {
    /// `name at file:line:col`, like a debugger's backtrace line.
    pub fn display(&self) -> String {
        let mut out = self.function.clone().unwrap_or_else(|| "??".to_string());
        if let Some(file) = &self.file {
            out.push_str(" at ");
            out.push_str(file);
            if let Some(line) = self.line {
                out.push_str(&format!(":{line}"));
                if let Some(column) = self.column {
                    out.push_str(&format!(":{column}"));
                }
            }
        }
        out
    }
}

/// One Wasm frame of the crashing thread, youngest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    /// Position in the thread, 0 = the trapping frame.
    pub index: usize,
    pub instance: u32,
    /// Index into the dump's module list, when the dump says.
    pub module: Option<u32>,
    /// The module's name from the dump.
    pub module_name: Option<String>,
    /// Build id (lower-case hex) of the module, when known.
    pub build_id: Option<String>,
    pub function_index: u32,
    /// Offset from the start of the function body (0 = unknown).
    pub code_offset: u32,
    /// Whether `locations` came from a debug file.
    pub symbolicated: bool,
    /// Innermost inlined location first; the last is the Wasm function itself.
    /// Empty until symbolicated.
    pub locations: Vec<SourceLocation>,
    /// Why the frame is not symbolicated, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl StackFrame {
    /// The frame's display name: the outermost location's function, else
    /// `func[N]`.
    pub fn function_name(&self) -> String {
        self.locations
            .last()
            .and_then(|l| l.function.clone())
            .unwrap_or_else(|| format!("func[{}]", self.function_index))
    }

    /// Whether any location of this frame is in-app.
    pub fn in_app(&self) -> bool {
        self.locations.iter().any(|l| l.in_app)
    }
}

/// The crashing thread's stack, symbolicated as far as the debug files allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackTrace {
    pub thread: String,
    pub frames: Vec<StackFrame>,
    pub state: SymbolicationState,
    /// Build ids whose debug files are awaited.
    pub missing_build_ids: Vec<String>,
}

/// Raw Wasm values of one frame, as the dump records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameValues {
    pub frame: usize,
    /// Parameters then declared locals (`i32:5`, `<missing>`…).
    pub locals: Vec<String>,
    /// The operand stack, bottom first.
    pub stack: Vec<String>,
    /// Whether values were left out to bound the record's size.
    pub truncated: bool,
}

/// Source-level parameters and locals of one frame, evaluated by the
/// symbolication crate against the dump (locals, globals, memory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameVariables {
    /// Which stack frame (0 = the trapping one).
    pub frame: usize,
    /// One scope per source frame at that location, innermost inlined first.
    pub scopes: Vec<ScopeVariables>,
}

/// The variables in scope in one source frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeVariables {
    pub function: String,
    pub inlined: bool,
    pub variables: Vec<VariableInfo>,
}

/// One parameter or local, printed as a debugger prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableInfo {
    pub name: String,
    pub parameter: bool,
    #[serde(rename = "type")]
    pub type_name: String,
    /// `3`, `"widget"`, `<optimized out>`, `<unavailable: …>`.
    pub value: String,
}

/// A module the dumped process had loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    pub index: u32,
    pub name: String,
    pub build_id: Option<String>,
    pub path: Option<String>,
    /// Whether a debug file for `build_id` is stored.
    #[serde(default)]
    pub has_debug_file: bool,
}

/// A stored dump with everything the dump page shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpRecord {
    pub id: String,
    pub group_id: String,
    /// Unix milliseconds.
    pub received_at: i64,
    pub size: i64,
    pub sha256: String,
    /// Whether the dump file is still stored (retention may prune it).
    pub stored: bool,
    pub service: Option<String>,
    pub version: Option<String>,
    pub environment: Option<String>,
    pub trap_kind: String,
    pub trap_message: String,
    pub executable: Option<String>,
    pub symbolication: SymbolicationState,
    pub top_frame: String,
    pub stack: StackTrace,
    pub values: Vec<FrameValues>,
    /// Source-level arguments and locals of the top in-app frame, when its
    /// debug file was there to read them.
    pub variables: Option<FrameVariables>,
    pub modules: Vec<ModuleInfo>,
    /// Metadata sent with the dump (service, request context…), sensitive
    /// headers scrubbed.
    pub context: serde_json::Value,
}

/// A dump in a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpSummary {
    pub id: String,
    pub group_id: String,
    pub received_at: i64,
    pub size: i64,
    pub stored: bool,
    pub service: Option<String>,
    pub version: Option<String>,
    pub environment: Option<String>,
    pub trap_kind: String,
    pub symbolication: SymbolicationState,
    pub top_frame: String,
}

/// A group of dumps with the same fingerprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: String,
    /// The text the fingerprint hashes (version, trap kind, frames).
    pub fingerprint: String,
    pub fingerprint_version: i64,
    pub title: String,
    pub trap_kind: String,
    pub top_frame: String,
    /// Dumps received in the retention window, including those whose file
    /// was pruned by the per-group cap.
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A stored debug file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DebugFileRecord {
    pub build_id: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_at: i64,
    /// Dumps still waiting for this build id.
    #[serde(default)]
    pub waiting_dumps: i64,
}

/// The reply to a successful ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReply {
    pub id: String,
    pub group_id: String,
    pub new_group: bool,
    pub symbolication: SymbolicationState,
    /// Path of the dump's JSON record.
    pub url: String,
}
