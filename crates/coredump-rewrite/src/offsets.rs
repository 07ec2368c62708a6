//! The offset map: where each byte of a rewritten function body came from.
//!
//! Dumps the instrumented module writes itself are already in the input's
//! coordinates. A trap the rewriter does not check (a plain out-of-bounds
//! load without `--bounds-checks`, a stack overflow without a call-depth
//! guard) leaves no dump of its own, and the engine's native dump names the
//! instrumented code. The map, kept in the custom section
//! [`SECTION`], lets a host put such frames back in the input's coordinates
//! ([`OffsetMap::to_input`]), so that the input's DWARF resolves them.
//!
//! Layout (LEB128 throughout): a version byte (2), the input's function count
//! (imports included), the number of rewritten bodies, then for each body its
//! function index, its number of runs and each run. A run is a stretch of
//! bytes copied unchanged, written relative to the end of the previous run:
//! `out_gap * 2 + (in_gap != 0)`, then `in_gap` only when it is not 0, then
//! the length, where `out_gap` is the run's output start minus the previous
//! run's output end and `in_gap` the same in the input. Almost every run
//! follows the previous one directly in the input (the rewriter inserts code
//! and skips little), so most runs take two bytes. Version 1, still read,
//! always wrote `out_gap`, `in_gap`, length. Offsets are from the start of the
//! body (after its size), as in a dump.

use wasmparser::{BinaryReader, Parser, Payload};

use crate::Error;

/// Name of the custom section holding the map.
pub const SECTION: &str = "postmortem.offsets";
const VERSION: u8 = 2;
/// The first layout, with every run's input gap written out.
const VERSION_1: u8 = 1;

/// Bytes `[output, output + len)` of a rewritten body are the input's
/// `[input, input + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub output: u32,
    pub input: u32,
    pub len: u32,
}

/// The map of one instrumented module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetMap {
    /// Functions of the input; higher indices are the rewriter's own.
    pub input_functions: u32,
    /// Rewritten bodies by function index, each with its runs in order.
    pub bodies: Vec<(u32, Vec<Run>)>,
}

impl OffsetMap {
    /// The map in an instrumented module, `Ok(None)` when it has none (it was
    /// not rewritten, or by a rewriter without maps).
    pub fn from_module(wasm: &[u8]) -> Result<Option<OffsetMap>, Error> {
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::CustomSection(c) = payload?
                && c.name() == SECTION
            {
                return OffsetMap::parse(c.data(), c.data_offset()).map(Some);
            }
        }
        Ok(None)
    }

    /// Reads the section's payload (`offset`: its position, for errors).
    pub fn parse(data: &[u8], offset: usize) -> Result<OffsetMap, Error> {
        let mut r = BinaryReader::new(data, offset);
        let version = r.read_u8()?;
        if version != VERSION && version != VERSION_1 {
            return Err(Error::invalid(
                offset,
                format!("{SECTION} version {version}, expected {VERSION_1} or {VERSION}"),
            ));
        }
        let input_functions = r.read_var_u32()?;
        let count = r.read_var_u32()?;
        let mut bodies = Vec::with_capacity(count.min(1 << 16) as usize);
        for _ in 0..count {
            let function = r.read_var_u32()?;
            let n = r.read_var_u32()?;
            let mut runs = Vec::with_capacity(n.min(1 << 16) as usize);
            let (mut out_end, mut in_end) = (0u32, 0u32);
            for _ in 0..n {
                let at = r.original_position();
                let (out_gap, in_gap) = if version == VERSION_1 {
                    (r.read_var_u32()?, r.read_var_u32()?)
                } else {
                    let head = r.read_var_u64()?;
                    let out_gap = u32::try_from(head >> 1)
                        .map_err(|_| Error::invalid(at, "offset map run overflows"))?;
                    let in_gap = if head & 1 == 1 { r.read_var_u32()? } else { 0 };
                    (out_gap, in_gap)
                };
                let output = out_end.checked_add(out_gap);
                let input = in_end.checked_add(in_gap);
                let len = r.read_var_u32()?;
                let (Some(output), Some(input)) = (output, input) else {
                    return Err(Error::invalid(at, "offset map run overflows"));
                };
                let (Some(o), Some(i)) = (output.checked_add(len), input.checked_add(len)) else {
                    return Err(Error::invalid(at, "offset map run overflows"));
                };
                (out_end, in_end) = (o, i);
                runs.push(Run { output, input, len });
            }
            bodies.push((function, runs));
        }
        bodies.sort_by_key(|(f, _)| *f);
        Ok(OffsetMap {
            input_functions,
            bodies,
        })
    }

    /// Encodes the section payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        leb(&mut out, self.input_functions);
        leb(&mut out, self.bodies.len() as u32);
        for (function, runs) in &self.bodies {
            leb(&mut out, *function);
            leb(&mut out, runs.len() as u32);
            let (mut out_end, mut in_end) = (0u32, 0u32);
            for run in runs {
                let in_gap = run.input - in_end;
                let head = (u64::from(run.output - out_end) << 1) | u64::from(in_gap != 0);
                crate::asm::uleb(&mut out, head);
                if in_gap != 0 {
                    leb(&mut out, in_gap);
                }
                leb(&mut out, run.len);
                out_end = run.output + run.len;
                in_end = run.input + run.len;
            }
        }
        out
    }

    /// The input's code offset for `offset` in function `function` of the
    /// instrumented module; `None` for the rewriter's own functions. An
    /// offset in code the rewriter inserted maps to the input instruction the
    /// insertion precedes (the checked instruction, or the first one).
    pub fn to_input(&self, function: u32, offset: u32) -> Option<u32> {
        if function >= self.input_functions {
            return None;
        }
        let Ok(i) = self.bodies.binary_search_by_key(&function, |(f, _)| *f) else {
            // Not rewritten: copied as it was.
            return Some(offset);
        };
        let runs = &self.bodies[i].1;
        let after = runs.partition_point(|r| r.output <= offset);
        if let Some(run) = after.checked_sub(1).map(|k| &runs[k])
            && offset < run.output + run.len
        {
            return Some(run.input + (offset - run.output));
        }
        match runs.get(after) {
            Some(next) => Some(next.input),
            None => runs.last().map(|r| r.input + r.len),
        }
    }
}

fn leb(out: &mut Vec<u8>, v: u32) {
    crate::asm::uleb(out, u64::from(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> OffsetMap {
        OffsetMap {
            input_functions: 5,
            bodies: vec![(
                3,
                vec![
                    Run {
                        output: 10,
                        input: 2,
                        len: 4,
                    },
                    Run {
                        output: 20,
                        input: 6,
                        len: 3,
                    },
                ],
            )],
        }
    }

    #[test]
    fn round_trips() {
        let m = map();
        assert_eq!(OffsetMap::parse(&m.encode(), 0).expect("parse"), m);
    }

    #[test]
    fn maps_copied_inserted_and_untouched_code() {
        let m = map();
        assert_eq!(m.to_input(3, 11), Some(3), "inside the first run");
        assert_eq!(m.to_input(3, 15), Some(6), "inserted before the second run");
        assert_eq!(m.to_input(3, 0), Some(2), "the prologue the rewriter added");
        assert_eq!(m.to_input(3, 22), Some(8));
        assert_eq!(m.to_input(3, 40), Some(9), "past the last run");
        assert_eq!(m.to_input(1, 7), Some(7), "a body left as it was");
        assert_eq!(m.to_input(5, 7), None, "the rewriter's own function");
    }

    /// Version 1's layout, as rewriters before version 2 wrote it.
    fn encode_version_1(m: &OffsetMap) -> Vec<u8> {
        let mut out = vec![VERSION_1];
        leb(&mut out, m.input_functions);
        leb(&mut out, m.bodies.len() as u32);
        for (function, runs) in &m.bodies {
            leb(&mut out, *function);
            leb(&mut out, runs.len() as u32);
            let (mut out_end, mut in_end) = (0u32, 0u32);
            for run in runs {
                leb(&mut out, run.output - out_end);
                leb(&mut out, run.input - in_end);
                leb(&mut out, run.len);
                (out_end, in_end) = (run.output + run.len, run.input + run.len);
            }
        }
        out
    }

    #[test]
    fn version_1_maps_still_read() {
        let m = map();
        assert_eq!(
            OffsetMap::parse(&encode_version_1(&m), 0).expect("parse"),
            m
        );
    }

    #[test]
    fn runs_that_follow_in_the_input_take_two_bytes() {
        // After the first run, each starts where the previous ended in the
        // input, with a few inserted bytes before it in the output.
        let runs: Vec<Run> = (0..100)
            .map(|i| Run {
                output: 2 + i * 12,
                input: i * 4,
                len: 4,
            })
            .collect();
        let m = OffsetMap {
            input_functions: 1,
            bodies: vec![(0, runs)],
        };
        let encoded = m.encode();
        // Version, function count, body count, function, run count: a byte
        // each; then two bytes a run.
        assert_eq!(encoded.len(), 1 + 1 + 1 + 1 + 1 + 200, "{encoded:?}");
        assert!(encoded.len() < encode_version_1(&m).len());
        assert_eq!(OffsetMap::parse(&encoded, 0).expect("parse"), m);
        let newer = OffsetMap::parse(&[VERSION + 1], 0).map_err(|e| e.to_string());
        assert!(newer.unwrap_err().contains("version 3"));
    }

    #[test]
    fn truncated_maps_are_errors() {
        let bytes = map().encode();
        for len in 0..bytes.len() {
            assert!(OffsetMap::parse(&bytes[..len], 0).is_err(), "{len} bytes");
        }
    }
}
