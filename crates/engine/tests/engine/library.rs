//! Library export and import: BibTeX checked by a real BibTeX parser, CSL-JSON, and round trips
//! through both; real reference-manager exports matched by arXiv id, DOI and title.

use biblatex::{Bibliography, ChunksExt};
use paperboy_core::{Paper, PaperId, Source};
use paperboy_engine::ingest::ingest_path;
use paperboy_engine::library::{self, Format, Match, MatchedBy};
use paperboy_engine::{PaperStore, SqliteStore};

use crate::helpers::fixture;

fn store() -> (SqliteStore, Vec<Paper>) {
    let mut store = SqliteStore::open_in_memory().unwrap();
    ingest_path(&mut store, Source::HfDaily, &fixture("hf-daily"), &mut |_| {}).unwrap();
    let papers = store.papers_changed_since(0, 40).unwrap().into_iter().map(|(_, p)| p).collect();
    (store, papers)
}

fn matched(store: &SqliteStore, input: &str) -> Vec<(PaperId, MatchedBy)> {
    let parsed = library::parse(input).unwrap();
    assert!(parsed.unreadable.is_empty(), "{:?}", parsed.unreadable);
    library::match_citations(store, &parsed.citations)
        .unwrap()
        .into_iter()
        .map(|m| match m {
            Match::Matched { paper, by } => (paper, by),
            other => panic!("not matched: {other:?}"),
        })
        .collect()
}

#[test]
fn bibtex_export_is_valid_bibtex_with_stable_keys_and_imports_back() {
    let (store, papers) = store();
    let with_notes: Vec<(&Paper, Option<&str>)> = papers.iter().map(|p| (p, Some("read & cite: 100%"))).collect();
    let bib = library::bibtex(&with_notes);
    let parsed = Bibliography::parse(&bib).unwrap_or_else(|e| panic!("a real BibTeX parser refuses the export: {e:?}\n{bib}"));
    assert_eq!(parsed.len(), papers.len());
    for (entry, p) in parsed.iter().zip(&papers) {
        assert_eq!(entry.entry_type.to_string(), "misc");
        let field = |f: &str| entry.get(f).map(|c| c.format_verbatim()).unwrap_or_else(|| panic!("{}: no {f}", entry.key));
        assert_eq!(field("eprint"), p.id.to_string());
        assert_eq!(field("archiveprefix"), "arXiv");
        if let Some(c) = p.primary_category() {
            assert_eq!(field("primaryclass"), c.to_string());
        }
        assert_eq!(field("note"), "read & cite: 100%", "escaped specials come back as written");
        assert_eq!(entry.author().unwrap().len(), p.authors.len(), "{}", entry.key);
    }
    // Keys are unique and the same whatever else is exported with the paper.
    let keys: Vec<String> = parsed.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys.iter().collect::<std::collections::HashSet<_>>().len(), keys.len());
    let alone = Bibliography::parse(&library::bibtex(&[(&papers[3], None)])).unwrap();
    assert_eq!(alone.iter().next().unwrap().key, keys[3]);
    assert!(keys.iter().all(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))), "{keys:?}");
    // The export imports back to the same papers, by arXiv id.
    let back = matched(&store, &bib);
    assert_eq!(back.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), papers.iter().map(|p| p.id.clone()).collect::<Vec<_>>());
    assert!(back.iter().all(|(_, by)| *by == MatchedBy::ArxivId));
}

#[test]
fn titles_with_tex_and_specials_survive_a_real_parser() {
    let (_, papers) = store();
    let mut p = papers[0].clone();
    p.title = "Bounds of $O(n^{2})$ for R&D_1 at 50% {cost} #2 ~ \\emph".into();
    p.journal_ref = Some("J. Stat. & Prob. 12".into());
    p.doi = Some("10.1000/ab_c".into());
    p.categories = vec!["cs.LG".parse().unwrap(), "stat.ML".parse().unwrap()];
    let bib = library::bibtex(&[(&p, None)]);
    let parsed = Bibliography::parse(&bib).unwrap_or_else(|e| panic!("{e:?}\n{bib}"));
    let entry = parsed.iter().next().unwrap();
    let title = entry.get("title").unwrap().format_verbatim();
    assert!(title.contains("R&D_1 at 50%") && title.contains("#2"), "{title}");
    assert_eq!(entry.get("doi").unwrap().format_verbatim(), "10.1000/ab_c");
    assert_eq!(entry.get("journal").unwrap().format_verbatim(), "J. Stat. & Prob. 12");
    assert_eq!(entry.get("primaryclass").unwrap().format_verbatim(), "cs.LG");
}

#[test]
fn csl_json_export_reads_as_zotero_would_and_imports_back() {
    let (store, papers) = store();
    let items: Vec<(&Paper, Option<&str>)> = papers.iter().map(|p| (p, None)).collect();
    let json = library::csl_json(&items);
    let array = json.as_array().unwrap();
    assert_eq!(array.len(), papers.len());
    for (item, p) in array.iter().zip(&papers) {
        assert_eq!(item["type"], "article");
        assert_eq!(item["title"], p.title.as_str());
        assert_eq!(item["number"], p.id.to_string().as_str());
        assert!(item["author"][0]["family"].is_string() || item["author"][0]["literal"].is_string(), "{item}");
        assert!(item["issued"]["date-parts"][0][0].is_i64(), "{item}");
    }
    let back = matched(&store, &serde_json::to_string_pretty(&json).unwrap());
    assert_eq!(back.into_iter().map(|(id, _)| id).collect::<Vec<_>>(), papers.iter().map(|p| p.id.clone()).collect::<Vec<_>>());
}

#[test]
fn a_zotero_bibtex_export_matches_by_arxiv_id_doi_and_title_and_says_why_not() {
    let (store, _) = store();
    let text = String::from_utf8(paperboy_testkit::read_fixture("library/zotero.bib")).unwrap();
    let parsed = library::parse(&text).unwrap();
    assert_eq!(parsed.format, Format::Bibtex);
    assert_eq!(parsed.unreadable.len(), 1, "{:?}", parsed.unreadable);
    assert!(parsed.unreadable[0].at.contains("broken_2024"), "{:?}", parsed.unreadable);
    let results = library::match_citations(&store, &parsed.citations).unwrap();
    let summary: Vec<String> = parsed
        .citations
        .iter()
        .zip(&results)
        .map(|(c, m)| match m {
            Match::Matched { paper, by } => format!("{} {paper} {by:?}", c.at),
            Match::Unmatched { reason, fetchable } => format!("{} - {reason} {fetchable:?}", c.at),
        })
        .collect();
    let expect = [
        "(ge_convllava_2024) 2405.15738 ArxivId",
        "(lee_meteor_2024) 2405.15574 ArxivId",
        "(wang_grokked_2024) 2405.15071 Title",
        "(gu_mamba_2023) - arXiv paper 2312.00752 is not in this paperboy yet Some(\"2312.00752\")",
        "(knuth_art_1997) - no stored paper has this title None",
        "(aryabumi2024aya) 2405.15032 ArxivId",
    ];
    assert_eq!(summary.len(), expect.len(), "{summary:#?}");
    for (got, want) in summary.iter().zip(expect) {
        assert!(got.ends_with(want), "{got} / {want}");
    }
}

#[test]
fn a_zotero_csl_json_export_and_a_plain_list() {
    let (store, _) = store();
    let text = String::from_utf8(paperboy_testkit::read_fixture("library/zotero.json")).unwrap();
    let parsed = library::parse(&text).unwrap();
    assert_eq!((parsed.format, parsed.citations.len(), parsed.unreadable.len()), (Format::CslJson, 3, 2), "{parsed:?}");
    let results = library::match_citations(&store, &parsed.citations).unwrap();
    assert_eq!(results[0], Match::Matched { paper: "2405.15738".parse().unwrap(), by: MatchedBy::ArxivId });
    assert_eq!(results[1], Match::Matched { paper: "2405.15682".parse().unwrap(), by: MatchedBy::Title });
    assert!(matches!(&results[2], Match::Unmatched { fetchable: None, .. }));
    let list = "2405.15738\nhttps://arxiv.org/pdf/2405.15574v1\n10.48550/arXiv.2405.15071\n";
    let back = matched(&store, list);
    assert_eq!(back.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>(), ["2405.15738", "2405.15574", "2405.15071"]);
}

#[test]
fn unknown_arxiv_ids_are_fetched_from_the_arxiv_api_and_then_match() {
    use paperboy_testkit::replay::{Reply, ReplayServer};
    let (mut store, _) = store();
    let server = ReplayServer::start(|_, _| Reply::ok(paperboy_testkit::read_fixture("atom/id_2104.12255v1_s0_m100_6ae69987ffe1.xml")));
    let parsed = library::parse("arXiv:2104.12255\n").unwrap();
    let Match::Unmatched { fetchable: Some(id), .. } = &library::match_citations(&store, &parsed.citations).unwrap()[0] else { panic!("matched before fetching") };
    let api = server.base_url.trim_end_matches("/oai2").to_owned();
    let mut opts = paperboy_engine::harvest::HarvestOptions::new(&api);
    opts.max_retries = 0;
    let n = paperboy_engine::harvest::fetch_by_ids(&mut store, &api, &[id.parse().unwrap()], &opts, &mut |_| {}).unwrap();
    assert_eq!(n, 1);
    assert!(server.requests()[0].url.contains("/query?id_list=2104.12255&max_results=1"), "{:?}", server.requests());
    assert_eq!(library::match_citations(&store, &parsed.citations).unwrap()[0], Match::Matched { paper: id.parse().unwrap(), by: MatchedBy::ArxivId });
}
