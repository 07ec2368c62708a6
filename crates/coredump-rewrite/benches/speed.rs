//! Rewrite speed and peak memory on the largest cached module (the 18 MB
//! @swc/wasm when present): in-process timing, then the release binary under
//! `/usr/bin/time` for peak RSS. Targets: 1.5 s and 400 MB.

mod modules;

use std::process::Command;
use std::time::Instant;

fn main() {
    let paths = modules::all();
    let Some(path) = paths
        .iter()
        .find(|p| p.to_string_lossy().contains("swc"))
        .or_else(|| {
            paths
                .iter()
                .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        })
    else {
        println!(
            "no modules in {}: run crates/coredump-rewrite/scripts/fetch-modules.sh",
            modules::modules_dir().display()
        );
        return;
    };
    let wasm = std::fs::read(path).expect("read module");
    println!("{} ({} bytes)", modules::short(path), wasm.len());
    for (label, verify) in [("with verification", true), ("--no-verify", false)] {
        let opts = coredump_rewrite::Options {
            verify,
            ..Default::default()
        };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            let out = coredump_rewrite::rewrite(&wasm, &opts).expect("rewrite");
            times.push(t.elapsed().as_secs_f64());
            last = Some(out.report);
        }
        let r = last.expect("ran");
        println!(
            "  in-process, {label}: median {:.3} s, best {:.3} s (analysis {} ms, rewrite {} ms, verify {} ms)",
            modules::median(&mut times.clone()),
            times.iter().copied().fold(f64::MAX, f64::min),
            r.timings_ms[0],
            r.timings_ms[1],
            r.timings_ms[2]
        );
    }
    let bin = env!("CARGO_BIN_EXE_coredump-rewrite");
    let out = std::env::temp_dir().join("coredump-rewrite-speed.wasm");
    match Command::new("/usr/bin/time")
        .args(["-f", "%e s wall, %M KB peak RSS"])
        .arg(bin)
        .arg(path)
        .arg(&out)
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            let line = text.lines().last().unwrap_or("");
            let kb: f64 = line
                .split(',')
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0);
            println!(
                "  release binary: {line} ({:.0} MB; targets 1.5 s, 400 MB)",
                kb / 1024.0
            );
        }
        Err(e) => println!("  /usr/bin/time not available ({e}); skipped the RSS measurement"),
    }
    let _ = std::fs::remove_file(out);
}
