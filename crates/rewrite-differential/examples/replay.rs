//! Replays the differential check on module files (a fuzz finding, say):
//!
//!   cargo run -p rewrite-differential --example replay -- [--bounds] [--depth N] FILE...
//!
//! Export arguments are all zero.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = rewrite_differential::Settings::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bounds" => settings.checks.bounds = true,
            "--depth" => settings.call_depth_limit = args.next().and_then(|n| n.parse().ok()),
            _ => files.push(arg),
        }
    }
    let differential = rewrite_differential::Differential::new(settings)?;
    let mut failed = false;
    for file in files {
        let wasm = std::fs::read(&file)?;
        match differential.check(&wasm, &mut arbitrary::Unstructured::new(&[])) {
            Ok(tally) => println!("{file}: same behaviour: {tally:?}"),
            Err(mismatch) => {
                println!("{file}: {mismatch}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
