//! The whole pipeline, for every fixture program and crash mode:
//!
//! 1. `debuginfo-split` moves the DWARF into a debug file tagged with a build id;
//! 2. `coredump-rewrite` instruments the stripped module;
//! 3. a collector (SQLite and a local directory) receives the debug file;
//! 4. each crash runs three ways, and each dump is delivered to the collector:
//!    - the instrumented module in the bundled host (the module's own dump),
//!    - the stripped module in the bundled host with native capture (guest
//!      debugging, for the locals),
//!    - the instrumented module under node 20, whose dump the JS helper
//!      (`js/coredump`) extracts and uploads (an engine with no native core dumps);
//! 5. the collector symbolicates every dump through the debug file;
//! 6. wasmgdb opens each dump as the collector serves it, with the module that
//!    ran, and fetches the debug file from the collector's symbol server.
//!
//! Every dump's symbolicated in-app frames and the trapping frame's variables
//! (collector), and every manifest frame and variable (wasmgdb: `bt`, `frame`,
//! `print`), must be the manifest's; node's dump must have exactly the frames
//! of the wasmtime run of the same instrumented module.

use std::path::Path;

use coredump_host::{Capture, Collector, Host};
use crash_fixtures::{Manifest, Mode, frames_match, printed_as_missing};
use end_to_end::{INGEST_TOKEN, Staged, check_dump, raw_frames, run_under_node_and_upload};
use serde_json::Value;
use wasmgdb::fetch::SymbolServer;
use wasmgdb::{Options, Session};

/// Runs `wasm` in `host` and delivers the dump.
async fn host_run(
    host: &'static Host,
    name: &str,
    wasm: Vec<u8>,
    mode: &Mode,
    dir: &std::path::Path,
    collector: &Collector,
) -> Value {
    let (name, mode, dir, collector) = (
        name.to_string(),
        mode.clone(),
        dir.to_path_buf(),
        collector.clone(),
    );
    tokio::task::spawn_blocking(move || {
        end_to_end::run_and_deliver(host, &name, &wasm, &mode, &dir, &collector)
    })
    .await
    .expect("host run")
}

fn host(capture: Capture) -> &'static Host {
    use std::sync::OnceLock;
    static NATIVE: OnceLock<Host> = OnceLock::new();
    static GUEST_DEBUG: OnceLock<Host> = OnceLock::new();
    let cell = match capture {
        Capture::GuestDebug => &GUEST_DEBUG,
        _ => &NATIVE,
    };
    cell.get_or_init(|| end_to_end::host(capture))
}

/// `bt`, then `frame N` and `print EXPR` for every variable the manifest
/// names, in a wasmgdb session on `dump` (as the collector serves it) and
/// `module`, with the debug file from the collector's symbol server.
/// Returns how many variables printed exactly the manifest's value.
fn check_with_wasmgdb(
    what: &str,
    module: &Path,
    dump: &[u8],
    symbol_server: &str,
    cache: &Path,
    mode: &Mode,
) -> Result<usize, String> {
    let options = Options {
        fetchers: vec![Box::new(SymbolServer::new(
            symbol_server,
            Some(cache.to_path_buf()),
        ))],
        ..Options::default()
    };
    let mut session = Session::from_parts(module, dump, Path::new("collector dump"), options)
        .map_err(|e| format!("{what}: wasmgdb cannot open the dump: {e}"))?;
    let mut bt = String::new();
    session
        .execute("bt", &mut bt)
        .map_err(|e| format!("{what}: bt: {e}"))?;
    let frames: Vec<(String, String, u32)> = session
        .frames()
        .iter()
        .map(|f| {
            (
                f.source.function_name().to_string(),
                f.source.file_name().unwrap_or("").to_string(),
                f.source.line.unwrap_or(0),
            )
        })
        .collect();
    let start = frames
        .iter()
        .position(|(function, _, _)| {
            crash_fixtures::function_name_matches(&mode.frames[0].function, function)
        })
        .ok_or_else(|| format!("{what}: no frame {} in\n{bt}", mode.frames[0].function))?;
    frames_match(&mode.frames, &frames[start..])
        .map_err(|e| format!("{what}: wasmgdb: {e}\n{bt}"))?;
    let mut exact = 0;
    for variable in &mode.variables {
        let mut out = String::new();
        session
            .execute(&format!("frame {}", start + variable.frame), &mut out)
            .map_err(|e| format!("{what}: frame: {e}"))?;
        let mut out = String::new();
        let printed = match session.execute(&format!("print {}", variable.expr), &mut out) {
            Ok(_) => out
                .trim_end()
                .split_once(" = ")
                .map_or(out.clone(), |(_, v)| v.to_string()),
            Err(e) => e.to_string(),
        };
        if variable.matches_printed(&printed) {
            exact += 1;
        } else if !(variable.may_be_optimized_out && printed_as_missing(&printed)) {
            return Err(format!(
                "{what}: wasmgdb frame {} `p {}` printed {printed}, expected {}",
                variable.frame, variable.expr, variable.value
            ));
        }
    }
    Ok(exact)
}

async fn pipeline(program_id: &str) {
    let Staged {
        prepared,
        dir,
        server,
        api,
        scratch: _keep,
    } = Staged::new(program_id).await;
    let collector = Collector::new(server.url(), Some(INGEST_TOKEN.into()));

    // The stripped module as deployed: its external_debug_info names a file
    // that is not beside it, so the debug file must come from the collector.
    std::fs::write(dir.join(&prepared.file_name), &prepared.split.stripped)
        .expect("write stripped module");

    let mut failures = Vec::new();
    let mut printed_exactly = 0;
    for mode in prepared.program.modes.iter().filter(|m| m.crashes()) {
        let instrumented = prepared.instrumented_for(mode).to_vec();
        let instrumented_path = dir.join(format!("{}.instrumented.wasm", mode.mode));
        std::fs::write(&instrumented_path, &instrumented).expect("write instrumented module");
        let instrumented_module = instrumented_path.clone();

        let from_rewrite = host_run(
            host(Capture::Native),
            &prepared.file_name,
            instrumented,
            mode,
            &dir,
            &collector,
        )
        .await;
        let from_host = host_run(
            host(Capture::GuestDebug),
            &prepared.file_name,
            prepared.split.stripped.clone(),
            mode,
            &dir,
            &collector,
        )
        .await;
        let url = api.url.clone();
        let node_mode = mode.clone();
        let from_node = tokio::task::spawn_blocking(move || {
            run_under_node_and_upload(&instrumented_path, &node_mode, &url, INGEST_TOKEN)
        })
        .await
        .expect("node run");

        let rewrite_dump = api.dump(&from_rewrite).await;
        let host_dump = api.dump(&from_host).await;
        let node_dump = api.dump(&from_node).await;
        let tag = |how: &str| format!("{program_id} {} ({how})", mode.mode);
        for (how, dump) in [
            ("instrumented, wasmtime", &rewrite_dump),
            ("native capture", &host_dump),
            ("instrumented, node", &node_dump),
        ] {
            if let Err(e) = check_dump(&tag(how), dump, mode, prepared.program.optimized) {
                failures.push(e);
            }
        }
        let stripped_path = dir.join(&prepared.file_name);
        for (how, reply, module) in [
            (
                "wasmgdb, instrumented module, wasmtime dump",
                &from_rewrite,
                &instrumented_module,
            ),
            (
                "wasmgdb, stripped module, native capture",
                &from_host,
                &stripped_path,
            ),
            (
                "wasmgdb, instrumented module, node dump",
                &from_node,
                &instrumented_module,
            ),
        ] {
            let id = reply["id"].as_str().unwrap_or_default().to_string();
            let raw = api.raw(&id).await;
            let (what, module, url, cache, mode) = (
                tag(how),
                module.clone(),
                api.url.clone(),
                dir.join("symbol-cache"),
                mode.clone(),
            );
            let result = tokio::task::spawn_blocking(move || {
                check_with_wasmgdb(&what, &module, &raw, &url, &cache, &mode)
            })
            .await
            .expect("wasmgdb session");
            match result {
                Ok(exact) => printed_exactly += exact,
                Err(e) => failures.push(e),
            }
        }
        if raw_frames(&node_dump) != raw_frames(&rewrite_dump) {
            failures.push(format!(
                "{}: node's frames {:?} differ from wasmtime's {:?}",
                tag("node vs wasmtime"),
                raw_frames(&node_dump),
                raw_frames(&rewrite_dump)
            ));
        }
        if crash_fixtures::record_in_app_frames(&node_dump)
            != crash_fixtures::record_in_app_frames(&rewrite_dump)
        {
            failures.push(format!(
                "{}: symbolicated frames differ",
                tag("node vs wasmtime")
            ));
        }
        // One crash, one group, whichever way it was captured.
        if rewrite_dump["group_id"] != node_dump["group_id"] {
            failures.push(format!(
                "{}: node and wasmtime dumps grouped apart",
                tag("grouping")
            ));
        }
    }
    server.stop().await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every value the optimiser must keep was printed exactly, in all three dumps.
    let kept = prepared
        .program
        .modes
        .iter()
        .flat_map(|m| &m.variables)
        .filter(|v| !v.may_be_optimized_out)
        .count();
    assert!(
        printed_exactly > 0 && printed_exactly >= 3 * kept,
        "{program_id}: wasmgdb printed {printed_exactly} values exactly, {kept} variables x 3 dumps expected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_o0() {
    pipeline("c-O0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_o2() {
    pipeline("c-O2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zig_debug() {
    pipeline("zig-Debug").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zig_release_safe() {
    pipeline("zig-ReleaseSafe").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_debug() {
    pipeline("rust-debug").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_o2() {
    pipeline("rust-O2").await;
}

/// Every program in the manifest has its test above.
#[test]
fn every_program_is_covered() {
    let manifest = Manifest::load().expect("fixture manifest");
    let covered = [
        "c-O0",
        "c-O2",
        "zig-Debug",
        "zig-ReleaseSafe",
        "rust-debug",
        "rust-O2",
    ];
    for program in &manifest.programs {
        assert!(
            covered.contains(&program.id.as_str()),
            "{} has no pipeline test",
            program.id
        );
    }
}
