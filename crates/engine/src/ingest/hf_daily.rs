//! Hugging Face daily papers (`daily_papers` API responses): one day file, a folder of them,
//! or a `.tar.gz` of them.
//!
//! Nearly every field is optional and fields came and went over the years, so entries are read
//! leniently. The day a paper was listed comes from the file name (`YYYY-MM-DD.json`), else
//! from the entry. A file that is not JSON is rejected as a whole with line and column; an
//! entry that is not a paper is rejected on its own.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::NaiveDate;
use paperboy_core::text::{fold_whitespace, non_blank};
use paperboy_core::{ArxivId, Author, Paper, PaperId, Source, Version};
use serde::Deserialize;

use super::{parse_date, RecordError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    paper: HfPaper,
    #[serde(default)]
    published_at: Option<String>,
    #[serde(default)]
    num_comments: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HfPaper {
    id: String,
    #[serde(default)]
    authors: Option<Vec<HfAuthor>>,
    #[serde(default)]
    published_at: Option<String>,
    #[serde(default)]
    submitted_on_daily_at: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    upvotes: Option<i64>,
    #[serde(default)]
    github_repo: Option<String>,
    #[serde(default)]
    github_stars: Option<i64>,
    #[serde(default)]
    project_page: Option<String>,
    #[serde(rename = "ai_keywords", default)]
    ai_keywords: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct HfAuthor {
    #[serde(default)]
    name: Option<String>,
}

fn count(n: Option<i64>) -> Option<u32> {
    n.map(|n| n.clamp(0, u32::MAX as i64) as u32)
}

fn day_from_name(name: &str) -> Option<NaiveDate> {
    let stem = Path::new(name).file_stem()?.to_str()?;
    NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()
}

/// Parses one day file's bytes. `name` is the file name (for the day and for error positions).
pub fn parse_day(bytes: &[u8], name: &str) -> Vec<Result<Paper, RecordError>> {
    let entries: Vec<serde_json::Value> = match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(_) => return vec![Err(RecordError::new(name, "expected a JSON array of daily-paper entries"))],
        Err(e) => return vec![Err(RecordError::new(name, format!("invalid JSON: {e}")))],
    };
    let file_day = day_from_name(name);
    entries
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let at = || format!("{name} entry {}", i + 1);
            let entry: Entry = serde_json::from_value(value).map_err(|e| RecordError::new(at(), e.to_string()))?;
            to_paper(entry, file_day).map_err(|reason| RecordError::new(at(), reason))
        })
        .collect()
}

fn to_paper(entry: Entry, file_day: Option<NaiveDate>) -> Result<Paper, String> {
    let p = entry.paper;
    let id = ArxivId::parse_loose(&p.id).map_err(|e| e.to_string())?;
    let title = p.title.as_deref().or(entry.title.as_deref()).and_then(non_blank).ok_or("missing title")?;
    let mut paper = Paper::new(PaperId::Arxiv(id.id), title, Source::HfDaily);
    paper.abstract_text = p.summary.as_deref().or(entry.summary.as_deref()).map(fold_whitespace).unwrap_or_default();
    paper.authors = p
        .authors
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| a.name.as_deref().and_then(non_blank).map(Author::new))
        .collect();
    paper.submitted = p.published_at.as_deref().and_then(parse_date);
    if let Some(date) = paper.submitted {
        paper.versions.push(Version { version: 1, date: Some(date) });
    }
    paper.signals.hf_upvotes = count(p.upvotes);
    paper.signals.hf_comments = count(entry.num_comments);
    paper.signals.github_stars = count(p.github_stars);
    paper.links.code = p.github_repo.as_deref().and_then(non_blank);
    paper.links.project = p.project_page.as_deref().and_then(non_blank);
    paper.keywords = p.ai_keywords.unwrap_or_default().iter().filter_map(|k| non_blank(k)).collect();
    paper.listed_on = file_day
        .or_else(|| p.submitted_on_daily_at.as_deref().and_then(parse_date).map(|d| d.date_naive()))
        .or_else(|| entry.published_at.as_deref().and_then(parse_date).map(|d| d.date_naive()));
    Ok(paper)
}

/// Reads a day file, a folder of day files (`*.json`, in name order) or a `.tar.gz` of them,
/// calling `each` with every record.
pub fn read_path(path: &Path, each: &mut dyn FnMut(Result<Paper, RecordError>)) -> std::io::Result<()> {
    let shown = path.display().to_string();
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file)?;
            parse_day(&bytes, &file.display().to_string()).into_iter().for_each(&mut *each);
        }
    } else if shown.ends_with(".tar.gz") || shown.ends_with(".tgz") {
        read_tar_gz(BufReader::new(File::open(path)?), &shown, each)?;
    } else {
        let bytes = std::fs::read(path)?;
        parse_day(&bytes, &shown).into_iter().for_each(each);
    }
    Ok(())
}

/// Reads a gzip-compressed tar of day files from any reader; `name` prefixes error positions.
pub fn read_tar_gz(input: impl Read, name: &str, each: &mut dyn FnMut(Result<Paper, RecordError>)) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(input));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let file = entry.path()?.display().to_string();
        if !entry.header().entry_type().is_file() || !file.ends_with(".json") {
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes)?;
        parse_day(&bytes, &format!("{name}:{file}")).into_iter().for_each(&mut *each);
    }
    Ok(())
}
