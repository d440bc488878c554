//! The `paperboy` binary end to end: each command on a fresh data directory.

use std::path::Path;
use std::process::{Command, Output};

use paperboy_testkit::{fixture, read_fixture, ReplayServer, Reply, SmtpSink};

/// Runs paperboy on `data_dir` with no config file and no inherited PAPERBOY_ settings.
fn paperboy(data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperboy"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PAPERBOY_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("XDG_CONFIG_HOME", data_dir.join("no-config"));
    cmd.arg("--data-dir").arg(data_dir).args(args).output().expect("run paperboy")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn ingest_prints_counts_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let page = fixture("oai-pmh/ListRecords_data_2.xml");
    let first = json(&paperboy(dir.path(), &["--json", "ingest", "oai-pmh", page.to_str().unwrap()]));
    assert_eq!((first["new"].as_u64(), first["updated"].as_u64(), first["unchanged"].as_u64(), first["rejected"].as_u64()), (Some(265), Some(0), Some(0), Some(0)));
    let again = json(&paperboy(dir.path(), &["--json", "ingest", "oai-pmh", page.to_str().unwrap()]));
    assert_eq!((again["new"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(265)));
    let stats = json(&paperboy(dir.path(), &["--json", "stats"]));
    assert_eq!(stats["papers"], 265);
    for (format, path) in [
        ("atom", "atom/rsxiv-query.xml"),
        ("arxiv-snapshot", "snapshot/head200.jsonl"),
        ("hf-daily", "hf-daily-two-days.tar.gz"),
        ("listing", "listing/head.txt"),
        ("beir", "beir/scifact-head40/corpus.jsonl"),
    ] {
        let out = json(&paperboy(dir.path(), &["--json", "ingest", format, fixture(path).to_str().unwrap()]));
        assert!(out["new"].as_u64().unwrap() > 0, "{format}: {out}");
    }
}

#[test]
fn demo_fills_an_empty_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = json(&paperboy(dir.path(), &["--json", "demo"]));
    assert!(loaded["new"].as_u64().unwrap() > 5000, "{loaded}");
    assert_eq!(loaded["rejected"], 0);
    let stats = json(&paperboy(dir.path(), &["--json", "stats"]));
    assert!(stats["papers"].as_u64().unwrap() > 5000);
    assert_eq!(stats["latest_day"], "2026-08-21");
    let day = json(&paperboy(dir.path(), &["--json", "papers", "--date", "2026-08-21"]));
    let papers = day["papers"].as_array().unwrap();
    assert!(papers.len() > 10);
    assert!(papers[0]["upvotes"].as_u64() >= papers[1]["upvotes"].as_u64());
    let id = papers[0]["id"].as_str().unwrap();
    let one = json(&paperboy(dir.path(), &["--json", "paper", id]));
    assert_eq!(one["id"], id);
    assert_eq!(one["abs_url"], format!("https://arxiv.org/abs/{id}"));
    let text = paperboy(dir.path(), &["paper", &format!("arXiv:{id}v1")]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains(papers[0]["title"].as_str().unwrap()));
    let again = json(&paperboy(dir.path(), &["--json", "demo"]));
    assert_eq!(again["new"], 0, "loading the demo twice adds nothing");
}

#[test]
fn errors_name_what_and_where_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let missing = paperboy(dir.path(), &["ingest", "listing", "/no/such/file.txt"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/no/such/file.txt does not exist"), "{}", stderr(&missing));

    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, "<OAI-PMH><ListRecords><record>").unwrap();
    let out = paperboy(dir.path(), &["ingest", "oai-pmh", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("broken.xml") && stderr(&out).contains("malformed XML"), "{}", stderr(&out));
    // Each cause once: the message already holds the XML error, so no "caused by" repeats it.
    assert_eq!(stderr(&out).lines().filter(|l| l.contains("malformed XML")).count(), 1, "{}", stderr(&out));

    let unknown = paperboy(dir.path(), &["paper", "2401.01234"]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("no paper 2401.01234"), "{}", stderr(&unknown));
    let invalid = paperboy(dir.path(), &["paper", "<script>"]);
    assert!(stderr(&invalid).contains("invalid paper id"), "{}", stderr(&invalid));

    let bad_config = dir.path().join("bad.toml");
    std::fs::write(&bad_config, "data_dir = 3\n").unwrap();
    let out = paperboy(dir.path(), &["--config", bad_config.to_str().unwrap(), "stats"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid config file") && stderr(&out).contains("bad.toml"), "{}", stderr(&out));

    // A snapshot with a bad line: the good lines land, the bad one is reported with its line.
    let mixed = dir.path().join("mixed.jsonl");
    let good = std::fs::read_to_string(fixture("snapshot/head200.jsonl")).unwrap();
    std::fs::write(&mixed, format!("{}\n{{oops\n{}\n", good.lines().next().unwrap(), good.lines().nth(1).unwrap())).unwrap();
    let report = json(&paperboy(dir.path(), &["--json", "ingest", "arxiv-snapshot", mixed.to_str().unwrap()]));
    assert_eq!((report["new"].as_u64(), report["rejected"].as_u64()), (Some(2), Some(1)));
    assert!(report["first_errors"][0].as_str().unwrap().contains("mixed.jsonl:2"), "{report}");
}

#[test]
fn harvest_reads_settings_from_the_config_file_and_env() {
    let server = ReplayServer::start(|url, _| {
        Reply::ok(read_fixture(if url.contains("6511260%7C1001") {
            "oai-pmh/ListRecords_data_1.xml"
        } else if url.contains("6511260%7C2001") {
            "oai-pmh/ListRecords_data_2.xml"
        } else {
            "oai-pmh/ListRecords_data_0.xml"
        }))
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paperboy.toml");
    std::fs::write(&config, "[harvest]\nmetadata_prefix = \"oai_dc\"\ndelay_secs = 0\nset = \"math\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .args(["--json", "--data-dir", dir.path().to_str().unwrap(), "--config", config.to_str().unwrap()])
        .args(["harvest", "--from", "2023-03-07"])
        .env("PAPERBOY_HARVEST_URL", &server.base_url)
        .output()
        .unwrap();
    let summary = json(&out);
    assert_eq!((summary["new"].as_u64(), summary["pages"].as_u64()), (Some(2265), Some(3)), "{summary}");
    assert_eq!(summary["last_datestamp"], "2023-03-07");
    let urls: Vec<String> = server.requests().into_iter().map(|r| r.url).collect();
    assert_eq!(urls.len(), 3, "{urls:?}");
    assert_eq!(urls[0], "/oai2?verb=ListRecords&metadataPrefix=oai_dc&from=2023-03-07&set=math");
}

#[test]
fn search_similar_and_eval_with_the_real_model() {
    let dir = tempfile::tempdir().unwrap();
    let listing = fixture("listing/head.txt");
    json(&paperboy(dir.path(), &["--json", "ingest", "listing", listing.to_str().unwrap()]));

    // BM25 finds the paper by its words; semantic search finds it by meaning.
    let bm25 = json(&paperboy(dir.path(), &["--json", "search", "sum pooling metric learning", "--mode", "bm25", "--limit", "3"]));
    assert_eq!(bm25["hits"][0]["title"], "Generalized Sum Pooling for Metric Learning", "{bm25}");
    let semantic = json(&paperboy(dir.path(), &["--json", "search", "adapting a segmentation network to a new domain without source data", "--mode", "semantic", "--limit", "3"]));
    assert_eq!(semantic["hits"][0]["title"], "Source-Free Domain Adaptation for Image Segmentation", "{semantic}");
    let hybrid = json(&paperboy(dir.path(), &["--json", "search", "entropy minimization for unlabeled samples"]));
    let hits = hybrid["hits"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() <= 10);
    for h in hits {
        assert!(h["id"].is_string() && h["title"].is_string() && h["score"].is_number(), "{h}");
    }
    assert!(hits.iter().any(|h| h["explain"]["bm25_rank"].is_number() && h["explain"]["vector_rank"].is_number()), "{hybrid}");

    let id = bm25["hits"][0]["id"].as_str().unwrap();
    let similar = json(&paperboy(dir.path(), &["--json", "similar", id, "--limit", "5"]));
    let similar = similar["hits"].as_array().unwrap();
    assert_eq!(similar.len(), 5);
    assert!(similar.iter().all(|h| h["id"] != id));

    // Bad queries and modes are clear errors.
    let empty = paperboy(dir.path(), &["search", "   "]);
    assert!(!empty.status.success() && stderr(&empty).contains("the query is empty"), "{}", stderr(&empty));
    let long = "x".repeat(5000);
    let huge = paperboy(dir.path(), &["search", &long]);
    assert!(!huge.status.success() && stderr(&huge).contains("longer than"), "{}", stderr(&huge));
    let mode = paperboy(dir.path(), &["search", "x", "--mode", "fuzzy"]);
    assert!(stderr(&mode).contains("unknown mode"), "{}", stderr(&mode));

    // eval on a tiny BEIR set: three queries whose relevant document is known.
    let beir = dir.path().join("tiny");
    std::fs::create_dir_all(&beir).unwrap();
    std::fs::copy(fixture("beir/scifact-head40/corpus.jsonl"), beir.join("corpus.jsonl")).unwrap();
    let corpus = std::fs::read_to_string(beir.join("corpus.jsonl")).unwrap();
    let docs: Vec<serde_json::Value> = corpus.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut queries = String::new();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (i, d) in docs.iter().take(3).enumerate() {
        queries.push_str(&format!("{}\n", serde_json::json!({"_id": format!("q{i}"), "text": d["title"]})));
        qrels.push_str(&format!("q{i}\t{}\t1\n", d["_id"].as_str().unwrap()));
    }
    std::fs::write(beir.join("queries.jsonl"), queries).unwrap();
    std::fs::write(beir.join("qrels.tsv"), qrels).unwrap();
    let args = |mode: &'static str| {
        vec!["--json", "eval", "search", "--corpus", "CORPUS", "--queries", "QUERIES", "--qrels", "QRELS", "--mode", mode]
    };
    for mode in ["bm25", "semantic", "hybrid"] {
        let a: Vec<String> = args(mode)
            .into_iter()
            .map(|s| match s {
                "CORPUS" => beir.join("corpus.jsonl").display().to_string(),
                "QUERIES" => beir.join("queries.jsonl").display().to_string(),
                "QRELS" => beir.join("qrels.tsv").display().to_string(),
                s => s.to_owned(),
            })
            .collect();
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let m = json(&paperboy(dir.path(), &a));
        assert_eq!(m["queries"], 3, "{m}");
        assert!(m["ndcg@10"].as_f64().unwrap() > 0.9, "{mode}: {m}");
        assert!(m["recall@100"].as_f64().unwrap() > 0.99, "{mode}: {m}");
        assert!(m["mrr@10"].as_f64().unwrap() > 0.9, "{mode}: {m}");
    }
}

/// `subscribers import` + `digest run|preview` against a real SMTP server on loopback.
#[test]
fn digest_commands_compose_preview_and_deliver() {
    let dir = tempfile::tempdir().unwrap();
    json(&paperboy(dir.path(), &["--json", "demo"]));
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, "email,frequency,interests\nada@example.org,daily,video generation\nbob@example.org,weekly,\nnot an address,daily,x\n").unwrap();
    let imported = json(&paperboy(dir.path(), &["--json", "subscribers", "import", csv.to_str().unwrap(), "--confirmed"]));
    assert_eq!((imported["imported"].as_u64(), imported["rejected"].as_u64()), (Some(2), Some(1)));
    assert!(imported["errors"][0].as_str().unwrap().contains("list.csv:4"), "{imported}");
    let listed = json(&paperboy(dir.path(), &["--json", "subscribers", "list"]));
    assert_eq!(listed["subscribers"].as_array().unwrap().len(), 2);

    let out = dir.path().join("preview");
    let preview = json(&paperboy(dir.path(), &["--json", "digest", "preview", "--email", "ada@example.org", "--date", "2026-08-21", "--out", out.to_str().unwrap()]));
    assert!(preview["subject"].as_str().unwrap().starts_with("paperboy: "));
    assert!(std::fs::read_to_string(out.join("digest.html")).unwrap().contains("For your interests"));
    assert!(std::fs::read_to_string(out.join("digest.txt")).unwrap().contains("/unsubscribe/"));

    // A dry run records and sends nothing.
    let dry = json(&paperboy(dir.path(), &["--json", "digest", "run", "--date", "2026-08-21", "--dry-run"]));
    assert_eq!((dry["composed"].as_u64(), dry["sent"].as_u64()), (Some(1), Some(0)), "Friday: only the daily subscriber is due");
    // Without an SMTP server configured, a real run says so.
    let no_smtp = paperboy(dir.path(), &["digest", "run", "--date", "2026-08-21"]);
    assert!(!no_smtp.status.success());
    assert!(stderr(&no_smtp).contains("no SMTP server"), "{}", stderr(&no_smtp));

    let sink = SmtpSink::start_local(&[]);
    let run = json(&paperboy(dir.path(), &["--json", "--smtp-url", &sink.url, "digest", "run", "--date", "2026-08-21"]));
    assert_eq!((run["composed"].as_u64(), run["sent"].as_u64(), run["failed"].as_u64()), (Some(1), Some(1), Some(0)));
    assert_eq!((run["queued"].as_u64(), run["next_attempt"].is_null()), (Some(0), true), "nothing waits: {run}");
    let again = json(&paperboy(dir.path(), &["--json", "--smtp-url", &sink.url, "digest", "run", "--date", "2026-08-21"]));
    assert_eq!((again["composed"].as_u64(), again["sent"].as_u64()), (Some(0), Some(0)), "never two digests for one day");
    let sunday = json(&paperboy(dir.path(), &["--json", "--smtp-url", &sink.url, "digest", "run", "--date", "2026-08-23"]));
    // Sunday: the weekly digest; the daily one has nothing new (no papers that day), so no email.
    assert_eq!((sunday["composed"].as_u64(), sunday["empty"].as_u64(), sunday["sent"].as_u64()), (Some(1), Some(1), Some(1)));
    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert!(got[1].to == ["bob@example.org"]);
    assert!(got.iter().all(|m| m.header("List-Unsubscribe-Post").as_deref() == Some("List-Unsubscribe=One-Click")));
}

/// An SMTP server that is down: the digest waits in the outbox, and `digest run` says how many
/// wait and when the next is due (it used to print only "0 sent").
#[test]
fn digest_run_says_what_waits_for_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    json(&paperboy(dir.path(), &["--json", "demo"]));
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, "email,frequency\nada@example.org,daily\n").unwrap();
    json(&paperboy(dir.path(), &["--json", "subscribers", "import", csv.to_str().unwrap(), "--confirmed"]));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = format!("smtp://{closed}");
    let run = json(&paperboy(dir.path(), &["--json", "--smtp-url", &down, "digest", "run", "--date", "2026-08-21"]));
    assert_eq!((run["composed"].as_u64(), run["sent"].as_u64(), run["retrying"].as_u64(), run["queued"].as_u64()), (Some(1), Some(0), Some(1), Some(1)), "{run}");
    let next: chrono::DateTime<chrono::Utc> = run["next_attempt"].as_str().expect("a time").parse().unwrap();
    assert!(next > chrono::Utc::now(), "the retry waits for its backoff: {next}");
    let text = paperboy(dir.path(), &["--smtp-url", &down, "digest", "run", "--date", "2026-08-21"]);
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("1 messages wait in the outbox; the next is due at"), "{out}");
}
