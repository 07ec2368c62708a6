//! A small work-sharing parallel map over function indices, on scoped threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Items handed out per grab: keeps contention low while balancing uneven
/// function sizes.
const CHUNK: usize = 32;

/// The number of worker threads to use: `requested`, or the machine's
/// parallelism when 0.
pub(crate) fn threads(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// `(0..n).map(f)`, computed on up to `threads` threads, results in order.
pub(crate) fn map<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = self::threads(threads).min(n.div_ceil(CHUNK)).max(1);
    if threads == 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<T>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                    if start >= n {
                        break;
                    }
                    let end = (start + CHUNK).min(n);
                    local.push((start, (start..end).map(&f).collect::<Vec<T>>()));
                }
                if let Ok(mut done) = done.lock() {
                    done.extend(local);
                }
            });
        }
    });
    let mut chunks = done
        .into_inner()
        .unwrap_or_else(|poison| poison.into_inner());
    chunks.sort_unstable_by_key(|(start, _)| *start);
    chunks.into_iter().flat_map(|(_, items)| items).collect()
}
