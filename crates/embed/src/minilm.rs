//! all-MiniLM-L6-v2 with candle.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::{EmbedError, Embedder, Embedding, ModelId};

const CONFIG: &str = include_str!("../../../models/all-MiniLM-L6-v2/config.json");
const TOKENIZER: &[u8] = include_bytes!("../../../models/all-MiniLM-L6-v2/tokenizer.json");
const SHARDS: [&[u8]; 3] = [
    include_bytes!("../../../models/all-MiniLM-L6-v2/model-f16-1-of-3.safetensors"),
    include_bytes!("../../../models/all-MiniLM-L6-v2/model-f16-2-of-3.safetensors"),
    include_bytes!("../../../models/all-MiniLM-L6-v2/model-f16-3-of-3.safetensors"),
];

/// The model's maximum sequence length as sentence-transformers uses it.
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass.
const BATCH: usize = 16;

/// sentence-transformers/all-MiniLM-L6-v2 on the CPU.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    id: ModelId,
}

impl MiniLm {
    /// Loads the weights compiled into the binary.
    pub fn load() -> Result<Self, EmbedError> {
        let device = Device::Cpu;
        let config: Config = serde_json::from_str(CONFIG).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let mut tensors = std::collections::HashMap::new();
        let mut parts: Vec<(String, Tensor)> = Vec::new();
        for shard in SHARDS {
            for (name, tensor) in candle_core::safetensors::load_buffer(shard, &device)? {
                let tensor = tensor.to_dtype(DType::F32)?;
                match name.contains('#') {
                    true => parts.push((name, tensor)),
                    false => drop(tensors.insert(name, tensor)),
                }
            }
        }
        // Tensors too large for one file were cut by rows into NAME#0, NAME#1, …: join them.
        parts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut joined: std::collections::BTreeMap<String, Vec<Tensor>> = Default::default();
        for (name, t) in parts {
            let base = name.split('#').next().unwrap_or_default().to_owned();
            joined.entry(base).or_default().push(t);
        }
        for (name, pieces) in joined {
            tensors.insert(name, Tensor::cat(&pieces, 0)?);
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config)?;
        let mut tokenizer = Tokenizer::from_bytes(TOKENIZER).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        // tokenizer.json says "128 tokens, fixed padding"; the model is used with 256 and
        // padding to the longest text of a batch. Anything else gives different vectors.
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        Ok(MiniLm { model, tokenizer, device, id: ModelId("all-MiniLM-L6-v2/f16".into()) })
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let len = encodings[0].get_ids().len();
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend(e.get_ids().iter().map(|&i| i as i64));
            mask.extend(e.get_attention_mask().iter().map(|&m| m as i64));
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, 384)
        let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?; // (n, 384)
        let counts = mask_f.sum(1)?.clamp(1e-9, f64::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let rows: Vec<Vec<f32>> = mean.to_vec2()?;
        Ok(rows.into_iter().map(Embedding::normalized).collect())
    }
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &ModelId {
        &self.id
    }

    fn dim(&self) -> usize {
        384
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        // Sort by length so each batch pads little, then put results back in input order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut out: Vec<Option<Embedding>> = vec![None; texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, e) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = Some(e);
            }
        }
        Ok(out.into_iter().map(|e| e.expect("every text embedded")).collect())
    }
}
