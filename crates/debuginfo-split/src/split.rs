//! Planning the two outputs as lists of input slices plus a few new bytes.

use std::io::{self, IoSlice, Write};
use std::ops::Range;

use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use wasm_coredump::{
    BUILD_ID_SECTION, BuildId, EXTERNAL_DEBUG_INFO_SECTION, append_custom_section,
    external_debug_info_payload,
};

use crate::ModuleError;
use crate::module::{Module, SectionRole};

/// The UUIDv5 name (in the URL namespace) of the namespace in which derived
/// build ids are made. Changing it changes every derived id.
pub const BUILD_ID_NAMESPACE_NAME: &str = "urn:x-wasm-postmortem:debuginfo-split:build-id:v1";

/// The namespace of derived build ids: `UUIDv5(NAMESPACE_URL, BUILD_ID_NAMESPACE_NAME)`.
pub fn build_id_namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, BUILD_ID_NAMESPACE_NAME.as_bytes())
}

/// The build id derived from a module's bytes:
/// `UUIDv5(build_id_namespace(), SHA-256(module))`.
///
/// The whole input file is hashed, so the same input always gets the same id
/// (a reproducible build keeps its id) and any change to the input, code or
/// DWARF, gives a new one. The result is a well-formed RFC 9562 version-5
/// UUID, stored as 16 bytes like lld's.
pub fn derive_build_id(module: &[u8]) -> BuildId {
    let digest = Sha256::digest(module);
    BuildId::from_uuid(Uuid::new_v5(&build_id_namespace(), digest.as_slice()))
}

/// Where the build id of a split comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildIdSource {
    /// The input's own `build_id` section, kept byte for byte.
    Existing,
    /// Derived from the input's bytes ([`derive_build_id`]).
    Derived,
    /// Given by the caller (`--build-id`); replaces any existing section.
    Override,
}

/// The build id a split will use, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildIdChoice {
    pub id: BuildId,
    pub source: BuildIdSource,
}

/// The options of an in-memory split.
#[derive(Debug, Clone, Default)]
pub struct SplitOptions {
    /// Use this build id instead of the existing or derived one.
    pub build_id: Option<BuildId>,
    /// Remove the `name` section from the stripped module too.
    pub strip_names: bool,
    /// The `external_debug_info` URL; `{build_id}` is replaced by the id.
    /// Default: [`debug_file_name`].
    pub external_url: Option<String>,
}

/// The default name of a debug file: `debug-<uuid>.wasm`.
pub fn debug_file_name(id: &BuildId) -> String {
    format!("debug-{id}.wasm")
}

/// Expands `{build_id}` in a URL template to the id's text form.
pub fn expand_url_template(template: &str, id: &BuildId) -> String {
    template.replace("{build_id}", &id.to_string())
}

impl<'a> Module<'a> {
    /// Refuses modules that have nothing to split: exit code 4 when the
    /// module names an external debug file and has no DWARF, 3 when it has
    /// neither.
    pub fn check_splittable(&self) -> Result<(), ModuleError> {
        if self.has_dwarf() {
            return Ok(());
        }
        match self.external_debug_info()? {
            Some(url) => Err(ModuleError::AlreadySplit { url }),
            None => Err(ModuleError::NoDwarf),
        }
    }

    /// The id to use: `requested` if given, else the module's own, else one
    /// derived from its bytes.
    pub fn choose_build_id(
        &self,
        requested: Option<&BuildId>,
    ) -> Result<BuildIdChoice, ModuleError> {
        if let Some(id) = requested {
            return Ok(BuildIdChoice {
                id: id.clone(),
                source: BuildIdSource::Override,
            });
        }
        Ok(match self.build_id()? {
            Some(id) => BuildIdChoice {
                id,
                source: BuildIdSource::Existing,
            },
            None => BuildIdChoice {
                id: derive_build_id(self.bytes()),
                source: BuildIdSource::Derived,
            },
        })
    }

    /// Plans both outputs. Nothing is copied: each output is a list of input
    /// slices plus the new `build_id` / `external_debug_info` sections.
    ///
    /// - stripped: every section except `.debug_*` (and `reloc..debug_*`),
    ///   `external_debug_info`, `name` when `strip_names`, and `build_id` when
    ///   the id is not the existing one; then a new `build_id` (unless kept)
    ///   and `external_debug_info(external_url)`.
    /// - debug file: every section except `external_debug_info` (its DWARF
    ///   must not be ignored) and `build_id` when the id is not the existing
    ///   one; then a new `build_id` (unless kept).
    pub fn plan_split(
        &self,
        build_id: &BuildIdChoice,
        external_url: &str,
        strip_names: bool,
    ) -> Result<Split<'a>, ModuleError> {
        if external_url.is_empty() {
            return Err(ModuleError::InvalidUrl("the URL is empty".to_string()));
        }
        if u32::try_from(external_url.len()).is_err() {
            return Err(ModuleError::InvalidUrl("the URL is too long".to_string()));
        }
        let replace_id = build_id.source != BuildIdSource::Existing;
        let mut stripped = Output::new(self.bytes());
        let mut debug = Output::new(self.bytes());
        stripped.push_input(self.header());
        debug.push_input(self.header());
        let mut dwarf_bytes = 0;
        let mut dwarf_sections = Vec::new();
        for section in self.sections() {
            let (to_stripped, to_debug) = match section.role() {
                SectionRole::Dwarf => {
                    dwarf_bytes += section.raw.len();
                    dwarf_sections.push(section.name.unwrap_or_default());
                    (false, true)
                }
                SectionRole::ExternalDebugInfo => (false, false),
                SectionRole::BuildId => (!replace_id, !replace_id),
                SectionRole::Names => (!strip_names, true),
                SectionRole::Code | SectionRole::Other => (true, true),
            };
            if to_stripped {
                stripped.push_input(section.range.clone());
            }
            if to_debug {
                debug.push_input(section.range.clone());
            }
        }
        if replace_id {
            let mut section = Vec::with_capacity(32);
            append_custom_section(
                &mut section,
                BUILD_ID_SECTION,
                &build_id.id.to_section_payload(),
            );
            stripped.push_owned(section.clone());
            debug.push_owned(section);
        }
        let mut section = Vec::with_capacity(external_url.len() + 32);
        append_custom_section(
            &mut section,
            EXTERNAL_DEBUG_INFO_SECTION,
            &external_debug_info_payload(external_url),
        );
        stripped.push_owned(section);
        Ok(Split {
            build_id: build_id.clone(),
            external_url: external_url.to_string(),
            stripped,
            debug,
            dwarf_bytes,
            dwarf_sections,
        })
    }
}

/// A planned split: the bytes of both outputs, not yet copied.
#[derive(Debug, Clone)]
pub struct Split<'a> {
    pub build_id: BuildIdChoice,
    pub external_url: String,
    /// The module without DWARF.
    pub stripped: Output<'a>,
    /// The debug file.
    pub debug: Output<'a>,
    /// Total size of the removed DWARF sections, headers included.
    pub dwarf_bytes: usize,
    /// Names of the removed DWARF sections, in file order.
    pub dwarf_sections: Vec<&'a str>,
}

/// An output file as a sequence of input ranges and new bytes.
#[derive(Debug, Clone)]
pub struct Output<'a> {
    input: &'a [u8],
    parts: Vec<Part>,
    len: usize,
}

#[derive(Debug, Clone)]
enum Part {
    Input(Range<usize>),
    Owned(Vec<u8>),
}

impl<'a> Output<'a> {
    fn new(input: &'a [u8]) -> Self {
        Output {
            input,
            parts: Vec::new(),
            len: 0,
        }
    }

    /// Appends an input range, merging it with the previous one when they touch.
    fn push_input(&mut self, range: Range<usize>) {
        self.len += range.len();
        if let Some(Part::Input(last)) = self.parts.last_mut()
            && last.end == range.start
        {
            last.end = range.end;
            return;
        }
        self.parts.push(Part::Input(range));
    }

    fn push_owned(&mut self, bytes: Vec<u8>) {
        self.len += bytes.len();
        self.parts.push(Part::Owned(bytes));
    }

    /// The output's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the output is empty (never, for a planned split).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The output's pieces, in order.
    pub fn slices(&self) -> impl Iterator<Item = &[u8]> {
        self.parts.iter().map(|part| match part {
            Part::Input(range) => &self.input[range.clone()],
            Part::Owned(bytes) => bytes.as_slice(),
        })
    }

    /// The output's bytes, copied into one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for slice in self.slices() {
            out.extend_from_slice(slice);
        }
        out
    }

    /// Writes the output with vectored writes straight from the input
    /// buffer: usually a single `writev` call, and no copy in memory.
    pub fn write_to<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = self.slices().map(IoSlice::new).collect();
        let mut remaining = &mut slices[..];
        IoSlice::advance_slices(&mut remaining, 0);
        while !remaining.is_empty() {
            match out.write_vectored(remaining) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => IoSlice::advance_slices(&mut remaining, written),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}

/// The result of [`split`]: both outputs as owned bytes.
#[derive(Debug, Clone)]
pub struct SplitBytes {
    pub build_id: BuildIdChoice,
    pub external_url: String,
    pub stripped: Vec<u8>,
    pub debug: Vec<u8>,
}

/// Splits a module in memory. Fails with [`ModuleError::NoDwarf`] or
/// [`ModuleError::AlreadySplit`] when there is nothing to split.
pub fn split(input: &[u8], options: &SplitOptions) -> Result<SplitBytes, ModuleError> {
    let module = Module::parse(input)?;
    module.check_splittable()?;
    let build_id = module.choose_build_id(options.build_id.as_ref())?;
    let url = match &options.external_url {
        Some(template) => expand_url_template(template, &build_id.id),
        None => debug_file_name(&build_id.id),
    };
    let plan = module.plan_split(&build_id, &url, options.strip_names)?;
    Ok(SplitBytes {
        stripped: plan.stripped.to_vec(),
        debug: plan.debug.to_vec(),
        build_id: plan.build_id,
        external_url: plan.external_url,
    })
}
