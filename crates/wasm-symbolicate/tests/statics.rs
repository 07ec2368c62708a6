//! Statics, types and enumerators found by name in the fixtures' DWARF;
//! the expectations come from the fixture sources.

use crash_fixtures::Manifest;
use wasm_coredump::{CoreDump, Frame, Global, Instance, Memory, MemoryLimits, ValType, Value};
use wasm_symbolicate::variables::{DumpFrameState, NamedKind, TypeKind, VariableValue};
use wasm_symbolicate::{DebugInfoLocator, Symbolicator};

fn open(id: &str) -> Symbolicator {
    let manifest = Manifest::load().expect("manifest");
    let program = manifest.program(id).expect("program");
    Symbolicator::open(program.wasm_path(), &DebugInfoLocator::new()).expect("opens")
}

#[test]
fn c_types_and_enumerators_by_name() {
    let symbols = open("c-O0");
    // struct node { int value; struct node *next; };
    let node = symbols
        .find_type("struct node")
        .expect("lookup")
        .expect("struct node");
    let TypeKind::Struct { members } = &node.kind else {
        panic!("not a struct: {node:?}");
    };
    let names: Vec<_> = members
        .iter()
        .map(|m| m.name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(names, ["value", "next"]);
    assert_eq!(node.name, "struct node");
    assert!(symbols.find_type("union node").expect("lookup").is_none());
    assert_eq!(
        symbols.find_type("int").expect("lookup").map(|t| t.size),
        Some(Some(4))
    );
    // enum color { RED, GREEN, BLUE };
    let (ty, value) = symbols.enumerator("GREEN").expect("lookup").expect("GREEN");
    assert_eq!((ty.name.as_str(), value), ("enum color", 1));
    assert!(symbols.enumerator("PURPLE").expect("lookup").is_none());
    let entries = symbols.named_entries().expect("index");
    assert!(
        entries
            .iter()
            .any(|e| e.kind == NamedKind::Static && e.name == "g_counter")
    );
}

#[test]
fn statics_are_read_from_dumped_memory() {
    for (id, name) in [
        ("c-O0", "g_counter"),
        ("rust-debug", "crash::COUNTER"),
        ("rust-debug", "COUNTER"),
    ] {
        let symbols = open(id);
        // Where the static lives, then a dump whose memory holds 3 there.
        let empty = CoreDump::default();
        let frame = Frame::default();
        let state = DumpFrameState {
            dump: &empty,
            frame: &frame,
        };
        let found = symbols
            .static_variable(name, None, &state)
            .expect("lookup")
            .expect(name);
        let address = found.address.expect("a static has an address");
        let mut memory = Memory::new(MemoryLimits::pages(32));
        memory.write(address, &3i32.to_le_bytes()).expect("write");
        let dump = CoreDump {
            memories: vec![memory],
            instances: vec![Instance {
                module: 0,
                memories: vec![0],
                globals: vec![0],
            }],
            globals: vec![Global {
                ty: ValType::I32,
                mutable: true,
                value: Value::I32(0x1000),
            }],
            ..CoreDump::default()
        };
        let state = DumpFrameState {
            dump: &dump,
            frame: &frame,
        };
        let found = symbols
            .static_variable(name, None, &state)
            .expect("lookup")
            .expect(name);
        assert_eq!(
            found.value,
            VariableValue::Bytes(3i32.to_le_bytes().to_vec()),
            "{id} {name}"
        );
        assert_eq!(found.ty.size, Some(4));
    }
}
