//! Throughput and memory of a split of a large module, next to a plain copy.
//!
//!     cargo bench -p debuginfo-split --bench split
//!
//! The module is `ruby.debug+stdlib.wasm` (54 MB, 18 MB of it DWARF) from the
//! npm package `@ruby/3.3-wasm-wasi`. It is fetched once with `npm pack` into
//! `$XDG_CACHE_HOME/wasm-postmortem/modules` (default `~/.cache/...`); set
//! `DEBUGINFO_SPLIT_BENCH_MODULE=/path/to/any.wasm` to measure another module.
//! Target: at most 0.3 s per split and a peak RSS at most twice the file size.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use debuginfo_split::{DebugOutput, Module, SplitFileOptions, split_file};

const PACKAGE: &str = "@ruby/3.3-wasm-wasi@2.10.1";
const FILE: &str = "ruby.debug+stdlib.wasm";
const RUNS: usize = 7;

fn main() {
    // `cargo bench` passes `--bench`; a filter argument can skip us.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"split".contains(a.as_str()))
    {
        return;
    }
    let module = module_path();
    let bytes = std::fs::read(&module).expect("read the module");
    let size = bytes.len() as f64;
    let dwarf: usize = Module::parse(&bytes)
        .expect("parse")
        .dwarf_sections()
        .map(|s| s.raw.len())
        .sum();
    drop(bytes);
    let work = tempfile::tempdir().expect("temp dir");
    println!(
        "module: {} ({:.1} MB, {:.1} MB DWARF), outputs in {}",
        module.display(),
        size / 1e6,
        dwarf as f64 / 1e6,
        work.path().display()
    );
    println!("{RUNS} runs each, page cache warm; times are min / median\n");

    let copy_target = work.path().join("copy.wasm");
    let read_write = measure(|| {
        let data = std::fs::read(&module).expect("read");
        std::fs::write(&copy_target, &data).expect("write");
    });
    report("copy: read + write", size, &read_write);
    let fs_copy = measure(|| {
        std::fs::copy(&module, &copy_target).expect("copy");
    });
    report("copy: std::fs::copy", size, &fs_copy);
    let _ = std::fs::remove_file(&copy_target);

    let options = SplitFileOptions {
        input: module.clone(),
        output: Some(work.path().join("stripped.wasm")),
        debug_output: DebugOutput::Dir(work.path().join("debug")),
        ..Default::default()
    };
    let split = measure(|| {
        split_file(&options).expect("split");
    });
    report("split (library, in process)", size, &split);
    let synced = measure(|| {
        split_file(&SplitFileOptions {
            sync: true,
            ..options.clone()
        })
        .expect("split");
    });
    report("split --sync (library)", size, &synced);

    // The phases of one split, for orientation.
    let t = Instant::now();
    let bytes = std::fs::read(&module).expect("read");
    let read = t.elapsed();
    let t = Instant::now();
    let parsed = Module::parse(&bytes).expect("parse");
    let parse = t.elapsed();
    let t = Instant::now();
    let id = debuginfo_split::derive_build_id(&bytes);
    let hash = t.elapsed();
    println!(
        "\nphases: read {:.1} ms, section scan {:.2} ms ({} sections), SHA-256 + UUIDv5 {:.1} ms (id {id})",
        ms(read),
        ms(parse),
        parsed.sections().len(),
        ms(hash)
    );
    drop(parsed);
    drop(bytes);

    // The release binary, as users run it: wall time and peak RSS.
    let exe = Path::new(env!("CARGO_BIN_EXE_debuginfo-split"));
    let time = Path::new("/usr/bin/time");
    let mut walls = Vec::new();
    let mut rss_kb = Vec::new();
    for _ in 0..RUNS {
        let mut cmd = if time.exists() {
            let mut c = Command::new(time);
            c.args(["-f", "%e %M"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.arg(&module)
            .arg("-o")
            .arg(work.path().join("stripped-bin.wasm"))
            .arg("--debug-dir")
            .arg(work.path().join("debug-bin"));
        let t = Instant::now();
        let out = cmd.output().expect("run the binary");
        walls.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(kb) = String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            .and_then(|kb| kb.parse::<u64>().ok())
        {
            rss_kb.push(kb);
        }
    }
    walls.sort();
    report("split (release binary, wall)", size, &walls);
    if let Some(max) = rss_kb.iter().max() {
        let rss = *max as f64 * 1024.0;
        println!(
            "peak RSS of the binary: {:.1} MB = {:.2}x the module (target <= 2x)",
            rss / 1e6,
            rss / size
        );
    } else {
        println!("peak RSS: /usr/bin/time not available");
    }
    let median = walls[walls.len() / 2];
    println!(
        "target: <= 300 ms per split: {}",
        if median <= Duration::from_millis(300) {
            "met"
        } else {
            "NOT met"
        }
    );
}

fn measure(mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm-up
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(what: &str, size: f64, sorted: &[Duration]) {
    let min = sorted[0];
    let median = sorted[sorted.len() / 2];
    println!(
        "{what:32} {:7.1} / {:7.1} ms   {:7.0} / {:7.0} MB/s",
        ms(min),
        ms(median),
        size / 1e6 / min.as_secs_f64(),
        size / 1e6 / median.as_secs_f64()
    );
}

/// The cached module, fetched with `npm pack` the first time.
fn module_path() -> PathBuf {
    if let Some(path) = std::env::var_os("DEBUGINFO_SPLIT_BENCH_MODULE") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME")
        .join("wasm-postmortem/modules");
    let path = cache.join(FILE);
    if path.is_file() {
        return path;
    }
    std::fs::create_dir_all(&cache).expect("create the cache directory");
    eprintln!("fetching {PACKAGE} with npm pack (once) ...");
    let tmp = tempfile::tempdir_in(&cache).expect("temp dir");
    let status = Command::new("npm")
        .args(["pack", "--silent", PACKAGE])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run npm (needed once to fetch the benchmark module)");
    assert!(status.success(), "npm pack {PACKAGE} failed");
    let tarball = std::fs::read_dir(tmp.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .expect("npm pack wrote no .tgz");
    let member = format!("package/dist/{FILE}");
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg(&member)
        .current_dir(tmp.path())
        .status()
        .expect("run tar");
    assert!(status.success(), "tar could not extract {member}");
    std::fs::rename(tmp.path().join(&member), &path).expect("move the module into the cache");
    path
}
