//! The debug file's DWARF answers line-table lookups exactly like the
//! original module's, read with `object` + `gimli` (not with anything of
//! this project), and the addresses still point at the same instruction
//! bytes in the stripped module.

mod common;

use std::borrow::Cow;

use common::*;
use gimli::{EndianSlice, LittleEndian, SectionId};
use object::{Object, ObjectSection};

/// One line-table row: `address -> file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    address: u64,
    location: String,
}

/// A line-table sequence: `[start, end)` and its rows, sorted.
struct Sequence {
    start: u64,
    end: u64,
    rows: Vec<Row>,
}

/// Every sequence of every unit's line program.
fn line_table(module: &[u8]) -> Vec<Sequence> {
    let file = object::File::parse(module).expect("object parses the module");
    let sections: Vec<(SectionId, Cow<'_, [u8]>)> = [
        SectionId::DebugAbbrev,
        SectionId::DebugInfo,
        SectionId::DebugLine,
        SectionId::DebugLineStr,
        SectionId::DebugStr,
        SectionId::DebugStrOffsets,
        SectionId::DebugAddr,
        SectionId::DebugRanges,
        SectionId::DebugRngLists,
    ]
    .into_iter()
    .map(|id| {
        let data = file
            .section_by_name(id.name())
            .map(|s| s.uncompressed_data().expect("section data"))
            .unwrap_or(Cow::Borrowed(&[][..]));
        (id, data)
    })
    .collect();
    let dwarf = gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
        let data = sections
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, d)| d.as_ref())
            .unwrap_or(&[]);
        Ok(EndianSlice::new(data, LittleEndian))
    })
    .expect("load DWARF");

    let mut out = Vec::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().expect("unit header") {
        let unit = dwarf.unit(header).expect("unit");
        let Some(program) = unit.line_program.clone() else {
            continue;
        };
        let mut rows = program.rows();
        let mut current: Vec<Row> = Vec::new();
        while let Some((header, row)) = rows.next_row().expect("line row") {
            if row.end_sequence() {
                if let Some(first) = current.first() {
                    out.push(Sequence {
                        start: first.address,
                        end: row.address(),
                        rows: std::mem::take(&mut current),
                    });
                }
                current.clear();
                continue;
            }
            let file = row
                .file(header)
                .map(|f| {
                    let name = dwarf.attr_string(&unit, f.path_name()).expect("file name");
                    String::from_utf8_lossy(name.slice()).into_owned()
                })
                .unwrap_or_else(|| "?".to_string());
            let line = row.line().map(|l| l.get()).unwrap_or(0);
            current.push(Row {
                address: row.address(),
                location: format!("{file}:{line}"),
            });
        }
    }
    out
}

/// `file:line` of an address: the last row at or before it in the first
/// sequence that covers it.
fn lookup(table: &[Sequence], address: u64) -> Option<&str> {
    let seq = table
        .iter()
        .find(|s| s.start <= address && address < s.end)?;
    let index = seq.rows.partition_point(|r| r.address <= address);
    seq.rows
        .get(index.checked_sub(1)?)
        .map(|r| r.location.as_str())
}

#[test]
fn debug_file_line_lookups_match_the_original() {
    for src in fixture_modules() {
        let what = src.display().to_string();
        let original = std::fs::read(&src).unwrap();
        let split = debuginfo_split::split(&original, &Default::default()).unwrap();

        let from_original = line_table(&original);
        let from_debug = line_table(&split.debug);
        assert!(!from_original.is_empty(), "{what}: no line table");
        // The stripped module has none at all.
        assert!(
            line_table(&split.stripped).is_empty(),
            "{what}: stripped has line rows"
        );

        let code = code_payload(&original);
        assert_eq!(code_payload(&split.stripped), code, "{what}");
        let code_len = code.len() as u64;

        // Every row address, plus a stride through the whole Code section.
        let mut samples: Vec<u64> = from_original
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.address))
            .filter(|a| *a < code_len)
            .collect();
        samples.extend((0..code_len).step_by(13));
        samples.sort_unstable();
        samples.dedup();

        let mut resolved = 0;
        for &address in &samples {
            let a = lookup(&from_original, address);
            let b = lookup(&from_debug, address);
            assert_eq!(a, b, "{what}: address {address:#x} resolves differently");
            if a.is_some() {
                resolved += 1;
            }
        }
        assert!(
            resolved * 2 > samples.len(),
            "{what}: only {resolved} of {} sampled addresses resolve",
            samples.len()
        );
        // The sequences themselves are identical too.
        let flat = |t: &[Sequence]| -> Vec<(u64, u64, Vec<Row>)> {
            t.iter().map(|s| (s.start, s.end, s.rows.clone())).collect()
        };
        assert_eq!(flat(&from_original), flat(&from_debug), "{what}");
    }
}
