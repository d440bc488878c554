//! The shape of all-MiniLM-L6-v2, shared by the encoder, attention and the model's loader.

/// Width of the hidden states (and of the embeddings).
pub(crate) const HIDDEN: usize = 384;
/// Attention heads per layer.
pub(crate) const HEADS: usize = 12;
/// Width of one head.
pub(crate) const HEAD_DIM: usize = HIDDEN / HEADS;
/// Size of the WordPiece vocabulary.
pub(crate) const VOCABULARY: usize = 30522;
