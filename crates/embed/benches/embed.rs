//! Embedding throughput: `cargo bench -p paperboy-embed --bench embed`.
//!
//! Embeds the 220 "title\n\nabstract" texts of the reference file (real abstracts from the seed
//! listing, ~240 tokens each) three times and prints texts per second for the best run and the
//! number of threads (cores) used, then the latency of embedding a short search query alone,
//! and the fresh search queries of `scripts/bench-fresh-queries.txt` embedded in passes of 16
//! (as the batching embedder runs them under load).

use std::time::Instant;

use paperboy_embed::{Embedder, MiniLm};

/// The same allocator the `paperboy` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/embeddings/all-MiniLM-L6-v2.reference.jsonl");
    let texts: Vec<String> = std::fs::read_to_string(path)
        .expect("reference file")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_owned())
        .filter(|t| t.contains("\n\n"))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let model = MiniLm::load().expect("model");
    let start = Instant::now();
    let _ = MiniLm::load().expect("model");
    let load = start.elapsed().as_secs_f64();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        model.embed(&refs).expect("embed");
        best = best.min(start.elapsed().as_secs_f64());
    }
    // A search query: a few words, embedded alone (as a search does).
    let mut query_ms: Vec<f64> = (0..200)
        .map(|i| {
            let q = format!("contrastive learning for protein structure {i}");
            let start = Instant::now();
            model.embed(&[&q]).expect("embed");
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    query_ms.sort_by(f64::total_cmp);
    // Fresh search queries as the batching embedder sees them under load: passes of 16.
    let fresh: Vec<String> = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/bench-fresh-queries.txt")).expect("queries").lines().map(str::to_owned).collect();
    let fresh: Vec<&str> = fresh.iter().map(String::as_str).collect();
    let mut batched = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for pass in fresh.chunks(16) {
            model.embed(pass).expect("embed");
        }
        batched = batched.min(start.elapsed().as_secs_f64());
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("| texts | best of 3 (s) | texts/s | query p50 (ms) | query p99 (ms) | fresh queries/s in passes of 16 | model load (s) | threads |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {} | {best:.2} | {:.1} | {:.2} | {:.2} | {:.0} | {load:.2} | {threads} |",
        refs.len(),
        refs.len() as f64 / best,
        query_ms[100],
        query_ms[198],
        fresh.len() as f64 / batched
    );
}
