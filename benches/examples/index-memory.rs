//! Memory of the in-memory index per blob, at N blobs (default 10 million):
//!
//! ```text
//! cargo run --release -p vault-benches --example index-memory -- [N] [--hold-files]
//! ```
//!
//! Builds the index as `Repository::load_index` does (`add_pack` for every
//! pack, then one `finish`) from packs of 1,000 blobs, and prints the heap
//! bytes live once loaded, the heap peak while loading (both counted by the
//! global allocator) and the process's VmRSS / VmHWM, each per blob.
//! By default each pack is generated, added and dropped (the index's own
//! cost); `--hold-files` keeps every decoded pack in memory until the index
//! is finished, as loading all index files before adding them does.

use cap::Cap;
use engine::repo_format::index::IndexPack;
use engine::repository::index::Index;
use std::alloc::System;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut blobs = 10_000_000usize;
    let mut hold = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--hold-files" => hold = true,
            n => match n.replace('_', "").parse() {
                Ok(n) => blobs = n,
                Err(_) => {
                    eprintln!("error: expected a number of blobs or --hold-files, got {n:?}");
                    std::process::exit(2);
                }
            },
        }
    }
    let before = ALLOCATOR.allocated();
    let rss_before = status_kib("VmRSS:").unwrap_or(0) * 1024;
    let started = Instant::now();
    let mut index = Index::new();
    let mut held: Vec<IndexPack> = Vec::new();
    for pack in vault_benches::index_packs(5, blobs, 1000) {
        index.add_pack(&pack);
        if hold {
            held.push(pack);
        }
    }
    let added = started.elapsed();
    index
        .finish()
        .expect("an index in memory cannot fail to finish");
    let finished = started.elapsed();
    drop(held);
    let live = ALLOCATOR.allocated() - before;
    let peak = ALLOCATOR.max_allocated() - before;
    let rss = (status_kib("VmRSS:").unwrap_or(0) * 1024).saturating_sub(rss_before);
    let hwm = (status_kib("VmHWM:").unwrap_or(0) * 1024).saturating_sub(rss_before);
    let per_blob = |bytes: usize| bytes as f64 / index.len().max(1) as f64;
    println!(
        "index of {} blobs in {} packs{}: add {:.2} s, finish {:.2} s",
        index.len(),
        index.pack_count(),
        if hold { " (decoded packs held)" } else { "" },
        added.as_secs_f64(),
        (finished - added).as_secs_f64()
    );
    println!(
        "heap live after loading: {:>6.1} B/blob ({} bytes; Index::memory_bytes {:.1} B/blob)",
        per_blob(live),
        live,
        per_blob(index.memory_bytes())
    );
    println!(
        "heap peak while loading: {:>6.1} B/blob ({peak} bytes)",
        per_blob(peak)
    );
    println!(
        "process VmRSS growth:    {:>6.1} B/blob; VmHWM growth {:.1} B/blob",
        per_blob(rss as usize),
        per_blob(hwm as usize)
    );
}
