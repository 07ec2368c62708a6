//! `--symbol-server`: a stripped module's DWARF fetched by build id from a
//! debuginfod-style endpoint (`GET /buildid/{id}/debuginfo`), then served
//! from the local cache when the server is gone.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{dumps, path_str, wasmgdb};
use wasm_coredump::{BUILD_ID_SECTION, BuildId, append_custom_section};

fn read_leb(bytes: &[u8], pos: &mut usize) -> usize {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let b = bytes[*pos];
        *pos += 1;
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// The module without `.debug_*` sections, every other byte kept.
fn strip(module: &[u8]) -> Vec<u8> {
    let mut out = module[..8].to_vec();
    let mut pos = 8;
    while pos < module.len() {
        let start = pos;
        let id = module[pos];
        pos += 1;
        let size = read_leb(module, &mut pos);
        let end = pos + size;
        let mut p = pos;
        let is_debug = id == 0 && {
            let len = read_leb(module, &mut p);
            module[p..p + len].starts_with(b".debug_")
        };
        if !is_debug {
            out.extend_from_slice(&module[start..end]);
        }
        pos = end;
    }
    out
}

/// Serves `debug` at `/buildid/{hex}/debuginfo`; counts requests.
fn serve(hex: String, debug: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    serve_paths(vec![(format!("/buildid/{hex}/debuginfo"), debug)])
}

/// Serves each (path, body); 404 for anything else. Counts requests.
fn serve_paths(routes: Vec<(String, Vec<u8>)>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let route = routes
                .iter()
                .find(|(path, _)| line.starts_with(&format!("GET {path} ")));
            let (status, body): (&str, &[u8]) = match route {
                Some((_, body)) => ("200 OK", body),
                None => ("404 Not Found", b"not found"),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    });
    (url, hits)
}

#[test]
fn stripped_module_gets_its_dwarf_from_the_symbol_server() {
    let demo = dumps("demo");
    let dump = &demo.modes["overflow"].guest;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut full = demo.program.wasm_bytes().expect("demo module");
    let id = BuildId::new((1..=16).collect::<Vec<u8>>());
    append_custom_section(&mut full, BUILD_ID_SECTION, &id.to_section_payload());
    let stripped = dir.path().join("app.stripped.wasm");
    std::fs::write(&stripped, strip(&full)).expect("write");
    let cache = dir.path().join("cache");

    let (url, hits) = serve(id.to_hex(), full);
    let args = |server: &str| {
        vec![
            "--batch".to_string(),
            "-q".into(),
            "--symbol-server".into(),
            server.to_string(),
            "--symbol-cache".into(),
            path_str(&cache).into(),
            "-ex".into(),
            "bt".into(),
            path_str(&stripped).into(),
            path_str(dump).into(),
        ]
    };
    let run = |server: &str| {
        let a = args(server);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        wasmgdb(&refs)
    };
    let out = run(&url);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(" in app::line_total (item=0x") && text.contains(" at app.rs:24"),
        "{text}"
    );
    assert!(hits.load(Ordering::SeqCst) >= 1);
    assert!(
        cache.join(id.to_hex()).join("debuginfo").is_file(),
        "cached"
    );

    // The server is unreachable now: the cache answers.
    let out = run("http://127.0.0.1:9");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" at app.rs:24"), "{text}");

    // Without the server or the cache: names only, and the reason why.
    std::fs::remove_dir_all(&cache).expect("rm cache");
    let (url, _) = serve("0000".into(), Vec::new());
    let out = run(&url);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        text.contains("app::line_total") && !text.contains("app.rs:24"),
        "{text}"
    );
    assert!(err.contains("no DWARF debug info found"), "{err}");
}

#[test]
fn core_fetched_from_the_collector_by_dump_id() {
    let demo = dumps("demo");
    let dump = std::fs::read(&demo.modes["overflow"].guest).expect("dump");
    let module = demo.program.wasm_path();
    let (url, hits) = serve_paths(vec![("/api/v1/dumps/42/raw".to_string(), dump)]);
    let out = wasmgdb(&[
        "--batch",
        "-q",
        "--collector",
        &url,
        "-ex",
        "bt 12",
        path_str(&module),
        "42",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(" in app::line_total (item=0x") && text.contains(" at app.rs:24"),
        "{text}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let out = wasmgdb(&["--batch", "--collector", &url, path_str(&module), "43"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
