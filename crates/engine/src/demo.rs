//! The demo corpus, built into the binary (see `data/demo/PROVENANCE.md`): twelve months of
//! Hugging Face daily papers, the seed listing and a recorded arXiv OAI-PMH harvest (papers with
//! their arXiv categories, so category pages, feeds and filters have something to show), with
//! the vectors of their texts, so a fresh install has real papers to show and semantic search at
//! once.

use paperboy_core::Source;
use serde::{Deserialize, Serialize};

use crate::ingest::{hf_daily, listing, oai_pmh};
use crate::{EmbeddingCache, IngestReport, IngestRun, Store, StoreError};

const HF_DAILY_TAR_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/hf-daily.tar.gz"));
/// Three pages of a real OAI-PMH harvest (`oai_dc`), as arXiv answered them.
const OAI_PMH_TAR_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/oai-pmh.tar.gz"));
const LISTING: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/papers-listing.txt"));
/// The demo papers' vectors (f16), so semantic search works at once on a fresh install.
const VECTORS: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/vectors.bin"));
/// The first line of a vectors file.
pub const MAGIC: &[u8] = b"PBVEC1\n";

/// Why the demo corpus could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The built-in data is damaged (a build problem, not a user's).
    #[error("the built-in demo corpus is unreadable: {0}")]
    Corrupt(String),
    /// The store failed.
    #[error("storing the demo corpus: {0}")]
    Store(#[from] StoreError),
}

/// The header line of a vectors file (JSON).
#[derive(Serialize, Deserialize)]
pub struct VectorsHeader {
    /// Model id.
    pub model: String,
    /// Dimension.
    pub dim: usize,
    /// Vectors in the file.
    pub count: usize,
}

/// Loads the demo corpus into `store`, with its vectors. Loading it again changes nothing.
pub fn load(store: &mut dyn Store) -> Result<Vec<IngestReport>, DemoError> {
    let mut run = IngestRun::new(store, Source::HfDaily, "demo:hf-daily.tar.gz");
    let mut failed = None;
    hf_daily::read_tar_gz(HF_DAILY_TAR_GZ, "demo:hf-daily.tar.gz", &mut |record| {
        if failed.is_none() {
            failed = run.accept(record).err();
        }
    })
    .map_err(|e| DemoError::Corrupt(e.to_string()))?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    let hf = run.finish()?;
    let mut run = IngestRun::new(store, Source::Listing, "demo:papers-listing.txt");
    run.accept_all(listing::parse_listing(LISTING, "demo:papers-listing.txt"))?;
    let listed = run.finish()?;
    let mut run = IngestRun::new(store, Source::OaiPmh, "demo:oai-pmh.tar.gz");
    for (name, page) in oai_pages()? {
        let page = oai_pmh::parse_page(&page, &format!("demo:oai-pmh.tar.gz/{name}")).map_err(|e| DemoError::Corrupt(e.to_string()))?;
        run.accept_all(page.records)?;
    }
    let reports = vec![hf, listed, run.finish()?];
    load_vectors(store)?;
    Ok(reports)
}

/// The OAI-PMH pages of the demo, in order: (file name, XML).
fn oai_pages() -> Result<Vec<(String, Vec<u8>)>, DemoError> {
    let corrupt = |e: std::io::Error| DemoError::Corrupt(format!("data/demo/oai-pmh.tar.gz: {e}"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(OAI_PMH_TAR_GZ));
    let mut pages = vec![];
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(corrupt)?.display().to_string();
        let mut xml = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut xml).map_err(corrupt)?;
        pages.push((name, xml));
    }
    pages.sort();
    Ok(pages)
}

/// Puts the shipped demo vectors into the store's embedding cache; returns how many.
pub fn load_vectors(store: &mut dyn EmbeddingCache) -> Result<usize, DemoError> {
    let corrupt = |why: &str| DemoError::Corrupt(format!("data/demo/vectors.bin: {why}"));
    let body = VECTORS.strip_prefix(MAGIC).ok_or_else(|| corrupt("not a paperboy vectors file"))?;
    let newline = body.iter().position(|&b| b == b'\n').ok_or_else(|| corrupt("no header line"))?;
    let header: VectorsHeader = serde_json::from_slice(&body[..newline]).map_err(|_| corrupt("bad header"))?;
    let record = 16 + header.dim * 2;
    let data = &body[newline + 1..];
    if data.len() != header.count * record {
        return Err(corrupt("truncated"));
    }
    let rows: Vec<(String, Vec<f32>)> = data
        .chunks_exact(record)
        .map(|r| {
            let hash = String::from_utf8_lossy(&r[..16]).into_owned();
            let v = r[16..].chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
            (hash, v)
        })
        .collect();
    for chunk in rows.chunks(2_000) {
        store.cache_embeddings(&header.model, chunk)?;
    }
    Ok(rows.len())
}
