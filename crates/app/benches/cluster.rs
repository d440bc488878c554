//! Digests end to end on PostgreSQL: `BENCH_POSTGRES_URL=postgres://… cargo bench -p paperboy --bench cluster`.
//!
//! For 1 and then 3 `serve --role worker` processes on one database (the demo corpus and
//! `BENCH_READERS` confirmed daily readers, default 10,000) and a real SMTP server on loopback:
//! the time from the first digest recorded in the outbox to the last one accepted by the SMTP
//! server (composing by the worker holding the day's lease, delivering by all of them). Start-up
//! (each worker opens its own search index) is not counted. Prints a Markdown table.
//! `BENCH_SMTP_LATENCY_MS=N` makes the SMTP server answer each command of a message N ms late,
//! as a relay across a network does (default 0: the loopback sink answers at once).

#[path = "../tests/cluster/nodes.rs"]
mod nodes;

use std::time::{Duration, Instant};

use paperboy_testkit::SmtpSink;
use paperboy_engine::{demo, Outbox};

use nodes::{subscribers, until, worker_config, Database, Node};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Ok(url) = std::env::var("BENCH_POSTGRES_URL") else {
        eprintln!("set BENCH_POSTGRES_URL=postgres://… (e.g. from `source scripts/test-postgres.sh`)");
        return;
    };
    std::env::set_var("PAPERBOY_TEST_POSTGRES_URL", &url);
    let readers: usize = std::env::var("BENCH_READERS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let counts: Vec<usize> = std::env::var("BENCH_WORKERS").ok().map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect()).unwrap_or_else(|| vec![1, 3]);
    let latency_ms: u64 = std::env::var("BENCH_SMTP_LATENCY_MS").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    println!("| workers | readers | SMTP latency (ms) | composed in (s) | all sent in (s) | digests/s end to end |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for workers in counts {
        let db = Database::new("cluster bench").expect("a database");
        let root = tempfile::tempdir().unwrap();
        let mut store = db.store();
        demo::load(&mut store).unwrap();
        subscribers(&mut store, readers);
        let sink = SmtpSink::start_with_latency(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), &[], Duration::from_millis(latency_ms));
        let config = worker_config(root.path(), 300);
        let nodes: Vec<Node> = (0..workers).map(|i| Node::start(&format!("worker{i}"), "worker", root.path(), &db.url(), &config, &sink.url)).collect();
        let total = |s: &paperboy_engine::PgStore| {
            let c = s.outbox_counts().unwrap();
            (c.queued + c.sending + c.sent + c.failed + c.bounced, c.sent)
        };
        until("the first digest", Duration::from_secs(600), || total(&store).0 > 0);
        let start = Instant::now();
        let mut composed = None;
        until("every digest sent", Duration::from_secs(1800), || {
            let (rows, sent) = total(&store);
            if composed.is_none() && rows as usize >= readers {
                composed = Some(start.elapsed());
            }
            sent as usize >= readers
        });
        let all = start.elapsed();
        let composed = composed.unwrap_or(all);
        println!("| {workers} | {readers} | {latency_ms} | {:.1} | {:.1} | {:.0} |", composed.as_secs_f64(), all.as_secs_f64(), readers as f64 / all.as_secs_f64());
        if std::env::var("BENCH_LOG").is_ok() {
            for n in &nodes {
                eprintln!("--- {}\n{}", n.name, n.log());
            }
        }
        drop(nodes);
    }
}
