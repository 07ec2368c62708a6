//! The `coredump-host` binary: exit statuses like `wasmtime run`, WASI
//! options, limits, dump files, `--no-coredump`, `--capture`, and `serve`
//! with a SIGTERM shutdown.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use wasm_coredump::{CoreDump, TrapKind, Value};

const BIN: &str = env!("CARGO_BIN_EXE_coredump-host");

fn host(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("COREDUMP_COLLECTOR")
        .env_remove("COREDUMP_TOKEN")
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, wasm: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wasm).unwrap();
    path
}

fn dumps_in(dir: &Path) -> Vec<PathBuf> {
    let mut dumps: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().ends_with(".core.wasm"))
                .collect()
        })
        .unwrap_or_default();
    dumps.sort();
    dumps
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn exit_statuses_follow_wasmtime_run() {
    let dir = tempfile::tempdir().unwrap();
    let hello = write(dir.path(), "hello.wasm", &print_module("hello\n"));
    let out = host(&["run", hello.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"hello\n", "stdout passes through");

    let exit = write(dir.path(), "exit.wasm", &exit_module(7));
    assert_eq!(
        host(&["run", exit.to_str().unwrap()]).status.code(),
        Some(7)
    );

    let dumps = dir.path().join("dumps");
    let crash = write(dir.path(), "crash.wasm", &crash_module());
    let out = host(&[
        "run",
        "--coredump-dir",
        dumps.to_str().unwrap(),
        crash.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(134));
    let err = stderr(&out);
    assert!(err.contains("integer divide by zero"), "{err}");
    assert!(
        err.contains("divide"),
        "backtrace names the function: {err}"
    );
    let files = dumps_in(&dumps);
    assert_eq!(files.len(), 1, "{err}");
    assert!(err.contains(&files[0].display().to_string()), "{err}");
    let dump = CoreDump::parse(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(
        dump.trap.as_ref().map(|t| t.kind.clone()),
        Some(TrapKind::IntegerDivideByZero)
    );
    assert_eq!(dump.main_frames().len(), 3);
    assert!(dump.main_frames()[0].locals.is_empty(), "native: no locals");
    assert_eq!(dump.executable_name.as_deref(), Some("crash.wasm"));
    assert!(
        dump.modules[0]
            .path
            .as_deref()
            .is_some_and(|p| p.ends_with("crash.wasm"))
    );
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(&dumps).unwrap().count(), 1);

    // Arguments after `--` reach the module.
    let manifest = crash_fixtures::Manifest::load().unwrap();
    let fixture = manifest.program("c-O0").unwrap().wasm_path();
    let fixture = fixture.to_str().unwrap();
    let out = host(&["run", "--no-coredump", fixture]);
    assert_eq!(out.status.code(), Some(2), "usage error without arguments");
    let out = host(&["run", "--no-coredump", fixture, "--", "divide-by-zero"]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("divide"), "{}", stderr(&out));
}

#[test]
fn no_coredump_and_guest_debug_capture() {
    let dir = tempfile::tempdir().unwrap();
    let crash = write(dir.path(), "crash.wasm", &crash_module());
    let dumps = dir.path().join("dumps");
    let dumps_arg = dumps.to_str().unwrap();
    let out = host(&[
        "run",
        "--no-coredump",
        "--coredump-dir",
        dumps_arg,
        crash.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("integer divide by zero"));
    assert!(dumps_in(&dumps).is_empty());

    let out = host(&[
        "run",
        "--capture",
        "guest-debug",
        "--coredump-dir",
        dumps_arg,
        crash.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
    let files = dumps_in(&dumps);
    assert_eq!(files.len(), 1, "{}", stderr(&out));
    let dump = CoreDump::parse(&std::fs::read(&files[0]).unwrap()).unwrap();
    let frames = dump.main_frames();
    assert_eq!(
        frames[0].locals,
        [Value::I32(42), Value::I32(0)],
        "divide(a, b)"
    );
    assert_eq!(frames[1].locals, [Value::I32(7)], "handle's $x");
    assert_eq!(dump.info("locals"), Some("wasmtime-guest-debug"));
}

#[test]
fn env_dirs_and_args_reach_the_module() {
    let dir = tempfile::tempdir().unwrap();
    let echo = write(dir.path(), "echo.wasm", &echo_module());
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--env",
            "COLOUR=blue",
            "--env",
            "EMPTY=",
            echo.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let (env, stdin) = parse_echo(text.strip_prefix(ECHO_HEADERS).unwrap());
    assert!(env.contains(&("COLOUR".into(), "blue".into())), "{env:?}");
    assert!(env.contains(&("EMPTY".into(), String::new())), "{env:?}");
    assert_eq!(stdin, "from stdin");

    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("greeting.txt"), "hello from the host").unwrap();
    let preopen = write(dir.path(), "preopen.wasm", &preopen_module());
    let mapped = format!("{}::/srv/data", data.display());
    let out = host(&["run", "--dir", &mapped, preopen.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"/srv/data:hello from the host");
    // Without a preopen the module fails its own way (errno 8, EBADF).
    let out = host(&["run", preopen.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));

    let bad = host(&["run", "--env", "NOEQUALS", echo.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("KEY=VALUE"));
    let bad = host(&["run", "--dir", "::guest", echo.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    let missing = host(&[
        "run",
        "--dir",
        "/definitely/not/here::/x",
        echo.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
}

#[test]
fn fuel_time_and_memory_limits() {
    let dir = tempfile::tempdir().unwrap();
    let dumps = dir.path().join("dumps");
    let dumps_arg = dumps.to_str().unwrap();
    let spin = write(dir.path(), "spin.wasm", &spin_module());
    let out = host(&[
        "run",
        "--fuel",
        "100000",
        "--coredump-dir",
        dumps_arg,
        spin.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("fuel"), "{}", stderr(&out));

    let started = std::time::Instant::now();
    let out = host(&[
        "run",
        "--timeout-ms",
        "200",
        "--coredump-dir",
        dumps_arg,
        spin.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("interrupt"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(10));

    let grow = write(dir.path(), "grow.wasm", &grow_module(64));
    let ok = host(&["run", "--coredump-dir", dumps_arg, grow.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let capped = host(&[
        "run",
        "--max-memory",
        "1048576",
        "--coredump-dir",
        dumps_arg,
        grow.to_str().unwrap(),
    ]);
    assert_eq!(capped.status.code(), Some(134), "{}", stderr(&capped));
    let kinds: Vec<_> = dumps_in(&dumps)
        .iter()
        .map(|p| {
            CoreDump::parse(&std::fs::read(p).unwrap())
                .unwrap()
                .trap
                .unwrap()
                .kind
        })
        .collect();
    for kind in [
        TrapKind::OutOfFuel,
        TrapKind::Interrupt,
        TrapKind::Unreachable,
    ] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(dir.path(), "junk.wasm", b"\0asm\x01\0\0\0\x01\xff");
    for (args, expected) in [
        (vec!["run", junk.to_str().unwrap()], "cannot compile"),
        (vec!["run", "/no/such/module.wasm"], "cannot read"),
        (
            vec!["serve", "--config", "/no/such/routes.toml"],
            "cannot read",
        ),
    ] {
        let out = host(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let routes = dir.path().join("routes.toml");
    std::fs::write(&routes, "[[route]]\npath = \"nope\"\nmodule = \"x.wasm\"\n").unwrap();
    let out = host(&["serve", "--config", routes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("must start with `/`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_help_documents_the_gateway() {
    let out = host(&["serve", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--config",
        "--listen",
        "--collector",
        "SIGTERM",
        "[[route]]",
        "Status",
        "500",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "hello.wasm",
        &print_module("Content-Type: text/plain\n\nhello\n"),
    );
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ncoredump_dir = \"{}\"\n\n[[route]]\npath = \"/hello\"\nmodule = \"hello.wasm\"\n",
            dir.path().join("dumps").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--config",
            routes.to_str().unwrap(),
            "--log-format",
            "json",
        ])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut logs = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut seen = String::new();
    for _ in 0..50 {
        let mut line = String::new();
        if logs.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if record["fields"]["message"] == "serving" {
            addr = record["fields"]["addr"].as_str().map(str::to_string);
            break;
        }
    }
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("no `serving` log line:\n{seen}");
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(&format!("http://{addr}/hello")).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.body_mut().read_to_string().unwrap(), "hello\n");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut rest = String::new();
    let _ = logs.read_to_string(&mut rest);
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("shutdown requested"), "{rest}");
}

#[test]
fn run_spools_for_a_down_collector_and_flush_delivers_later() {
    let dir = tempfile::tempdir().unwrap();
    let crash = write(dir.path(), "crash.wasm", &crash_module());
    let dumps = dir.path().join("dumps");
    let dumps_arg = dumps.to_str().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..2 {
        let out = host(&[
            "run",
            "--coredump-dir",
            dumps_arg,
            "--collector",
            &url,
            "--token",
            "t0ken",
            crash.to_str().unwrap(),
        ]);
        // The module's status, whatever happened to delivery.
        assert_eq!(out.status.code(), Some(134));
        assert!(
            stderr(&out).contains("stays in the spool"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(coredump_host::pending_dumps(&dumps).unwrap().len(), 2);
    let out = host(&["flush", "--coredump-dir", dumps_arg, "--collector", &url]);
    assert_eq!(out.status.code(), Some(1), "still down: {}", stderr(&out));

    let collected = fake_collector(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    let out = host(&[
        "flush",
        "--coredump-dir",
        dumps_arg,
        "--collector",
        &url,
        "--token",
        "t0ken",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(coredump_host::pending_dumps(&dumps).unwrap().is_empty());
    let received = collected.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert_eq!(r.authorization, "Bearer t0ken");
        let dump = CoreDump::parse(&r.body).unwrap();
        assert_eq!(dump.trap.unwrap().kind, TrapKind::IntegerDivideByZero);
    }
    // Nothing is sent twice.
    let out = host(&["flush", "--coredump-dir", dumps_arg, "--collector", &url]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(collected.lock().unwrap().len(), 2);
    // `flush` without a collector is a usage error, clearly reported.
    let out = host(&["flush", "--coredump-dir", dumps_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--collector"), "{}", stderr(&out));
}
