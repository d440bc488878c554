//! Ingest throughput and peak memory: `cargo bench -p paperboy-engine --bench ingest`.
//!
//! Cases, each in its own child process so peak memory (VmHWM) is the case's own:
//! - `arxiv-snapshot` at 50k, 200k and 400k lines: a synthetic snapshot made by repeating the
//!   1,000 real lines of `../shared/data/arxiv/kaggle-snapshot-sample` (or the 200-line fixture
//!   when that is missing) with fresh ids, streamed into a new SQLite database file;
//! - `hf-daily`: the demo corpus tarball, and the full 558-day tarball from `../shared/data`.
//!
//! Prints a Markdown table for BENCHMARKS.md. `BENCH_SIZES=10000,20000` overrides the sizes.
//! With `BENCH_POSTGRES_URL=postgres://…` every case writes to PostgreSQL instead (a schema of
//! its own, dropped afterwards).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use paperboy_core::Source;
use paperboy_engine::ingest::ingest_path;
use paperboy_engine::{PgStore, SqliteStore, Store};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}


fn snapshot_sample() -> (Vec<String>, String) {
    let shared = repo().join("../shared/data/arxiv/kaggle-snapshot-sample/arxiv-metadata-oai-snapshot.head1000.jsonl");
    let (path, note) = if shared.exists() {
        (shared, "1,000 real snapshot lines".to_owned())
    } else {
        eprintln!("note: {} is missing; using the 200-line fixture", shared.display());
        (repo().join("tests/fixtures/snapshot/head200.jsonl"), "200 real snapshot lines (fixture)".to_owned())
    };
    let text = std::fs::read_to_string(&path).expect("sample lines");
    (text.lines().map(str::to_owned).collect(), note)
}

/// Writes `n` snapshot lines with unique new-style ids (2015-01 onwards, 5-digit numbers).
fn write_synthetic_snapshot(path: &Path, n: usize, sample: &[String]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..n {
        let line = &sample[i % sample.len()];
        let month = i / 99_999;
        let id = format!("{:02}{:02}.{:05}", 15 + month / 12, 1 + month % 12, 1 + i % 99_999);
        let rest = line.split_once("\",").map(|(_, r)| r).expect("line starts with the id");
        writeln!(out, "{{\"id\":\"{id}\",{rest}").expect("write");
    }
    out.flush().expect("flush");
}

fn run_case(source: Source, input: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let postgres = std::env::var("BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    let schema = format!("bench_ingest_{}", std::process::id());
    let mut store: Box<dyn Store> = match &postgres {
        Some(url) => Box::new(PgStore::connect_in_schema(url, &schema).expect("PostgreSQL")),
        None => Box::new(SqliteStore::open(&dir.path().join("bench.db")).expect("store")),
    };
    let start = Instant::now();
    let report = ingest_path(&mut *store, source, input, &mut |_| {}).expect("ingest");
    let secs = start.elapsed().as_secs_f64();
    drop(store);
    if let Some(url) = &postgres {
        PgStore::drop_schema(url, &schema).expect("drop the bench schema");
    }
    let papers = report.new + report.updated + report.unchanged;
    println!("{papers} {secs:.3} {:.1} {}", paperboy_testkit::peak_rss_mib(), report.rejected);
}

fn main() {
    // Child: run one case and print "papers seconds peak_mib rejected".
    if let (Ok(source), Ok(input)) = (std::env::var("BENCH_SOURCE"), std::env::var("BENCH_INPUT")) {
        run_case(Source::parse(&source).expect("source"), Path::new(&input));
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (sample, note) = snapshot_sample();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50_000, 200_000, 400_000]);
    let mut cases: Vec<(String, Source, PathBuf)> = Vec::new();
    for &n in &sizes {
        let path = tmp.path().join(format!("snapshot-{n}.jsonl"));
        write_synthetic_snapshot(&path, n, &sample);
        let mib = std::fs::metadata(&path).map(|m| m.len() as f64 / 1048576.0).unwrap_or(0.0);
        cases.push((format!("arxiv-snapshot, {n} lines ({mib:.0} MiB; {note}, new ids)"), Source::ArxivSnapshot, path));
    }
    cases.push(("hf-daily, demo corpus data/demo/hf-daily.tar.gz".into(), Source::HfDaily, repo().join("data/demo/hf-daily.tar.gz")));
    let all_days = repo().join("../shared/data/hf-daily-papers/Paper_metadata_download.all-558-days.tar.gz");
    if all_days.exists() {
        cases.push(("hf-daily, all 558 days .tar.gz (shared data)".into(), Source::HfDaily, all_days));
    } else {
        eprintln!("note: {} is missing; skipping that case", all_days.display());
    }
    let backend = if std::env::var("BENCH_POSTGRES_URL").is_ok_and(|u| !u.is_empty()) { "PostgreSQL" } else { "SQLite" };
    println!("Store: {backend}\n");
    println!("| input | papers | seconds | papers/s | peak RSS (MiB) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (label, source, input) in cases {
        let out = Command::new(std::env::current_exe().expect("self"))
            .env("BENCH_SOURCE", source.as_str())
            .env("BENCH_INPUT", &input)
            .output()
            .expect("run case");
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        if !out.status.success() || f.len() < 4 {
            eprintln!("{label}: failed: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        let papers: f64 = f[0].parse().unwrap_or(0.0);
        let secs: f64 = f[1].parse().unwrap_or(f64::NAN);
        println!("| {label} | {} | {secs:.2} | {:.0} | {} |", f[0], papers / secs, f[2]);
    }
}
