//! Text embedders: turn a title and abstract (or a query) into a unit-length vector, locally.
//!
//! [`MiniLm`] runs sentence-transformers/all-MiniLM-L6-v2 with candle: BERT, mean pooling over
//! the attention mask, L2 normalisation, texts truncated at 256 tokens and padded to the
//! longest text of a batch, as sentence-transformers does. The weights ship in the repository as
//! f16 safetensors (`models/all-MiniLM-L6-v2/`) and are compiled into the binary, so it works
//! offline from a plain clone. [`ModelId`] names the model and weights that made a vector;
//! vectors of different models are never mixed.
#![warn(missing_docs)]

mod minilm;

pub use minilm::MiniLm;

use std::fmt;

/// Names the model (and weight format) that produced a vector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId(pub String);

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What went wrong while embedding.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model could not be loaded or run.
    #[error("model error: {0}")]
    Model(#[from] candle_core::Error),
    /// The tokenizer failed.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    /// A vector of the wrong size.
    #[error("wrong vector dimension: expected {expected}, got {got}")]
    Dimension {
        /// What the model makes.
        expected: usize,
        /// What was given.
        got: usize,
    },
}

/// A unit-length embedding vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalises `v` to unit length (a zero vector stays zero).
    pub fn normalized(mut v: Vec<f32>) -> Self {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        Embedding(v)
    }

    /// Checks the dimension and normalises.
    pub fn parse(v: Vec<f32>, dim: usize) -> Result<Self, EmbedError> {
        if v.len() != dim {
            return Err(EmbedError::Dimension { expected: dim, got: v.len() });
        }
        Ok(Embedding::normalized(v))
    }

    /// The components.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Into the components.
    pub fn into_vec(self) -> Vec<f32> {
        self.0
    }

    /// Cosine similarity with another unit vector (their dot product).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        dot(&self.0, &other.0)
    }
}

/// Dot product.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Turns texts into embeddings.
pub trait Embedder: Send + Sync {
    /// The model that makes the vectors.
    fn model_id(&self) -> &ModelId;
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Embeds texts; the result is in input order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError>;
}

/// The text embedded for a paper: title, blank line, abstract (as the reference vectors do).
pub fn paper_text(title: &str, abstract_text: &str) -> String {
    if abstract_text.is_empty() {
        title.to_owned()
    } else {
        format!("{title}\n\n{abstract_text}")
    }
}
