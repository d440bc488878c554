//! BEIR corpora (`corpus.jsonl`: `{"_id", "title", "text"}` per line), for search evaluation.
//!
//! Documents get the id `beir:DATASET:_ID`, where DATASET is the name of the folder holding
//! the corpus, so the qrels' document ids map back one to one. Titles may be empty in BEIR.

use std::io::BufRead;

use paperboy_core::text::fold_whitespace;
use paperboy_core::{Paper, PaperId, Source};
use serde::Deserialize;

use super::RecordError;

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "_id")]
    id: serde_json::Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

/// The paper id of document `doc_id` of `dataset`.
pub fn beir_id(dataset: &str, doc_id: &str) -> Result<PaperId, String> {
    PaperId::external("beir", &format!("{dataset}:{doc_id}")).map_err(|e| e.to_string())
}

/// The dataset name for a corpus path: the folder it is in, lower-cased, other characters as `-`.
pub fn dataset_name(path: &std::path::Path) -> String {
    let folder = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or("corpus");
    folder.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// Parses one corpus line.
pub fn parse_line(line: &str, dataset: &str) -> Result<Paper, String> {
    let doc: Doc = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let id = match doc.id {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err("_id must be a string or number".into()),
    };
    let title = fold_whitespace(doc.title.as_deref().unwrap_or(""));
    let text = fold_whitespace(doc.text.as_deref().unwrap_or(""));
    if title.is_empty() && text.is_empty() {
        return Err("document has neither title nor text".into());
    }
    let mut paper = Paper::new(beir_id(dataset, &id)?, title, Source::Beir);
    paper.abstract_text = text;
    Ok(paper)
}

/// Streams a corpus file; `name` prefixes error positions.
pub fn read_corpus<R: BufRead>(input: R, name: &str, dataset: &str) -> impl Iterator<Item = Result<Paper, RecordError>> {
    let name = name.to_owned();
    let dataset = dataset.to_owned();
    input.lines().enumerate().filter_map(move |(i, line)| {
        let at = || format!("{name}:{}", i + 1);
        match line {
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(parse_line(&l, &dataset).map_err(|reason| RecordError::new(at(), reason))),
            Err(e) => Some(Err(RecordError::new(at(), format!("unreadable line: {e}")))),
        }
    })
}
