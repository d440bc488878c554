//! Text embedders: turn a title and abstract (or a query) into a unit-length vector, locally.
//!
//! [`MiniLm`] runs sentence-transformers/all-MiniLM-L6-v2: BERT, mean pooling over the text's
//! tokens, L2 normalisation, texts truncated at 256 tokens, as sentence-transformers does.
//! The encoder is fused for the CPU (`encoder.rs`): each text runs at its own length, the
//! linear layers are large gemm products, the element-wise passes are vectorised. The weights ship in the repository as
//! f16 safetensors (`models/all-MiniLM-L6-v2/`) and are compiled into the binary, so it works
//! offline from a plain clone. [`ModelId`] names the model and weights that made a vector;
//! vectors of different models are never mixed.
#![warn(missing_docs)]

mod attention;
mod batch;
mod dims;
mod encoder;
mod math;
mod matmul;
mod minilm;

pub use batch::{Batching, MAX_BATCH};
pub use minilm::{MiniLm, MINILM_ID};

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
    /// The model's weights could not be read.
    #[error("model weights: {0}")]
    Weights(String),
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
    /// A batched pass failed, or the thread that runs them stopped.
    #[error("embedding failed: {0}")]
    Failed(String),
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

/// Dot product (the hot loop of exact vector search): AVX2 + FMA where the processor has
/// them, else sixteen independent lanes the compiler vectorises with what the target has.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor has the features the function is compiled for.
        return unsafe { dot_avx2(a, b) };
    }
    dot_lanes::<false>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<true>(a, b)
}

/// `FUSED`: see [`math::fma`].
#[inline(always)]
fn dot_lanes<const FUSED: bool>(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] = math::fma::<FUSED>(x[i], y[i], acc[i]);
        }
    }
    let tail = n - n % LANES;
    let rest: f32 = a[tail..].iter().zip(&b[tail..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + rest
}

/// Dot product of an f32 query with a vector stored in f16 (half the memory to scan): F16C
/// conversion + AVX2 FMA where the processor has them, else element by element.
pub fn dot_f16(a: &[f32], b: &[half::f16]) -> f32 {
    dot_mixed(a, b)
}

/// Dot product of two vectors stored in f16 (the vector index compares stored vectors).
pub fn dot_f16_pair(a: &[half::f16], b: &[half::f16]) -> f32 {
    dot_mixed(a, b)
}

fn dot_mixed<A: Element, B: Element>(a: &[A], b: &[B]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        // SAFETY: the processor has the features the function is compiled for.
        return unsafe { dot_mixed_x86(a, b) };
    }
    a.iter().zip(b).map(|(x, y)| x.widen() * y.widen()).sum()
}

/// An element of a stored vector: f32, or f16 widened on load.
trait Element: Copy {
    fn widen(self) -> f32;
    /// Eight elements from `p` as eight f32 lanes.
    ///
    /// # Safety
    /// `p` must point to eight readable elements, and the processor must have AVX2 and F16C.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256;
}

impl Element for f32 {
    fn widen(self) -> f32 {
        self
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn load8(p: *const f32) -> std::arch::x86_64::__m256 {
        // SAFETY: the caller guarantees eight readable floats.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(p) }
    }
}

impl Element for half::f16 {
    fn widen(self) -> f32 {
        self.to_f32()
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn load8(p: *const half::f16) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees eight readable halves (one unaligned 128-bit load).
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_mixed_x86<A: Element, B: Element>(a: &[A], b: &[B]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n, so both 16-element reads are in bounds of `a` and `b`.
        unsafe {
            acc0 = _mm256_fmadd_ps(A::load8(a.as_ptr().add(i)), B::load8(b.as_ptr().add(i)), acc0);
            acc1 = _mm256_fmadd_ps(A::load8(a.as_ptr().add(i + 8)), B::load8(b.as_ptr().add(i + 8)), acc1);
        }
        i += 16;
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds eight floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(acc0, acc1)) };
    lanes.iter().sum::<f32>() + a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x.widen() * y.widen()).sum::<f32>()
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

#[cfg(test)]
mod dot_tests {
    #[test]
    fn dot_matches_the_plain_sum_at_every_length() {
        for n in [0, 1, 7, 16, 17, 33, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            assert!((f64::from(super::dot(&a, &b)) - plain).abs() < 1e-4, "n = {n}");
            // Against the same sum over the f16-rounded values.
            let halves: Vec<half::f16> = b.iter().map(|&x| half::f16::from_f32(x)).collect();
            let plain_f16: f64 = a.iter().zip(&halves).map(|(x, y)| f64::from(*x) * f64::from(y.to_f32())).sum();
            assert!((f64::from(super::dot_f16(&a, &halves)) - plain_f16).abs() < 1e-4, "f16, n = {n}");
            let a_halves: Vec<half::f16> = a.iter().map(|&x| half::f16::from_f32(x)).collect();
            let plain_pair: f64 = a_halves.iter().zip(&halves).map(|(x, y)| f64::from(x.to_f32()) * f64::from(y.to_f32())).sum();
            assert!((f64::from(super::dot_f16_pair(&a_halves, &halves)) - plain_pair).abs() < 1e-4, "f16 pair, n = {n}");
        }
    }
}
