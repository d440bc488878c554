//! all-MiniLM-L6-v2: the tokenizer, the shipped weights and the fused encoder.

use tokenizers::{Tokenizer, TruncationParams};

use crate::dims::HIDDEN;
use crate::encoder::{Encoder, Tensors};
use crate::{EmbedError, Embedder, Embedding, ModelId};

const TOKENIZER: &[u8] = include_bytes!("../../../models/all-MiniLM-L6-v2/tokenizer.json");
const SHARDS: [&[u8]; 3] = [
    include_bytes!("../../../models/all-MiniLM-L6-v2/model-f16-1-of-3.safetensors"),
    include_bytes!("../../../models/all-MiniLM-L6-v2/model-f16-2-of-3.safetensors"),
    include_bytes!("../../../models/all-MiniLM-L6-v2/model-f16-3-of-3.safetensors"),
];

/// The id of the vectors [`MiniLm`] makes (model and weight format).
pub const MINILM_ID: &str = "all-MiniLM-L6-v2/f16";
/// The model's maximum sequence length as sentence-transformers uses it.
pub const MAX_TOKENS: usize = 256;
/// Tokens per forward pass: enough for large matrix products, small enough that the
/// intermediate activations (tokens × 1536) stay near the caches.
const TOKENS_PER_PASS: usize = 2048;

/// sentence-transformers/all-MiniLM-L6-v2 on the CPU.
pub struct MiniLm {
    encoder: Encoder,
    tokenizer: Tokenizer,
    id: ModelId,
}

impl MiniLm {
    /// Loads the weights compiled into the binary.
    pub fn load() -> Result<Self, EmbedError> {
        let encoder = Encoder::from_tensors(read_shards(&SHARDS)?)?;
        let mut tokenizer = Tokenizer::from_bytes(TOKENIZER).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        // tokenizer.json says "128 tokens, fixed padding"; the model is used with 256 tokens.
        // Texts are not padded at all: each runs at its own length.
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        Ok(MiniLm { encoder, tokenizer, id: ModelId(MINILM_ID.into()) })
    }
}

/// Reads f16 safetensors shards into f32 tensors. Tensors too large for one file were cut by
/// rows into `NAME#0`, `NAME#1`, … (see `examples/convert_weights.rs`): they are joined.
fn read_shards(shards: &[&[u8]]) -> Result<Tensors, EmbedError> {
    let mut tensors = Tensors::new();
    let mut parts: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (i, shard) in shards.iter().enumerate() {
        let file = safetensors::SafeTensors::deserialize(shard)
            .map_err(|e| EmbedError::Weights(format!("shard {}: {e}", i + 1)))?;
        for (name, view) in file.tensors() {
            if view.dtype() != safetensors::Dtype::F16 {
                return Err(EmbedError::Weights(format!("shard {}: tensor {name} is {:?}, not F16", i + 1, view.dtype())));
            }
            let data: Vec<f32> =
                view.data().chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
            match name.contains('#') {
                true => parts.push((name, view.shape().to_vec(), data)),
                false => drop(tensors.insert(name, (view.shape().to_vec(), data))),
            }
        }
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, shape, data) in parts {
        let base = name.split('#').next().unwrap_or_default().to_owned();
        match tensors.get_mut(&base) {
            Some((joined, all)) => {
                joined[0] += shape[0];
                all.extend(data);
            }
            None => drop(tensors.insert(base, (shape, data))),
        }
    }
    Ok(tensors)
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &ModelId {
        &self.id
    }

    fn dim(&self) -> usize {
        HIDDEN
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let mut out = Vec::with_capacity(texts.len());
        let mut start = 0;
        while start < ids.len() {
            let mut end = start;
            let mut tokens = 0;
            while end < ids.len() && (end == start || tokens + ids[end].len() <= TOKENS_PER_PASS) {
                tokens += ids[end].len();
                end += 1;
            }
            out.extend(self.encoder.mean_pooled(&ids[start..end]).into_iter().map(Embedding::normalized));
            start = end;
        }
        Ok(out)
    }
}
