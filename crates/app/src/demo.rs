//! The demo corpus, built into the binary (see `data/demo/PROVENANCE.md`): twelve months of
//! Hugging Face daily papers and the seed listing, so a fresh install has real papers to show.

use anyhow::{Context, Result};
use paperboy_core::Source;
use paperboy_engine::ingest::{hf_daily, listing};
use paperboy_engine::{IngestReport, IngestRun, PaperStore};

const HF_DAILY_TAR_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/hf-daily.tar.gz"));
const LISTING: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/papers-listing.txt"));

/// Loads the demo corpus into `store`. Loading it again changes nothing.
pub fn load(store: &mut dyn PaperStore) -> Result<Vec<IngestReport>> {
    let mut run = IngestRun::new(store, Source::HfDaily, "demo:hf-daily.tar.gz");
    let mut failed = None;
    hf_daily::read_tar_gz(HF_DAILY_TAR_GZ, "demo:hf-daily.tar.gz", &mut |record| {
        if failed.is_none() {
            failed = run.accept(record).err();
        }
    })
    .context("the built-in demo corpus is unreadable")?;
    if let Some(e) = failed {
        return Err(e).context("storing the demo corpus");
    }
    let hf = run.finish()?;
    let mut run = IngestRun::new(store, Source::Listing, "demo:papers-listing.txt");
    run.accept_all(listing::parse_listing(LISTING, "demo:papers-listing.txt"))?;
    let reports = vec![hf, run.finish()?];
    load_vectors(store)?;
    Ok(reports)
}

/// The demo papers' vectors (f16), so semantic search works at once on a fresh install.
const VECTORS: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/vectors.bin"));
const MAGIC: &[u8] = b"PBVEC1\n";

#[derive(serde::Serialize, serde::Deserialize)]
struct VectorsHeader {
    model: String,
    dim: usize,
    count: usize,
}

/// Puts the shipped demo vectors into the store's embedding cache; returns how many.
pub fn load_vectors(store: &mut dyn PaperStore) -> Result<usize> {
    let body = VECTORS.strip_prefix(MAGIC).context("data/demo/vectors.bin: not a paperboy vectors file")?;
    let newline = body.iter().position(|&b| b == b'\n').context("data/demo/vectors.bin: no header line")?;
    let header: VectorsHeader = serde_json::from_slice(&body[..newline]).context("data/demo/vectors.bin: bad header")?;
    let record = 16 + header.dim * 2;
    let data = &body[newline + 1..];
    anyhow::ensure!(data.len() == header.count * record, "data/demo/vectors.bin: truncated");
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

/// Writes the cached vectors of every paper in the store (the demo corpus) to `path`.
pub fn export_vectors(ctx: &crate::commands::Ctx, path: &std::path::Path) -> Result<()> {
    use paperboy_embed::Embedder;
    let store = ctx.open_store()?;
    let model = paperboy_embed::MiniLm::load()?;
    let mut hashes = Vec::new();
    let mut seq = 0;
    loop {
        let batch = store.papers_changed_since(seq, 5_000)?;
        let Some(&(last, _)) = batch.last() else { break };
        hashes.extend(batch.iter().map(|(_, p)| paperboy_engine::search::service::text_hash(p)));
        seq = last;
    }
    let cached = store.cached_embeddings(&model.model_id().to_string(), &hashes)?;
    let mut keys: Vec<&String> = cached.keys().collect();
    keys.sort();
    let header = VectorsHeader { model: model.model_id().to_string(), dim: model.dim(), count: keys.len() };
    let mut out = MAGIC.to_vec();
    out.extend(serde_json::to_vec(&header)?);
    out.push(b'\n');
    for k in keys {
        out.extend(k.as_bytes());
        for x in &cached[k] {
            out.extend(half::f16::from_f32(*x).to_le_bytes());
        }
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    println!("{} vectors written to {}", header.count, path.display());
    Ok(())
}
