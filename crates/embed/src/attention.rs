//! Scaled dot-product attention of every head over each text's own tokens, on the CPU.
//!
//! One task per text and head. Queries are taken sixteen at a time (one AVX2 panel of two
//! vectors) and their scores against every key are computed *transposed*, key by key, so that
//! the block of scores is already laid out as the right-hand panel of the value product:
//! nothing is repacked between the two products. Softmax runs down the panel's columns (one
//! lane per query), and its division is applied once to each output. Both products are the
//! register-blocked [`tile`] of `matmul.rs`; only the head's keys and values (`len × 32`
//! each) are packed, once per head.

use rayon::prelude::*;

use crate::dims::{HEADS, HEAD_DIM, HIDDEN};
use crate::math::exp;
use crate::matmul::{tile, PANEL, PARALLEL_ROWS};

/// Keys per score tile (six rows of two accumulators each).
const KEY_ROWS: usize = 6;
/// Output dimensions per value tile (the last tile has the remaining two of 32).
const DIM_ROWS: usize = 6;

/// Tokens ahead whose query, key and value are fetched into the cache while one is packed:
/// a head's parts are 128 bytes in rows 4.5 KiB apart, a stride the hardware does not foresee.
const PREFETCH: usize = 8;

/// Asks for the cache lines of a token's query, key and value of one head (`at` starts at its
/// query; each part is two lines).
#[inline(always)]
fn prefetch(at: &[f32]) {
    for part in 0..3 {
        for line in [0, 16] {
            crate::math::prefetch(at, part * HIDDEN + line);
        }
    }
}

/// A pointer that tasks on other threads write through, each to its own part.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: only used to write disjoint regions from parallel tasks (see `attention`).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn at(self, offset: usize) -> Self {
        Shared(self.0.wrapping_add(offset))
    }
}

/// Scratch space of one task, reused from head to head.
#[derive(Default)]
struct Scratch {
    /// The head's keys, six at a time, interleaved: `[group][dim][key]`.
    keys: Vec<f32>,
    /// The head's values, six dimensions at a time (two in the last group): `[group][token][dim]`.
    values: Vec<f32>,
    /// Sixteen queries, scaled, transposed: `[dim][query]`.
    queries: Vec<f32>,
    /// Their scores, then probabilities: `[key][query]`.
    scores: Vec<f32>,
}

/// `qkv` holds query, key and value side by side per token (`rows × 3·HIDDEN`); the heads'
/// outputs go side by side into `context` (`rows × HIDDEN`). `spans` are the texts' token rows.
pub(crate) fn attention(qkv: &[f32], spans: &[(usize, usize)], context: &mut [f32]) {
    assert!(qkv.len() == 3 * context.len());
    assert!(spans.iter().all(|&(start, len)| (start + len) * HIDDEN <= context.len()));
    let tasks: Vec<(usize, usize, usize)> =
        spans.iter().flat_map(|&(start, len)| (0..HEADS).map(move |h| (start, len, h))).collect();
    let context_at = Shared(context.as_mut_ptr());
    let stride = 3 * HIDDEN;
    let run = |s: &mut Scratch, &(start, len, h): &(usize, usize, usize)| {
        let out = context_at.at(start * HIDDEN + h * HEAD_DIM);
        head(s, &qkv[start * stride..(start + len) * stride], len, h, out);
    };
    if spans.iter().map(|s| s.1).sum::<usize>() >= PARALLEL_ROWS {
        tasks.par_iter().for_each_init(Scratch::default, run);
    } else {
        let mut scratch = Scratch::default();
        tasks.iter().for_each(|t| run(&mut scratch, t));
    }
}

/// One head of one text: `rows` are its `len` tokens' query-key-value rows; the output of
/// token `t` goes to `out + t·HIDDEN .. + HEAD_DIM`.
fn head(s: &mut Scratch, rows: &[f32], len: usize, h: usize, out: Shared) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fast(s: &mut Scratch, rows: &[f32], len: usize, h: usize, out: Shared) {
            head_kernel::<true>(s, rows, len, h, out)
        }
        // SAFETY: the processor has the features `fast` is compiled for.
        return unsafe { fast(s, rows, len, h, out) };
    }
    head_kernel::<false>(s, rows, len, h, out)
}

#[inline(always)]
fn head_kernel<const FUSED: bool>(s: &mut Scratch, rows: &[f32], len: usize, h: usize, out: Shared) {
    let stride = 3 * HIDDEN;
    let token = |t: usize, part: usize| &rows[t * stride + part * HIDDEN + h * HEAD_DIM..][..HEAD_DIM];
    let scale = 1.0 / (HEAD_DIM as f32).sqrt();
    let key_groups = len.div_ceil(KEY_ROWS);
    s.keys.clear();
    s.keys.resize(key_groups * HEAD_DIM * KEY_ROWS, 0.0);
    s.values.clear();
    s.values.resize(len * HEAD_DIM, 0.0);
    for t in 0..len {
        if t + PREFETCH < len {
            prefetch(&rows[(t + PREFETCH) * stride + h * HEAD_DIM..]);
        }
        let (g, r) = (t / KEY_ROWS, t % KEY_ROWS);
        for (d, &v) in token(t, 1).iter().enumerate() {
            s.keys[(g * HEAD_DIM + d) * KEY_ROWS + r] = v;
        }
        for (g, v) in token(t, 2).chunks(DIM_ROWS).enumerate() {
            s.values[g * len * DIM_ROWS + t * v.len()..][..v.len()].copy_from_slice(v);
        }
    }
    s.scores.resize(key_groups * KEY_ROWS * PANEL, 0.0);
    for q0 in (0..len).step_by(PANEL) {
        let width = PANEL.min(len - q0);
        s.queries.clear();
        s.queries.resize(HEAD_DIM * PANEL, 0.0);
        for j in 0..width {
            for (d, &v) in token(q0 + j, 0).iter().enumerate() {
                s.queries[d * PANEL + j] = v * scale;
            }
        }
        // Scores key by key, and their maximum per query (the padding keys past `len` are
        // left out of it and of the softmax).
        let mut max = [f32::NEG_INFINITY; PANEL];
        for (g, (keys, scores)) in
            s.keys.chunks_exact(HEAD_DIM * KEY_ROWS).zip(s.scores.chunks_exact_mut(KEY_ROWS * PANEL)).enumerate()
        {
            let tile = tile::<KEY_ROWS, FUSED>(keys, &s.queries);
            for (r, (row, scores)) in tile.iter().zip(scores.chunks_exact_mut(PANEL)).enumerate() {
                scores.copy_from_slice(row);
                if g * KEY_ROWS + r < len {
                    for j in 0..PANEL {
                        max[j] = max[j].max(row[j]);
                    }
                }
            }
        }
        let scores = &mut s.scores[..len * PANEL];
        let mut sum = [0f32; PANEL];
        for row in scores.chunks_exact_mut(PANEL) {
            for j in 0..PANEL {
                row[j] = exp::<FUSED>(row[j] - max[j]);
                sum[j] += row[j];
            }
        }
        let inv = sum.map(|s| 1.0 / s);
        let out = out.at(q0 * HIDDEN);
        for (g, values) in s.values.chunks(len * DIM_ROWS).enumerate() {
            let out = out.at(g * DIM_ROWS);
            if values.len() == len * DIM_ROWS {
                store(&tile::<DIM_ROWS, FUSED>(values, scores), &inv, width, out);
            } else {
                store(&tile::<{ HEAD_DIM % DIM_ROWS }, FUSED>(values, scores), &inv, width, out);
            }
        }
    }
}

/// Writes a tile of outputs (`[dim][query]`, not yet divided by the softmax sums) to the
/// first `width` queries' rows, transposed.
#[inline(always)]
fn store(acc: &[[f32; PANEL]], inv: &[f32; PANEL], width: usize, out: Shared) {
    for j in 0..width {
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: `attention` checked that every token's row is in `context`; this task
            // alone writes this head's columns of this text's rows.
            unsafe { *out.0.add(j * HIDDEN + r) = acc[j] * inv[j] };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Softmax(q·kᵀ/√d)·v per text and head, in f64, the textbook way.
    fn textbook(qkv: &[f32], spans: &[(usize, usize)]) -> Vec<f64> {
        let rows = qkv.len() / (3 * HIDDEN);
        let mut out = vec![0f64; rows * HIDDEN];
        let at = |t: usize, part: usize, h: usize, d: usize| {
            f64::from(qkv[t * 3 * HIDDEN + part * HIDDEN + h * HEAD_DIM + d])
        };
        for &(start, len) in spans {
            for h in 0..HEADS {
                for i in start..start + len {
                    let scores: Vec<f64> = (start..start + len)
                        .map(|j| {
                            (0..HEAD_DIM).map(|d| at(i, 0, h, d) * at(j, 1, h, d)).sum::<f64>()
                                / (HEAD_DIM as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = weights.iter().sum();
                    for d in 0..HEAD_DIM {
                        out[i * HIDDEN + h * HEAD_DIM + d] =
                            (start..start + len).zip(&weights).map(|(j, w)| w * at(j, 2, h, d)).sum::<f64>() / sum;
                    }
                }
            }
        }
        out
    }

    /// Texts of awkward lengths (one token, not a multiple of 6 or 16, the longest), on one
    /// thread and on many; scores near zero (every key weighs in) and large enough that a
    /// naive softmax would overflow.
    #[test]
    fn agrees_with_the_textbook_attention() {
        for lengths in [&[1usize, 5, 16][..], &[17, 33, 6, 100, 256]] {
            let spans: Vec<(usize, usize)> = lengths
                .iter()
                .scan(0, |start, &len| {
                    *start += len;
                    Some((*start - len, len))
                })
                .collect();
            let rows: usize = lengths.iter().sum();
            for spread in [0.5f32, 6.0] {
                // A cheap deterministic spread in [-spread, spread).
                let qkv: Vec<f32> =
                    (0..rows * 3 * HIDDEN).map(|i| ((i * 7_919 % 1_201) as f32 / 600.0 - 1.0) * spread).collect();
                let mut context = vec![f32::NAN; rows * HIDDEN];
                attention(&qkv, &spans, &mut context);
                for (i, (&got, want)) in context.iter().zip(textbook(&qkv, &spans)).enumerate() {
                    let (row, column) = (i / HIDDEN, i % HIDDEN);
                    assert!(
                        (f64::from(got) - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "spread {spread}, row {row} column {column}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
