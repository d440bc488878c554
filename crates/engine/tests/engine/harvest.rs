//! The OAI-PMH harvester against a local server replaying recorded arXiv responses.

use std::time::Duration;

use paperboy_engine::harvest::{harvest, HarvestError, HarvestOptions};
use paperboy_engine::PaperStore;

use crate::helpers::{memory_store, read_fixture, ReplayServer, Reply};

fn options(server: &ReplayServer) -> HarvestOptions {
    let mut opts = HarvestOptions::new(server.base_url.clone());
    opts.metadata_prefix = "oai_dc".into();
    opts.delay = Duration::from_millis(0);
    opts
}

/// Serves the complete 2023-03-07 harvest: the first page for the initial request, the
/// others for their resumption tokens.
fn complete_harvest_route(url: &str, _: usize) -> Reply {
    let page = if url.contains("resumptionToken=6511260%7C1001") {
        "oai-pmh/ListRecords_data_1.xml"
    } else if url.contains("resumptionToken=6511260%7C2001") {
        "oai-pmh/ListRecords_data_2.xml"
    } else if url.contains("resumptionToken") {
        "oai-pmh/ErrorResponseBadResumptionToken.xml"
    } else {
        "oai-pmh/ListRecords_data_0.xml"
    };
    Reply::ok(read_fixture(page))
}

#[test]
fn harvests_the_complete_list_then_resumes_incrementally() {
    let server = ReplayServer::start(complete_harvest_route);
    let mut store = memory_store();
    let mut opts = options(&server);
    opts.from = Some("2023-03-07".parse().unwrap());
    let mut pages_seen = Vec::new();
    let summary = harvest(&mut store, &opts, &mut |_| {}, &mut |p| pages_seen.push(p.records)).unwrap();
    assert_eq!(summary.pages, 3);
    assert_eq!((summary.report.new, summary.report.rejected), (2265, 0));
    assert_eq!(pages_seen, [1000, 2000, 2265]);
    assert_eq!(store.stats().unwrap().papers, 2265);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[0].url.contains("verb=ListRecords&metadataPrefix=oai_dc&from=2023-03-07"), "{}", requests[0].url);
    assert!(requests[1].url.ends_with("verb=ListRecords&resumptionToken=6511260%7C1001"), "{}", requests[1].url);
    assert!(requests.iter().all(|r| r.user_agent.as_deref().unwrap_or("").starts_with("paperboy/")));

    // The next run starts from the checkpoint without being told, and changes nothing.
    opts.from = None;
    let again = harvest(&mut store, &opts, &mut |_| {}, &mut |_| {}).unwrap();
    assert_eq!(again.from.unwrap().to_string(), "2023-03-07");
    assert_eq!((again.report.new, again.report.unchanged), (0, 2265));
    assert!(server.requests()[3].url.contains("&from=2023-03-07"));
}

#[test]
fn honours_retry_after_on_503_then_succeeds() {
    // The recorded exchange: arXiv answered 503 with Retry-After: 10, then the page.
    let exchanges: serde_json::Value = serde_json::from_slice(&read_fixture("oai-pmh/nock-503-then-listrecords.json")).unwrap();
    let replies: Vec<Reply> = exchanges
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let raw = x["rawHeaders"].as_array().unwrap();
            let headers = raw
                .chunks(2)
                .map(|kv| (kv[0].as_str().unwrap().to_owned(), kv[1].as_str().unwrap().to_owned()))
                .filter(|(k, _)| k == "Retry-After" || k == "Content-Type")
                .collect();
            Reply { status: x["status"].as_u64().unwrap() as u16, headers, body: x["response"].as_str().unwrap().as_bytes().to_vec() }
        })
        .collect();
    assert_eq!(replies[0].status, 503);
    let server = ReplayServer::start(move |_, n| replies[n.min(replies.len() - 1)].clone());
    let mut store = memory_store();
    let mut opts = options(&server);
    opts.metadata_prefix = "arXiv".into();
    let mut waits = Vec::new();
    let summary = harvest(&mut store, &opts, &mut |d| waits.push(d), &mut |_| {}).unwrap();
    assert_eq!(waits, [Duration::from_secs(10)], "waited as Retry-After said");
    assert_eq!(summary.retries, 1);
    assert_eq!(summary.report.new, 2);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn gives_up_after_bounded_retries_with_bounded_waits() {
    let server = ReplayServer::start(|_, _| Reply {
        status: 503,
        headers: vec![("Retry-After".into(), "86400".into())],
        body: read_fixture("oai-pmh/arxiv_retry_after.html"),
    });
    let mut store = memory_store();
    let mut opts = options(&server);
    opts.max_retries = 2;
    opts.max_retry_wait = Duration::from_secs(30);
    let mut waits = Vec::new();
    let err = harvest(&mut store, &opts, &mut |d| waits.push(d), &mut |_| {}).unwrap_err();
    assert!(matches!(err, HarvestError::GaveUp { attempts: 3, .. }), "{err}");
    assert_eq!(waits, [Duration::from_secs(30); 2], "a day-long Retry-After is capped");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn bad_resumption_token_is_a_clear_error_and_keeps_what_was_read() {
    let server = ReplayServer::start(|url, _| {
        if url.contains("resumptionToken") {
            Reply::ok(read_fixture("oai-pmh/ErrorResponseBadResumptionToken.xml"))
        } else {
            Reply::ok(read_fixture("oai-pmh/ListRecords_data_0.xml"))
        }
    });
    let mut store = memory_store();
    let opts = options(&server);
    let err = harvest(&mut store, &opts, &mut |_| {}, &mut |_| {}).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, HarvestError::BadResumptionToken { .. }));
    assert!(message.contains("6511260|1001") && message.contains("restart"), "{message}");
    assert_eq!(store.stats().unwrap().papers, 1000, "the first page is kept");
    assert_eq!(store.harvest_checkpoint(&opts.checkpoint_key()).unwrap(), None, "an incomplete list moves no checkpoint");
    assert_eq!(store.ingest_runs(1).unwrap()[0].new, 1000, "the partial run is recorded");
}

#[test]
fn no_records_match_means_nothing_new() {
    let server = ReplayServer::start(|_, _| Reply::ok(read_fixture("oai-pmh/ErrorResponseNoRecordsMatch.xml")));
    let mut store = memory_store();
    let summary = harvest(&mut store, &options(&server), &mut |_| {}, &mut |_| {}).unwrap();
    assert_eq!((summary.pages, summary.report.new), (1, 0));
}

#[test]
fn http_errors_name_the_url() {
    let server = ReplayServer::start(|_, _| Reply { status: 404, headers: vec![], body: b"no".to_vec() });
    let mut store = memory_store();
    let err = harvest(&mut store, &options(&server), &mut |_| {}, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("answered HTTP 404") && err.to_string().contains("127.0.0.1"), "{err}");
}
