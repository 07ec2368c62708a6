//! Test modules written in WAT and a scripted collector on loopback, shared
//! by the host's integration tests and benchmarks.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const WASI: &str = "wasi_snapshot_preview1";

/// `text` as a WAT string literal body.
pub fn wat_bytes(text: &[u8]) -> String {
    text.iter().map(|b| format!("\\{b:02x}")).collect()
}

fn wasm(wat: &str) -> Vec<u8> {
    match wat::parse_str(wat) {
        Ok(wasm) => wasm,
        Err(err) => panic!("bad test module: {err}\n{wat}"),
    }
}

/// A command that writes `text` to stdout and returns.
pub fn print_module(text: &str) -> Vec<u8> {
    let len = text.len();
    wasm(&format!(
        r#"(module
  (import "{WASI}" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{data}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        data = wat_bytes(text.as_bytes())
    ))
}

/// The CGI header block `echo_module` writes.
pub const ECHO_HEADERS: &str = "Content-Type: text/plain\n\n";
/// What separates the environment from stdin in `echo_module`'s output.
pub const STDIN_MARKER: &str = "\n--stdin--\n";

/// A CGI program that answers `text/plain` with its NUL-separated
/// environment, [`STDIN_MARKER`], then everything it read from stdin.
pub fn echo_module() -> Vec<u8> {
    wasm(&format!(
        r#"(module
  (import "{WASI}" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "{WASI}" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "{WASI}" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "{WASI}" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 64) "{headers}")
  (data (i32.const 128) "{marker}")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $n i32)
    (call $write (i32.const 64) (i32.const {headers_len}))
    (drop (call $env_sizes (i32.const 16) (i32.const 20)))
    (drop (call $env_get (i32.const 1024) (i32.const 8192)))
    (call $write (i32.const 8192) (i32.load (i32.const 20)))
    (call $write (i32.const 128) (i32.const {marker_len}))
    (block $done
      (loop $more
        (i32.store (i32.const 32) (i32.const 65536))
        (i32.store (i32.const 36) (i32.const 65536))
        (drop (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))
        (local.set $n (i32.load (i32.const 40)))
        (br_if $done (i32.eqz (local.get $n)))
        (call $write (i32.const 65536) (local.get $n))
        (br $more)))))"#,
        headers = wat_bytes(ECHO_HEADERS.as_bytes()),
        headers_len = ECHO_HEADERS.len(),
        marker = wat_bytes(STDIN_MARKER.as_bytes()),
        marker_len = STDIN_MARKER.len(),
    ))
}

/// The environment and stdin `echo_module` reported.
pub fn parse_echo(body: &str) -> (Vec<(String, String)>, String) {
    let (env, stdin) = body.split_once(STDIN_MARKER).unwrap_or((body, ""));
    let env = env
        .split('\0')
        .filter(|e| !e.is_empty())
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (env, stdin.to_string())
}

/// A command whose `_start` calls `handle`, which calls `divide(42, 0)`:
/// an integer-divide-by-zero trap three frames deep, with some memory and a
/// mutable global to dump.
pub fn crash_module() -> Vec<u8> {
    wasm(
        r#"(module
  (memory (export "memory") 1)
  (global $sp (mut i32) (i32.const 4096))
  (data (i32.const 100) "request state")
  (func $divide (param $a i32) (param $b i32) (result i32)
    (global.set $sp (i32.const 4000))
    (i32.div_s (local.get $a) (local.get $b)))
  (func $handle (result i32)
    (local $x i32)
    (local.set $x (i32.const 7))
    (call $divide (i32.const 42) (i32.const 0)))
  (func $_start (export "_start") (drop (call $handle))))"#,
    )
}

/// A command that never returns.
pub fn spin_module() -> Vec<u8> {
    wasm(r#"(module (memory 1) (func $spin (export "_start") (loop $l (br $l))))"#)
}

/// A command that counts to `n`, then prints `text`.
pub fn busy_module(n: u32, text: &str) -> Vec<u8> {
    let len = text.len();
    wasm(&format!(
        r#"(module
  (import "{WASI}" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{data}")
  (func (export "_start")
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (i32.const {n}))))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        data = wat_bytes(text.as_bytes())
    ))
}

/// A command that grows its memory by `pages` and traps (`unreachable`) when
/// that fails.
pub fn grow_module(pages: u32) -> Vec<u8> {
    wasm(&format!(
        r#"(module
  (memory (export "memory") 1)
  (func $grow (export "_start")
    (if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1))
      (then unreachable))))"#
    ))
}

/// A command that prints the name of its first preopened directory (fd 3),
/// `:`, then the contents of `greeting.txt` in it; it exits with the errno
/// when that fails.
pub fn preopen_module() -> Vec<u8> {
    wasm(&format!(
        r#"(module
  (import "{WASI}" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "{WASI}" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "{WASI}" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "{WASI}" "fd_prestat_dir_name" (func $dir_name (param i32 i32 i32) (result i32)))
  (import "{WASI}" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "{WASI}" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "greeting.txt")
  (data (i32.const 80) ":")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $check (param $errno i32)
    (if (local.get $errno) (then (call $exit (local.get $errno)))))
  (func (export "_start")
    (call $check (call $prestat (i32.const 3) (i32.const 16)))
    (call $check (call $dir_name (i32.const 3) (i32.const 1024) (i32.load (i32.const 20))))
    (call $write (i32.const 1024) (i32.load (i32.const 20)))
    (call $write (i32.const 80) (i32.const 1))
    (call $check (call $open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 12)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 24)))
    (i32.store (i32.const 32) (i32.const 4096))
    (i32.store (i32.const 36) (i32.const 1024))
    (call $check (call $fd_read (i32.load (i32.const 24)) (i32.const 32) (i32.const 1) (i32.const 40)))
    (call $write (i32.const 4096) (i32.load (i32.const 40)))))"#
    ))
}

/// A command that calls `proc_exit(code)`.
pub fn exit_module(code: u32) -> Vec<u8> {
    wasm(&format!(
        r#"(module
  (import "{WASI}" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const {code}))))"#
    ))
}

/// A dump request as the fake collector received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub idempotency_key: String,
    pub authorization: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A collector on `listener` that acknowledges every dump with 201 and
/// records it.
pub fn fake_collector(listener: TcpListener) -> Arc<Mutex<Vec<Received>>> {
    scripted_collector(listener, vec![201])
}

/// A collector that answers each request with the next status in `script`
/// (the last one repeats) and records the dumps it acknowledged.
pub fn scripted_collector(listener: TcpListener, script: Vec<u16>) -> Arc<Mutex<Vec<Received>>> {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let status = *script.get(n).or(script.last()).unwrap_or(&500);
            if let Some(request) = serve_one(stream, status)
                && (200..300).contains(&status)
            {
                log.lock().unwrap().push(request);
            }
        }
    });
    received
}

fn serve_one(mut stream: TcpStream, status: u16) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        let (k, v) = header.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let len: usize = get("content-length").parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let reply = format!("{{\"id\":\"dump-{len}\"}}");
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    Some(Received {
        idempotency_key: get("idempotency-key"),
        authorization: get("authorization"),
        content_type: get("content-type"),
        body,
    })
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
