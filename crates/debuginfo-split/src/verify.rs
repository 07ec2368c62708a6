//! Checking that a stripped module and a debug file belong together.

use std::fmt;

use serde::Serialize;
use wasm_coredump::BuildId;

use crate::ModuleError;
use crate::module::Module;

/// Which of the two files a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    Stripped,
    Debug,
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Which::Stripped => "the stripped module",
            Which::Debug => "the debug file",
        })
    }
}

/// Why the two files do not belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mismatch {
    #[error("{which} has no build_id section")]
    MissingBuildId { which: Which },
    #[error("the build ids differ: {stripped} (stripped) vs {debug} (debug file)")]
    BuildIdsDiffer { stripped: String, debug: String },
    #[error("{which} has no Code section but the other file has one")]
    MissingCode { which: Which },
    #[error(
        "the Code sections differ ({stripped_len} bytes stripped, {debug_len} bytes in the debug \
         file; first difference at payload offset {first_difference:#x}): DWARF addresses would \
         point at the wrong instructions"
    )]
    CodeDiffers {
        stripped_len: usize,
        debug_len: usize,
        first_difference: usize,
    },
}

/// Something odd that does not make the pair unusable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Warning {
    #[error("the stripped module still carries DWARF")]
    StrippedHasDwarf,
    #[error("the debug file has no DWARF")]
    DebugHasNoDwarf,
    #[error("the stripped module has no external_debug_info section")]
    NoExternalDebugInfo,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The build id when both files agree on it.
    #[serde(serialize_with = "ser_opt_display")]
    pub build_id: Option<BuildId>,
    /// Size of the Code section payload when both files agree on it.
    pub code_bytes: Option<usize>,
    /// The stripped module's `external_debug_info` URL.
    pub external_url: Option<String>,
    pub mismatches: Vec<Mismatch>,
    pub warnings: Vec<Warning>,
}

impl Verification {
    /// Whether the files belong together: same build id, same Code section.
    pub fn matches(&self) -> bool {
        self.mismatches.is_empty()
    }
}

fn ser_opt_display<S: serde::Serializer>(id: &Option<BuildId>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(id),
        None => s.serialize_none(),
    }
}

/// Reports why the error is about which file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{which}: {source}")]
pub struct VerifyError {
    pub which: Which,
    pub source: ModuleError,
}

/// Checks that `debug` is the debug file of `stripped`: both carry the same
/// build id, and their Code section payloads are byte-identical (so the
/// debug file's DWARF addresses resolve in the stripped module).
pub fn verify(stripped: &[u8], debug: &[u8]) -> Result<Verification, VerifyError> {
    let tag = |which| move |source| VerifyError { which, source };
    let s = Module::parse(stripped).map_err(tag(Which::Stripped))?;
    let d = Module::parse(debug).map_err(tag(Which::Debug))?;
    let s_id = s.build_id().map_err(tag(Which::Stripped))?;
    let d_id = d.build_id().map_err(tag(Which::Debug))?;
    let external_url = s.external_debug_info().map_err(tag(Which::Stripped))?;

    let mut mismatches = Vec::new();
    let build_id = match (s_id, d_id) {
        (Some(a), Some(b)) if a == b => Some(a),
        (Some(a), Some(b)) => {
            mismatches.push(Mismatch::BuildIdsDiffer {
                stripped: a.to_string(),
                debug: b.to_string(),
            });
            None
        }
        (a, b) => {
            if a.is_none() {
                mismatches.push(Mismatch::MissingBuildId {
                    which: Which::Stripped,
                });
            }
            if b.is_none() {
                mismatches.push(Mismatch::MissingBuildId {
                    which: Which::Debug,
                });
            }
            None
        }
    };

    let code_bytes = match (s.code_section(), d.code_section()) {
        (Some(a), Some(b)) if a.data == b.data => Some(a.data.len()),
        (Some(a), Some(b)) => {
            let first_difference = a
                .data
                .iter()
                .zip(b.data)
                .position(|(x, y)| x != y)
                .unwrap_or(a.data.len().min(b.data.len()));
            mismatches.push(Mismatch::CodeDiffers {
                stripped_len: a.data.len(),
                debug_len: b.data.len(),
                first_difference,
            });
            None
        }
        (None, Some(_)) => {
            mismatches.push(Mismatch::MissingCode {
                which: Which::Stripped,
            });
            None
        }
        (Some(_), None) => {
            mismatches.push(Mismatch::MissingCode {
                which: Which::Debug,
            });
            None
        }
        (None, None) => Some(0),
    };

    let mut warnings = Vec::new();
    if s.has_dwarf() {
        warnings.push(Warning::StrippedHasDwarf);
    }
    if !d.has_dwarf() {
        warnings.push(Warning::DebugHasNoDwarf);
    }
    if external_url.is_none() {
        warnings.push(Warning::NoExternalDebugInfo);
    }
    Ok(Verification {
        build_id,
        code_bytes,
        external_url,
        mismatches,
        warnings,
    })
}
