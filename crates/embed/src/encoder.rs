//! The BERT encoder of all-MiniLM-L6-v2, fused for the CPU.
//!
//! Every text runs at its own length: the tokens of a group of texts are stacked into one
//! matrix, so the linear layers are a few large matrix products (`matmul.rs`, on every core) and
//! attention runs per text and head on exactly that text's tokens — no padding, no mask.
//! Biases ride in the products (the output starts as the bias) or in the layer norm that
//! follows; GELU (exact, erf-based) is applied to each block of the feed-forward product
//! while it is still in registers; layer norm is a single pass the compiler vectorises for
//! AVX2 + FMA where the processor has them (`attention.rs` has the softmax). The result equals
//! what the padded, masked reference computes: a masked key has weight zero there.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::attention::attention;
use crate::dims::{HIDDEN, VOCABULARY};
use crate::matmul::{matmul_add, Epilogue, Packed, PARALLEL_ROWS};
use crate::EmbedError;

const INTERMEDIATE: usize = 1536;
const LAYERS: usize = 6;
const MAX_POSITIONS: usize = 512;
const LAYER_NORM_EPS: f32 = 1e-12;

/// One transformer layer; weights packed as `inputs × outputs` for [`matmul_add`].
struct Layer {
    qkv: Packed,
    qkv_bias: Vec<f32>,
    attention_out: Packed,
    attention_out_bias: Vec<f32>,
    attention_norm: Norm,
    up: Packed,
    up_bias: Vec<f32>,
    down: Packed,
    down_bias: Vec<f32>,
    output_norm: Norm,
}

struct Norm {
    gain: Vec<f32>,
    bias: Vec<f32>,
}

/// The encoder's weights, in f32.
pub(crate) struct Encoder {
    words: Vec<f32>,
    positions: Vec<f32>,
    /// Token type 0 (the only type a single sentence uses).
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    vocabulary: usize,
}

thread_local! {
    /// The activations of the largest pass so far on this thread: the hidden states,
    /// query-key-value, attention's context and the feed-forward's inner layer — 13.5 KiB per
    /// token, so at most ~28 MB for a full pass of 2,048 tokens (a ten-token search query keeps
    /// ~140 KiB on a server thread).
    static BUFFERS: std::cell::RefCell<[Vec<f32>; 4]> = const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new(), Vec::new()]) };
}

/// The first `n` values of `v`, which grows (zeroed) when it is shorter.
fn sized(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// Named tensors (f32, row-major) with their shapes.
pub(crate) type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

impl Encoder {
    /// Takes the weights out of the checkpoint's tensors (names as in the Hugging Face BERT).
    pub(crate) fn from_tensors(mut tensors: Tensors) -> Result<Self, EmbedError> {
        let t = &mut tensors;
        let words = take(t, "embeddings.word_embeddings.weight", &[VOCABULARY, HIDDEN])?;
        let positions = take(t, "embeddings.position_embeddings.weight", &[MAX_POSITIONS, HIDDEN])?;
        let token_type = take(t, "embeddings.token_type_embeddings.weight", &[2, HIDDEN])?[..HIDDEN].to_vec();
        let embedding_norm = norm(t, "embeddings.LayerNorm")?;
        let mut layers = Vec::with_capacity(LAYERS);
        for i in 0..LAYERS {
            let p = format!("encoder.layer.{i}");
            let (q, q_bias) = dense(t, &format!("{p}.attention.self.query"), HIDDEN, HIDDEN)?;
            let (k, k_bias) = dense(t, &format!("{p}.attention.self.key"), HIDDEN, HIDDEN)?;
            let (v, v_bias) = dense(t, &format!("{p}.attention.self.value"), HIDDEN, HIDDEN)?;
            let (attention_out, attention_out_bias) = dense(t, &format!("{p}.attention.output.dense"), HIDDEN, HIDDEN)?;
            let (up, up_bias) = dense(t, &format!("{p}.intermediate.dense"), INTERMEDIATE, HIDDEN)?;
            let (down, down_bias) = dense(t, &format!("{p}.output.dense"), HIDDEN, INTERMEDIATE)?;
            // Query, key and value one after another as outputs: one product makes all three.
            let qkv = [q, k, v].concat();
            let (attention_out, up, down) =
                (packed(&attention_out, HIDDEN), packed(&up, HIDDEN), packed(&down, INTERMEDIATE));
            layers.push(Layer {
                qkv: packed(&qkv, HIDDEN),
                qkv_bias: [q_bias, k_bias, v_bias].concat(),
                attention_out,
                attention_out_bias,
                attention_norm: norm(t, &format!("{p}.attention.output.LayerNorm"))?,
                up,
                up_bias,
                down,
                down_bias,
                output_norm: norm(t, &format!("{p}.output.LayerNorm"))?,
            });
        }
        Ok(Encoder { words, positions, token_type, embedding_norm, layers, vocabulary: VOCABULARY })
    }

    /// Mean of the last hidden states over each text's tokens (not yet normalised).
    /// Each text is at most [`MAX_POSITIONS`] token ids.
    pub(crate) fn mean_pooled(&self, texts: &[&[u32]]) -> Vec<Vec<f32>> {
        let spans: Vec<(usize, usize)> = texts
            .iter()
            .scan(0, |start, t| {
                let span = (*start, t.len().min(MAX_POSITIONS));
                *start += span.1;
                Some(span)
            })
            .collect();
        let rows: usize = spans.iter().map(|s| s.1).sum();
        // Every element of these is written before it is read (the products start from a bias
        // or the residual, attention fills every head): reused from the last pass unzeroed.
        let mut buffers = BUFFERS.take();
        let [x, qkv, context, hidden] = &mut buffers;
        let (x, qkv) = (sized(x, rows * HIDDEN), sized(qkv, rows * 3 * HIDDEN));
        let (context, hidden) = (sized(context, rows * HIDDEN), sized(hidden, rows * INTERMEDIATE));
        for (ids, &(start, len)) in texts.iter().zip(&spans) {
            for (p, &id) in ids[..len].iter().enumerate() {
                let id = (id as usize).min(self.vocabulary - 1);
                let row = &mut x[(start + p) * HIDDEN..][..HIDDEN];
                let (word, position) = (&self.words[id * HIDDEN..][..HIDDEN], &self.positions[p * HIDDEN..][..HIDDEN]);
                for i in 0..HIDDEN {
                    row[i] = word[i] + position[i] + self.token_type[i];
                }
            }
        }
        layer_norm(x, None, &self.embedding_norm);
        for layer in &self.layers {
            linear(x, HIDDEN, &layer.qkv, Some(&layer.qkv_bias), false, qkv);
            attention(qkv, &spans, context);
            linear(context, HIDDEN, &layer.attention_out, None, false, x);
            layer_norm(x, Some(&layer.attention_out_bias), &layer.attention_norm);
            linear(x, HIDDEN, &layer.up, Some(&layer.up_bias), true, hidden);
            linear(hidden, INTERMEDIATE, &layer.down, None, false, x);
            layer_norm(x, Some(&layer.down_bias), &layer.output_norm);
        }
        let means = spans
            .iter()
            .map(|&(start, len)| {
                let mut mean = vec![0f32; HIDDEN];
                for row in x[start * HIDDEN..(start + len) * HIDDEN].chunks_exact(HIDDEN) {
                    mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
                }
                let scale = 1.0 / len.max(1) as f32;
                mean.iter_mut().for_each(|m| *m *= scale);
                mean
            })
            .collect();
        BUFFERS.set(buffers);
        means
    }
}

fn take(tensors: &mut Tensors, name: &str, shape: &[usize]) -> Result<Vec<f32>, EmbedError> {
    let (got, data) = tensors.remove(name).ok_or_else(|| EmbedError::Weights(format!("no tensor {name}")))?;
    if got != shape {
        return Err(EmbedError::Weights(format!("tensor {name} has shape {got:?}, expected {shape:?}")));
    }
    Ok(data)
}

fn norm(tensors: &mut Tensors, prefix: &str) -> Result<Norm, EmbedError> {
    Ok(Norm {
        gain: take(tensors, &format!("{prefix}.weight"), &[HIDDEN])?,
        bias: take(tensors, &format!("{prefix}.bias"), &[HIDDEN])?,
    })
}

/// A linear layer's weight (`outputs × inputs`, as stored) and bias.
fn dense(
    tensors: &mut Tensors,
    prefix: &str,
    outputs: usize,
    inputs: usize,
) -> Result<(Vec<f32>, Vec<f32>), EmbedError> {
    Ok((
        take(tensors, &format!("{prefix}.weight"), &[outputs, inputs])?,
        take(tensors, &format!("{prefix}.bias"), &[outputs])?,
    ))
}

/// A linear layer's weight as stored (`outputs × inputs`, row-major), packed as the
/// `inputs × outputs` right-hand matrix of `x · W` — read transposed, no copy first.
fn packed(weight: &[f32], inputs: usize) -> Packed {
    Packed::from_strided(weight, inputs, weight.len() / inputs, 1, inputs)
}

/// `out = bias + input · weight` with a bias, else `out += input · weight` (the residual
/// connection: `out` holds the layer's input); GELU of the result if asked.
fn linear(input: &[f32], inputs: usize, weight: &Packed, bias: Option<&[f32]>, gelu: bool, out: &mut [f32]) {
    let rows = input.len() / inputs;
    let outputs = weight.cols();
    assert!(
        input.len() == rows * inputs && out.len() == rows * outputs && outputs.is_multiple_of(crate::matmul::PANEL)
    );
    matmul_add(input, inputs, rows, weight, out, outputs, true, Epilogue { bias, gelu });
}

/// Runs `$kernel` compiled for AVX2 + FMA where the processor has them, else as is.
macro_rules! vectorised {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) => $kernel:ident;)*) => {$(
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast($($arg: $ty),*) {
                    $kernel($($arg),*)
                }
                // SAFETY: the processor has the features `fast` is compiled for.
                return unsafe { fast($($arg),*) };
            }
            $kernel($($arg),*)
        }
    )*};
}

vectorised! {
    fn layer_norm_chunk(x: &mut [f32], bias: Option<&[f32]>, norm: &Norm) => layer_norm_kernel;
}

/// Rows at a time for the element-wise passes on other threads.
const CHUNK_ROWS: usize = 32;

/// `x = norm(x + bias)` row by row.
fn layer_norm(x: &mut [f32], bias: Option<&[f32]>, norm: &Norm) {
    if x.len() >= PARALLEL_ROWS * HIDDEN {
        x.par_chunks_mut(CHUNK_ROWS * HIDDEN).for_each(|c| layer_norm_chunk(c, bias, norm));
    } else {
        layer_norm_chunk(x, bias, norm);
    }
}

#[inline(always)]
fn layer_norm_kernel(x: &mut [f32], bias: Option<&[f32]>, norm: &Norm) {
    for row in x.chunks_exact_mut(HIDDEN) {
        if let Some(bias) = bias {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
        let mean = lanes(row, 0.0, |v| v, |a, b| a + b) / HIDDEN as f32;
        let variance = lanes(row, 0.0, |v| (v - mean) * (v - mean), |a, b| a + b) / HIDDEN as f32;
        let inv = 1.0 / (variance + LAYER_NORM_EPS).sqrt();
        for ((v, g), b) in row.iter_mut().zip(&norm.gain).zip(&norm.bias) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// Reduces `map(x)` over `xs` with `combine` in eight independent lanes (so the loop
/// vectorises), then the lanes.
#[inline(always)]
fn lanes(xs: &[f32], init: f32, map: impl Fn(f32) -> f32, combine: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder().iter().fold(init, |a, &b| combine(a, map(b)));
    for c in chunks {
        for i in 0..8 {
            acc[i] = combine(acc[i], map(c[i]));
        }
    }
    acc.iter().fold(rest, |a, &b| combine(a, b))
}
