//! The demo corpus lives in the engine (`paperboy_engine::demo`); here: writing its vectors
//! file, which is how `data/demo/vectors.bin` is made.

use anyhow::{Context, Result};
use paperboy_engine::demo::{VectorsHeader, MAGIC};

pub use paperboy_engine::demo::load;

/// Writes the cached vectors of every paper in the store (the demo corpus) to `path`.
pub fn export_vectors(ctx: &crate::ctx::Ctx, path: &std::path::Path) -> Result<()> {
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
