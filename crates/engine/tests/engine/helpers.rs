//! Fixtures, an in-memory store and the replay HTTP server (from the test kit).

use paperboy_embed::{EmbedError, Embedder, Embedding, ModelId};
use paperboy_engine::SqliteStore;

pub use paperboy_testkit::{fixture, read_fixture, ReplayServer, Reply};

pub fn memory_store() -> SqliteStore {
    SqliteStore::open_in_memory().expect("in-memory store")
}

/// A deterministic test embedder: hashed bag of lower-cased words. It is not the model (that
/// is tested against the reference vectors in paperboy-embed); it makes service logic testable
/// without one.
pub struct BagOfWords(pub ModelId);

impl Embedder for BagOfWords {
    fn model_id(&self) -> &ModelId {
        &self.0
    }
    fn dim(&self) -> usize {
        64
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 64];
                for w in t.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 3) {
                    let h = w.to_lowercase().bytes().fold(1469598103934665603u64, |h, b| (h ^ b as u64).wrapping_mul(1099511628211));
                    v[(h % 64) as usize] += 1.0;
                }
                v[0] += 0.01;
                Embedding::normalized(v)
            })
            .collect())
    }
}

