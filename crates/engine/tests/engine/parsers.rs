//! Each parser on real recorded data.

use std::io::Write;

use paperboy_core::{PaperId, Source};
use paperboy_engine::ingest::oai_pmh::{parse_page, OaiError};
use paperboy_engine::ingest::{atom, beir, hf_daily, listing, snapshot};

use crate::helpers::{fixture, read_fixture};

fn id(s: &str) -> PaperId {
    s.parse().unwrap()
}

#[test]
fn oai_dc_first_page_of_the_complete_harvest() {
    let page = parse_page(&read_fixture("oai-pmh/ListRecords_data_0.xml"), "page0").unwrap();
    assert_eq!(page.records.len(), 1000);
    assert!(page.records.iter().all(|r| r.is_ok()), "{:?}", page.records.iter().find(|r| r.is_err()));
    assert_eq!(page.resumption_token.as_deref(), Some("6511260|1001"));
    assert_eq!(page.complete_list_size, Some(2265));
    assert_eq!(page.max_datestamp.unwrap().to_string(), "2023-03-07");
    let p = page.records[0].as_ref().unwrap();
    assert_eq!(p.id, id("0806.4410"));
    assert_eq!(p.title, "Summing the curious series of Kempner and Irwin");
    assert_eq!(p.authors[0].name, "Robert Baillie");
    let cats: Vec<_> = p.categories.iter().map(|c| c.as_str()).collect();
    assert_eq!(cats, ["math.CA", "math.NT"]);
    assert!(p.abstract_text.starts_with("In 1914, Kempner proved that the series 1/1 + 1/2"));
    assert!(p.comments.as_deref().unwrap().starts_with("29 pages, 2 figures"));
    assert_eq!(p.submitted.unwrap().date_naive().to_string(), "2008-06-27");
    // A record with a DOI and a journal reference among its identifiers.
    let with_doi = page.records.iter().flatten().find(|p| p.doi.as_deref() == Some("10.1016/j.patrec.2014.01.002")).unwrap();
    assert_eq!(with_doi.journal_ref.as_deref(), Some("Pattern Recognition Letters 42 (2014): 25-34"));
}

#[test]
fn oai_last_page_has_an_empty_token() {
    let page = parse_page(&read_fixture("oai-pmh/ListRecords_data_2.xml"), "page2").unwrap();
    assert_eq!(page.records.len(), 265);
    assert_eq!(page.resumption_token, None);
    let old_style = page.records.iter().flatten().find(|p| p.id == id("nlin/0202021")).unwrap();
    assert_eq!(old_style.primary_category().unwrap().as_str(), "nlin.SI");
}

#[test]
fn arxiv_raw_keeps_every_version() {
    let page = parse_page(&read_fixture("oai-pmh/ListRecordsResponse.xml"), "raw").unwrap();
    assert_eq!(page.records.len(), 6);
    assert_eq!(page.resumption_token.as_deref(), Some("726959|1001"));
    for r in &page.records {
        let p = r.as_ref().unwrap();
        assert!(p.latest_version().unwrap() >= 1, "{}", p.id);
        assert!(p.submitted.is_some() && !p.authors.is_empty() && !p.categories.is_empty(), "{}", p.id);
    }
    let one = parse_page(&read_fixture("oai-pmh/GetRecordResponse.xml"), "get").unwrap();
    let p = one.records[0].as_ref().unwrap();
    assert_eq!(p.id, id("1302.2146"));
    assert!(p.versions.iter().all(|v| v.date.is_some()));
}

#[test]
fn arxiv_format_has_structured_authors() {
    let page = parse_page(&read_fixture("oai-pmh/GetRecord-arXiv-1412.8544.xml"), "get").unwrap();
    let p = page.records[0].as_ref().unwrap();
    assert_eq!(p.authors[0].name, "Sander Uijlen");
    assert_eq!(p.authors[0].affiliation.as_deref(), Some("Radboud Universiteit"));
    assert_eq!(p.doi.as_deref(), Some("10.4204/EPTCS.172.11"));
    assert_eq!(p.journal_ref.as_deref(), Some("EPTCS 172, 2014, pp. 154-164"));
    assert_eq!(p.submitted.unwrap().date_naive().to_string(), "2014-12-29");
}

#[test]
fn oai_errors() {
    let empty = parse_page(&read_fixture("oai-pmh/ErrorResponseNoRecordsMatch.xml"), "x").unwrap();
    assert!(empty.records.is_empty() && empty.resumption_token.is_none());
    for (file, code) in [
        ("ErrorResponseBadResumptionToken.xml", "badResumptionToken"),
        ("ErrorResponseBadArgument.xml", "badArgument"),
        ("ErrorResponseBadVerb.xml", "badVerb"),
        ("ErrorResponseIdDoesNotExist.xml", "idDoesNotExist"),
    ] {
        match parse_page(&read_fixture(&format!("oai-pmh/{file}")), file) {
            Err(OaiError::Protocol { code: got, message, .. }) => {
                assert_eq!(got, code);
                assert!(!message.is_empty());
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    let err = parse_page(&read_fixture("oai-pmh/arxiv_retry_after.html"), "retry.html").unwrap_err();
    assert!(err.to_string().starts_with("retry.html: "), "{err}");
    // A page cut off in the middle names the byte where it broke.
    let page = read_fixture("oai-pmh/ListRecords_data_2.xml");
    let err = parse_page(&page[..page.len() / 2], "cut.xml").unwrap_err();
    assert!(matches!(err, OaiError::Xml { .. }), "{err}");
    assert!(err.to_string().contains("cut.xml"), "{err}");
}

#[test]
fn oai_bad_record_is_rejected_and_the_rest_kept() {
    let page = String::from_utf8(read_fixture("oai-pmh/ListRecordsResponse.xml")).unwrap();
    let broken = page.replacen("<id>", "<id>not-an-id", 1);
    let parsed = parse_page(broken.as_bytes(), "broken.xml").unwrap();
    assert_eq!(parsed.records.iter().filter(|r| r.is_ok()).count(), 5);
    let err = parsed.records.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(err.location.starts_with("broken.xml record 1 (oai:arXiv.org:"), "{err}");
    assert!(err.reason.contains("invalid paper id"), "{err}");
}

#[test]
fn atom_feeds() {
    let one = atom::parse_feed(&read_fixture("atom/id_2104.12255v1_s0_m100_6ae69987ffe1.xml"), "a").unwrap();
    assert_eq!(one.total_results, Some(1));
    let p = one.records[0].as_ref().unwrap();
    assert_eq!(p.id, id("2104.12255"));
    assert_eq!(p.title, "0");
    assert_eq!(p.primary_category().unwrap().as_str(), "cs.CR");
    assert_eq!(p.authors[0].name, "Quan Thoi Minh Nguyen");
    assert_eq!(p.latest_version(), Some(1));

    let page = atom::parse_feed(&read_fixture("atom/q_testing_s0_m10_bc5a6c384fe9.xml"), "q").unwrap();
    assert_eq!(page.records.len(), 10);
    assert!(page.records.iter().all(|r| r.is_ok()));
    assert!(page.total_results.unwrap() > 1000);

    let rsxiv = atom::parse_feed(&read_fixture("atom/rsxiv-query.xml"), "r").unwrap();
    assert_eq!(rsxiv.records.len(), 10);
    assert!(rsxiv.records.iter().flatten().any(|p| p.doi.is_some() && p.journal_ref.is_some()));

    let old = atom::parse_feed(&read_fixture("atom/id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"), "o").unwrap();
    assert_eq!(old.records[0].as_ref().unwrap().id, id("astro-ph/0601001"));

    let empty = atom::parse_feed(&read_fixture("atom/id_0000.0000_s0_m100_8b51d9633a68.xml"), "e").unwrap();
    assert!(empty.records.is_empty());

    let err = atom::parse_feed(&read_fixture("atom/id_abc_s0_m100_b79c8dcf6bc3.xml"), "abc.xml").unwrap_err();
    assert_eq!(err.to_string(), "abc.xml: the arXiv API reported an error: incorrect id format for abc");
}

#[test]
fn snapshot_lines_stream_and_bad_lines_are_rejected() {
    let file = std::fs::File::open(fixture("snapshot/head200.jsonl")).unwrap();
    let papers: Vec<_> = snapshot::SnapshotReader::new(std::io::BufReader::new(file), "s").collect();
    assert_eq!(papers.len(), 200);
    let p = papers[0].as_ref().unwrap();
    assert_eq!(p.id, id("0704.0001"));
    assert_eq!(p.title, "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies");
    assert_eq!(p.authors.len(), 4);
    assert_eq!(p.doi.as_deref(), Some("10.1103/PhysRevD.76.013009"));
    assert_eq!(p.latest_version(), Some(2));
    assert_eq!(p.submitted.unwrap().to_rfc3339(), "2007-04-02T19:18:42+00:00");

    let text = std::fs::read_to_string(fixture("snapshot/head200.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().take(3).collect();
    lines.insert(1, "{\"id\": \"0704.9999\", \"title\": ");
    lines.insert(2, "{\"id\": \"nonsense\", \"title\": \"x\"}");
    let mut bytes = lines.join("\n").into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe not utf-8\n");
    let got: Vec<_> = snapshot::SnapshotReader::new(&bytes[..], "bad.jsonl").collect();
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 3);
    let errs: Vec<_> = got.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs.len(), 3);
    assert_eq!(errs[0].location, "bad.jsonl:2");
    assert!(errs[0].reason.starts_with("invalid JSON"), "{}", errs[0]);
    assert_eq!(errs[1].location, "bad.jsonl:3");
    assert_eq!(errs[2].location, "bad.jsonl:6");
    assert!(errs[2].reason.contains("UTF-8"));
}

#[test]
fn hf_daily_file_folder_and_tarball() {
    let mut day = Vec::new();
    hf_daily::read_path(&fixture("hf-daily/2025-03-03.json"), &mut |r| day.push(r)).unwrap();
    assert!(day.len() > 5);
    let p = day[0].as_ref().unwrap();
    assert_eq!(p.id, id("2502.20730"));
    assert_eq!(p.listed_on.unwrap().to_string(), "2025-03-03");
    assert_eq!(p.signals.hf_upvotes, Some(7));
    assert!(p.title.starts_with("DeepSolution: Boosting Complex Engineering Solution Design"));
    assert!(p.sources.contains(&Source::HfDaily));

    let mut folder = Vec::new();
    hf_daily::read_path(&fixture("hf-daily"), &mut |r| folder.push(r)).unwrap();
    let mut tarball = Vec::new();
    hf_daily::read_path(&fixture("hf-daily-two-days.tar.gz"), &mut |r| tarball.push(r)).unwrap();
    assert!(folder.len() > tarball.len() && tarball.len() > day.len());
    assert!(folder.iter().chain(&tarball).all(|r| r.is_ok()));
    // Fields that appeared over time: code links, stars, keywords, project pages (2025-08-01).
    assert!(folder.iter().flatten().any(|p| p.links.code.is_some() && p.signals.github_stars.is_some()));
    assert!(folder.iter().flatten().any(|p| !p.keywords.is_empty()));
    assert!(folder.iter().flatten().any(|p| p.links.project.is_some()));
}

#[test]
fn hf_daily_bad_files_and_entries_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    // The shape the source repository saved some days in: an array of strings.
    std::fs::write(dir.path().join("2024-12-11.json"), r#"["{'paper': {'id': '2412.01'}}"]"#).unwrap();
    std::fs::write(dir.path().join("2024-12-12.json"), "[{\"paper\": {\"id\": \"2412.0").unwrap();
    let good = read_fixture("hf-daily/2025-01-21.json");
    let mut mixed: serde_json::Value = serde_json::from_slice(&good).unwrap();
    mixed.as_array_mut().unwrap().push(serde_json::json!({"paper": {"id": "2501.99999"}}));
    std::fs::write(dir.path().join("2025-01-21.json"), mixed.to_string()).unwrap();
    let mut got = Vec::new();
    hf_daily::read_path(dir.path(), &mut |r| got.push(r)).unwrap();
    let errs: Vec<String> = got.iter().filter_map(|r| r.as_ref().err()).map(|e| e.to_string()).collect();
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 1, "{errs:?}");
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[0].contains("2024-12-11.json entry 1: invalid type: string"), "{}", errs[0]);
    assert!(errs[1].contains("2024-12-12.json: invalid JSON: EOF while parsing"), "{}", errs[1]);
    assert!(errs[2].contains("2025-01-21.json entry 2: missing title"), "{}", errs[2]);
}

#[test]
fn listing_pairs_and_banner() {
    let text = String::from_utf8(read_fixture("listing/head.txt")).unwrap();
    let papers = listing::parse_listing(&text, "head.txt");
    assert_eq!(papers.len(), 14);
    let first = papers[0].as_ref().unwrap();
    assert_eq!(first.title, "Generalized Sum Pooling for Metric Learning");
    assert!(first.abstract_text.starts_with("A common architectural choice for deep metric learning"));
    assert_eq!(first.id, listing::listing_id("generalized  sum pooling for METRIC learning"));
    assert!(first.id.to_string().starts_with("listing:"));
    let odd = listing::parse_listing("Title one\nAbstract one\nDangling title\n", "odd.txt");
    assert_eq!(odd.len(), 2);
    assert_eq!(odd[1].as_ref().unwrap_err().to_string(), "odd.txt:3: a title without an abstract line after it");
}

#[test]
fn beir_corpus() {
    let path = fixture("beir/scifact-head40/corpus.jsonl");
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let dataset = beir::dataset_name(&path);
    assert_eq!(dataset, "scifact-head40");
    let docs: Vec<_> = beir::read_corpus(file, "corpus.jsonl", &dataset).collect();
    assert_eq!(docs.len(), 40);
    let d = docs[0].as_ref().unwrap();
    assert!(d.id.to_string().starts_with("beir:scifact-head40:"));
    assert!(!d.abstract_text.is_empty());
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    writeln!(tmp, "{{\"_id\": 7, \"title\": \"T\", \"text\": \"x\"}}\nnot json\n{{\"_id\": \"8\"}}").unwrap();
    let got: Vec<_> = beir::read_corpus(std::io::BufReader::new(tmp.reopen().unwrap()), "c.jsonl", "d").collect();
    assert_eq!(got[0].as_ref().unwrap().id.to_string(), "beir:d:7");
    assert_eq!(got[1].as_ref().unwrap_err().location, "c.jsonl:2");
    assert!(got[2].as_ref().unwrap_err().reason.contains("neither title nor text"));
}
