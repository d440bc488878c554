//! 10,000 confirmed subscribers with varied interests over the demo corpus: every digest
//! composed (trending + hybrid search of the interests + ledger) and delivered over SMTP to the
//! loopback sink. Prints digests/s end to end and the peak RSS.
//!
//! `cargo bench -p paperboy-digest --bench digests [-- SUBSCRIBERS]`; with
//! `BENCH_POSTGRES_URL=postgres://…` the store is PostgreSQL (a schema of its own, dropped after);
//! `BENCH_TRENDING_ONLY=1` gives every subscriber no interests; `BENCH_COMPOSERS=N` composes
//! over N connections at once (default 4, as `serve` and `digest run` do; 1 is the plain loop).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use paperboy_core::EmailAddress;
use paperboy_testkit::SmtpSink;
use paperboy_digest::{compose_all_on, deliver_due, MailConfig, SmtpMailer};
use paperboy_embed::MiniLm;
use paperboy_engine::search::{Embed, IndexDirs, SearchService};
use paperboy_engine::subscriptions::{Frequency, Interests};
use paperboy_engine::{demo, PgStore, SqliteStore, Store};

const TOPICS: &[&str] = &[
    "video generation", "reinforcement learning for reasoning", "robot manipulation", "speech synthesis", "code agents",
    "diffusion models", "retrieval augmented generation", "multimodal large language models", "3D reconstruction",
    "protein design", "mixture of experts", "long context attention", "GUI agents", "world models", "image editing",
    "benchmarks for LLM agents", "quantization of language models", "medical imaging", "autonomous driving", "math reasoning",
];
const KEYWORDS: &[&str] = &["", "", "benchmark", "dataset", "", "open-source", "", "efficient"];


fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("paperboy.db");
    let postgres = std::env::var("BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    let schema = format!("bench_digests_{}", std::process::id());
    let open = || -> Box<dyn Store> {
        match &postgres {
            Some(url) => Box::new(PgStore::connect_in_schema(url, &schema).unwrap()),
            None => Box::new(SqliteStore::open(&db).unwrap()),
        }
    };
    let mut store = open();
    demo::load(&mut *store).unwrap();
    let now = Utc::now();
    // BENCH_TRENDING_ONLY=1: subscribers without interests (trending-only digests, shorter mails).
    let trending_only = std::env::var("BENCH_TRENDING_ONLY").is_ok();
    for i in 0..n {
        let topic = TOPICS[i % TOPICS.len()];
        let include = KEYWORDS[(i / TOPICS.len()) % KEYWORDS.len()];
        let text = if i % 5 == 4 { String::new() } else { topic.to_owned() };
        let interests = if trending_only { Interests::default() } else { Interests::from_fields(&text, "", include, if i % 7 == 0 { "survey" } else { "" }).unwrap() };
        let email = EmailAddress::parse(&format!("reader{i}@example.org")).unwrap();
        store.import_subscriber(&email, Frequency::Daily, &interests, true, now).unwrap();
    }
    let mut cache = open();
    let model = Arc::new(MiniLm::load().unwrap());
    let service = SearchService::open(&*store, &mut *cache, Some(&IndexDirs::under(&dir.path().join("index"))), model, Embed::Later, &mut |_, _, _| {}).unwrap();
    let sink = SmtpSink::start_local(&[]);
    let cfg = MailConfig { base_url: "http://127.0.0.1:8080".into(), from: "paperboy <digest@example.org>".into() };
    let mailer = SmtpMailer::new(&sink.url, &cfg.from).unwrap();
    let day = "2026-08-21".parse().unwrap();
    let composers: usize = std::env::var("BENCH_COMPOSERS").ok().and_then(|n| n.parse().ok()).unwrap_or(4).max(1);
    let mut extra: Vec<Box<dyn Store>> = (1..composers).map(|_| open()).collect();
    let start = Instant::now();
    let mut connections: Vec<&mut dyn Store> = vec![&mut *store];
    connections.extend(extra.iter_mut().map(|s| &mut **s as &mut dyn Store));
    let composed = compose_all_on(&mut connections, Some(&service), &cfg, day, now).unwrap();
    drop(extra);
    let composing = start.elapsed().as_secs_f64();
    let delivered = deliver_due(&mut *store, &mailer, now, n + 10).unwrap();
    let total = start.elapsed().as_secs_f64();
    let received = sink.received().len();
    println!("store: {}, composing over {composers} connection(s)", store.backend());
    println!("subscribers: {n}, topics: {} (query vectors are embedded once each)", TOPICS.len());
    println!("composed {} ({} empty) in {composing:.1} s: {:.0} digests/s", composed.composed, composed.empty, composed.composed as f64 / composing);
    println!("delivered {} (sink received {received}) in {:.1} s: {:.0} messages/s", delivered.sent, total - composing, delivered.sent as f64 / (total - composing));
    println!("end to end: {:.1} s, {:.0} digests/s; peak RSS {:.0} MiB", total, delivered.sent as f64 / total, paperboy_testkit::peak_rss_mib());
    drop((store, cache));
    if let Some(url) = &postgres {
        PgStore::drop_schema(url, &schema).unwrap();
    }
}
