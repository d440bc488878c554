//! Two web and three worker processes on one PostgreSQL database, with a real SMTP server on
//! loopback: every digest delivered once, a worker SIGKILLed mid-delivery loses nothing, and a
//! paper ingested through one node is found by both web nodes.

mod nodes;

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use paperboy_testkit::SmtpSink;
use paperboy_engine::{demo, Leases, Outbox, PaperStore};

use nodes::{subscribers, until, worker_config, Database, Node};

const READERS: usize = 10_000;

fn search_ids(node: &Node, q: &str) -> Vec<String> {
    let url = format!("{}/api/v1/search?q={}&mode=hybrid&limit=10", node.url.as_deref().unwrap(), q.replace(' ', "+"));
    let body = http_get(&url);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"));
    v["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_owned()).collect()
}

/// A GET over a plain TCP connection (HTTP/1.0, no client crate needed).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
}

#[test]
fn two_web_and_three_worker_processes_share_one_database() {
    let Some(db) = Database::new("the cluster test (two web and three worker processes on PostgreSQL)") else { return };
    let root = tempfile::tempdir().unwrap();
    let mut store = db.store();
    demo::load(&mut store).unwrap();
    subscribers(&mut store, READERS);
    let sink = SmtpSink::start_local(&[]);
    let config = worker_config(root.path(), 20);
    let url = db.url();

    let web: Vec<Node> = (0..2).map(|i| Node::start(&format!("web{i}"), "web", root.path(), &url, &config, &sink.url)).collect();
    let mut workers: Vec<Node> = (0..3).map(|i| Node::start(&format!("worker{i}"), "worker", root.path(), &url, &config, &sink.url)).collect();

    // One worker takes the day's lease and composes; all of them deliver. Kill a worker that is
    // not composing once delivery is under way.
    let lease = format!("daily:{}", Utc::now().date_naive());
    until("delivery to start", Duration::from_secs(300), || store.outbox_counts().unwrap().sent >= 300);
    let (holder, _) = store.lease_holder(&lease).unwrap().expect("a worker holds the daily lease");
    let victim = workers.iter().position(|w| !holder.contains(&format!(":{}:", w.pid()))).unwrap();
    let sent_at_kill = store.outbox_counts().unwrap().sent;
    workers[victim].kill();
    until("every digest to be sent", Duration::from_secs(600), || store.outbox_counts().unwrap().sent as usize >= READERS);
    let counts = store.outbox_counts().unwrap();
    assert_eq!((counts.sent as usize, counts.queued, counts.sending, counts.failed), (READERS, 0, 0, 0), "killed at {sent_at_kill} sent");
    assert!((sent_at_kill as usize) < READERS, "the worker died mid-delivery");
    assert_eq!(workers.iter().filter(|w| w.log().contains("daily jobs done")).count(), 1, "the daily jobs ran once");

    // Exactly one digest per reader; a re-send (the killed worker's last step) only with the
    // same Message-ID.
    let received = sink.received();
    let mut by_reader: HashMap<String, Vec<String>> = HashMap::new();
    for m in &received {
        by_reader.entry(m.to[0].clone()).or_default().push(m.header("Message-ID").expect("a Message-ID"));
    }
    assert_eq!(by_reader.len(), READERS, "every reader got a digest");
    let resent: Vec<_> = by_reader.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(resent.iter().all(|(_, ids)| ids.iter().all(|id| id == &ids[0])), "re-sent only with the same Message-ID: {resent:?}");
    assert!(resent.len() <= paperboy_digest::deliver::STEP, "at most one step re-sent: {}", resent.len());
    eprintln!("cluster: {} messages for {READERS} readers, {} re-sent after the kill at {sent_at_kill} sent", received.len(), resent.len());

    // A paper ingested through one node reaches both web nodes' search.
    let title = "Exactly once digest delivery for clustered paper services";
    let mut paper = paperboy_core::Paper::new("2612.00077".parse().unwrap(), title, paperboy_core::Source::OaiPmh);
    paper.abstract_text = "We deliver each digest exactly once across worker processes sharing one database.".into();
    paper.listed_on = Some(Utc::now().date_naive());
    store.upsert_papers(vec![paper]).unwrap();
    until("both web nodes to find the new paper", Duration::from_secs(60), || {
        web.iter().all(|n| search_ids(n, "exactly once digest delivery clustered").first().is_some_and(|id| id == "2612.00077"))
    });
    // Once both nodes hold every paper, in the full-text index and as vectors, they answer alike.
    let papers = store.stats().unwrap().papers;
    until("both web nodes to index and embed every paper", Duration::from_secs(120), || {
        web.iter().all(|n| {
            let health: serde_json::Value = serde_json::from_str(&http_get(&format!("{}/healthz", n.url.as_deref().unwrap()))).unwrap_or_default();
            health["search"]["indexed"] == papers && health["search"]["embedded"] == papers
        })
    });
    assert_eq!(search_ids(&web[0], "digest delivery worker processes"), search_ids(&web[1], "digest delivery worker processes"), "same results on both nodes");
    drop(workers);
}
