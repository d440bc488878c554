//! Matrix products for the encoder.
//!
//! The right-hand matrix (a layer's weights) is packed into panels of 16 columns, each stored
//! `k × 16` contiguously, once, at load. A 6 × 16 micro-kernel keeps its block of the product
//! in twelve AVX2 registers while it walks `k`: one broadcast of a left-hand value feeds two
//! fused multiply-adds; the finished block gets its bias or residual (and GELU, if asked)
//! while still in registers. Rows are cut into blocks whose left-hand rows stay in the core's
//! L2 cache while every panel passes over them, and the blocks are shared among threads. The
//! general-purpose gemm crates reach about 60% of this machine's multiply-add peak on the
//! encoder's shapes; this reaches more because only the left-hand rows are packed per call.
//! `attention.rs` uses the same register tile on its own layouts.

use rayon::prelude::*;

/// Columns per panel (two AVX2 vectors).
pub(crate) const PANEL: usize = 16;
/// Rows per micro-kernel call.
const ROWS: usize = 6;
/// Depth (`k`) per pass of the micro-kernel: all of the encoder's (at most 1,536). Alternating
/// runs of the feed-forward's down projection (`k` = 1,536) ran ~10% faster in one pass than
/// in three of 512 (fewer passes over the output and the packed rows), although a panel's part
/// then no longer fits in L1.
const DEPTH: usize = 1536;
/// Left-hand bytes per row block: a block stays in L2 while the panels pass over it.
const BLOCK_BYTES: usize = 192 * 1024;
/// Below this many rows a product runs on the calling thread alone.
pub(crate) const PARALLEL_ROWS: usize = 64;

/// A `k × n` matrix packed into `n / 16` panels of `k × 16` (columns past `n` are zero).
pub(crate) struct Packed {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl Packed {
    /// Packs the `k × n` matrix whose element `(i, j)` is `m[i * row_stride + j * col_stride]`.
    pub(crate) fn from_strided(m: &[f32], k: usize, n: usize, row_stride: usize, col_stride: usize) -> Self {
        let panels = n.div_ceil(PANEL);
        let mut data = vec![0.0; panels * k * PANEL];
        for (p, panel) in data.chunks_exact_mut(k * PANEL).enumerate() {
            let cols = PANEL.min(n - p * PANEL);
            for (i, row) in panel.chunks_exact_mut(PANEL).enumerate() {
                let base = i * row_stride + p * PANEL * col_stride;
                for (c, v) in row[..cols].iter_mut().enumerate() {
                    *v = m[base + c * col_stride];
                }
            }
        }
        Packed { k, n, data }
    }

    /// Columns (before padding).
    pub(crate) fn cols(&self) -> usize {
        self.n
    }
}

/// What a product is added to, and what is applied to the sum, as each block of it is
/// finished (while the block is still in registers).
#[derive(Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    /// `Some(bias)`: `c = bias + a · b`, one bias per column (`c`'s old contents are not
    /// read); `None`: `c += a · b`.
    pub bias: Option<&'a [f32]>,
    /// GELU of the sum.
    pub gelu: bool,
}

/// `c = epilogue(c, a · b)`: `a` is `m × b.k` with rows `lda` apart, `c` is `m × ldc` and
/// receives columns `0..b.n` rounded up to a multiple of 16 (`ldc` must leave room for them,
/// a bias must have as many values). `parallel`: row blocks go to all threads when there are
/// enough rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_add(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &Packed,
    c: &mut [f32],
    ldc: usize,
    parallel: bool,
    epilogue: Epilogue,
) {
    let width = b.n.div_ceil(PANEL) * PANEL;
    assert!(ldc >= width && lda >= b.k, "matrix strides too small");
    assert!(epilogue.bias.is_none_or(|bias| bias.len() >= width), "bias too short");
    assert!(m == 0 || (a.len() >= (m - 1) * lda + b.k && c.len() >= (m - 1) * ldc + width), "matrix out of bounds");
    let block_rows = (BLOCK_BYTES / (4 * b.k.clamp(1, DEPTH))).max(ROWS) / ROWS * ROWS;
    let used = (m * ldc).min(c.len());
    let c = &mut c[..used];
    let threads = rayon::current_num_threads();
    let panels = b.n.div_ceil(PANEL);
    if parallel && m < PARALLEL_ROWS && threads > 1 && panels >= 2 && m > 0 {
        return by_panels(Block { a, lda, rows: m, b, panels: 0..panels, ldc, epilogue }, c, threads.min(panels));
    }
    let parallel = parallel && m >= PARALLEL_ROWS && threads > 1;
    let block_rows = if parallel {
        // As many blocks on every thread (a thread left with one block fewer waits a whole
        // block at the end), at least two each, none larger than the cache allows.
        let blocks = m.div_ceil(block_rows).max(2 * threads).next_multiple_of(threads);
        m.div_ceil(blocks).next_multiple_of(ROWS)
    } else {
        block_rows
    };
    let run = |(i, c): (usize, &mut [f32])| {
        let rows = block_rows.min(m - i * block_rows);
        block(Block { a: &a[i * block_rows * lda..], lda, rows, b, panels: 0..panels, ldc, epilogue }, c);
    };
    if parallel {
        c.par_chunks_mut(block_rows * ldc).enumerate().for_each(run);
    } else {
        c.chunks_mut(block_rows * ldc).enumerate().for_each(run);
    }
}

/// A short product (a search query's few tokens): too few rows to share, so the threads share
/// the panels instead, each reading only its part of the weights. The first part is written in
/// place; the others into their own rows (holding `c`'s columns first, for a residual), copied
/// back after.
fn by_panels(x: Block, c: &mut [f32], parts: usize) {
    let panels = x.panels.len();
    let per = panels.div_ceil(parts);
    let mut others: Vec<(std::ops::Range<usize>, Vec<f32>)> = (1..parts)
        .map(|i| i * per..((i + 1) * per).min(panels))
        .filter(|r| !r.is_empty())
        .map(|r| {
            let width = r.len() * PANEL;
            let mut own = vec![0f32; x.rows * width];
            if x.epilogue.bias.is_none() {
                for (row, dst) in own.chunks_exact_mut(width).enumerate() {
                    dst.copy_from_slice(&c[row * x.ldc + r.start * PANEL..][..width]);
                }
            }
            (r, own)
        })
        .collect();
    rayon::join(
        || block(Block { panels: 0..per, ..x.clone() }, c),
        || {
            others.par_iter_mut().for_each(|(r, own)| {
                block(Block { panels: r.clone(), ldc: r.len() * PANEL, ..x.clone() }, own);
            })
        },
    );
    for (r, own) in &others {
        let width = r.len() * PANEL;
        for (row, src) in own.chunks_exact(width).enumerate() {
            c[row * x.ldc + r.start * PANEL..][..width].copy_from_slice(src);
        }
    }
}

/// One row block of a product: its left-hand rows (`lda` apart) against the panels `panels`
/// of `b`, whose outputs go to `c`'s columns from 0 (panel `panels.start` first).
#[derive(Clone)]
struct Block<'a> {
    a: &'a [f32],
    lda: usize,
    rows: usize,
    b: &'a Packed,
    panels: std::ops::Range<usize>,
    ldc: usize,
    epilogue: Epilogue<'a>,
}

/// Computes one row block into `c` (its rows of the output, `ldc` apart).
fn block(x: Block, c: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor has the features `block_avx2` is compiled for.
        return unsafe { block_avx2(x, c) };
    }
    block_kernel::<false>(x, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2(x: Block, c: &mut [f32]) {
    block_kernel::<true>(x, c)
}

thread_local! {
    /// The left-hand rows of the current block, interleaved for the micro-kernel.
    static ROWS_PACKED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[inline(always)]
fn block_kernel<const FUSED: bool>(x: Block, c: &mut [f32]) {
    let Block { a, lda, rows, b, panels, ldc, epilogue } = x;
    let k = b.k;
    let groups = rows.div_ceil(ROWS);
    // Taken out of the thread-local rather than used inside `with`: a closure would not be
    // compiled for the caller's target features (`mul_add` would become a library call).
    let mut packed = ROWS_PACKED.take();
    // `k` in slices whose panel part (kc × 16) and row group (kc × 6) stay in L1 together.
    for k0 in (0..k).step_by(DEPTH) {
        let kc = DEPTH.min(k - k0);
        // Six rows at a time, stored `kc × 6`: the micro-kernel reads them in order.
        packed.clear();
        packed.resize(groups * kc * ROWS, 0.0);
        for (g, group) in packed.chunks_exact_mut(kc * ROWS).enumerate() {
            for r in 0..ROWS.min(rows - g * ROWS) {
                let row = &a[(g * ROWS + r) * lda + k0..][..kc];
                for (dst, &v) in group.chunks_exact_mut(ROWS).zip(row) {
                    dst[r] = v;
                }
            }
        }
        // The bias starts the sum on the first pass; GELU ends it on the last.
        let bias = epilogue.bias.filter(|_| k0 == 0);
        let gelu = epilogue.gelu && k0 + kc == k;
        for (p, panel) in b.data.chunks_exact(k * PANEL).enumerate().skip(panels.start).take(panels.len()) {
            let panel = &panel[k0 * PANEL..(k0 + kc) * PANEL];
            let bias = bias.map(|b| &b[p * PANEL..][..PANEL]);
            let column = (p - panels.start) * PANEL;
            for (g, group) in packed.chunks_exact(kc * ROWS).enumerate() {
                let c = &mut c[g * ROWS * ldc + column..];
                micro::<FUSED>(group, panel, c, ldc, ROWS.min(rows - g * ROWS), bias, gelu);
            }
        }
    }
    ROWS_PACKED.set(packed);
}

/// `c[0..rows][0..16] += a · panel` (or `= bias + a · panel`, then GELU if asked) for six
/// interleaved rows `a` (`k × 6`) and a panel (`k × 16`): the 6 × 16 block stays in
/// registers throughout.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn micro<const FUSED: bool>(
    a: &[f32],
    panel: &[f32],
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    bias: Option<&[f32]>,
    gelu: bool,
) {
    // The block's output rows, read at the end (a row's 16 values may straddle two lines).
    for r in 0..rows {
        crate::math::prefetch(c, r * ldc);
        crate::math::prefetch(c, r * ldc + PANEL - 1);
    }
    let acc = tile::<ROWS, FUSED>(a, panel);
    let mut acc = acc;
    for (r, acc) in acc.iter_mut().enumerate().take(rows) {
        let out = &c[r * ldc..][..PANEL];
        match bias {
            Some(bias) => acc.iter_mut().zip(bias).for_each(|(a, b)| *a += b),
            None => acc.iter_mut().zip(out).for_each(|(a, o)| *a += o),
        }
    }
    if gelu {
        // The whole block at once: twelve independent chains for the processor to overlap.
        for v in acc.as_flattened_mut() {
            *v = crate::math::gelu::<FUSED>(*v);
        }
    }
    for (r, acc) in acc.iter().enumerate().take(rows) {
        c[r * ldc..][..PANEL].copy_from_slice(acc);
    }
}

/// `a · panel` for `R` interleaved rows `a` (`k × R`) and a panel (`k × 16`), `k` being the
/// shorter of the two: an `R × 16` block that stays in registers while `k` is walked
/// (`2·R` AVX2 accumulators, so `R` ≤ 6). `FUSED`: see [`crate::math::fma`].
#[inline(always)]
pub(crate) fn tile<const R: usize, const FUSED: bool>(a: &[f32], panel: &[f32]) -> [[f32; PANEL]; R] {
    let mut acc = [[0f32; PANEL]; R];
    for (x, b) in a.chunks_exact(R).zip(panel.chunks_exact(PANEL)) {
        for r in 0..R {
            for j in 0..PANEL {
                acc[r][j] = crate::math::fma::<FUSED>(x[r], b[j], acc[r][j]);
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Products of odd shapes, strides, depths past one pass, both paths (one thread, many)
    /// and every epilogue (added to `c`, started from a bias, with GELU) equal the plain sum.
    #[test]
    fn agrees_with_the_textbook_product() {
        let shapes =
            [(1usize, 1usize, 1usize), (7, 5, 16), (13, 33, 40), (15, 384, 1152), (3, 1536, 384), (100, 64, 48), (257, 384, 32), (70, 1700, 16)];
        for &(m, k, n) in &shapes {
            let (lda, ldc) = (k + 3, n.div_ceil(PANEL) * PANEL + 5);
            let a: Vec<f32> = (0..m * lda).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0 / (k as f32).sqrt()).collect();
            let w: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
            let bias: Vec<f32> = (0..n.div_ceil(PANEL) * PANEL).map(|j| (j % 4) as f32 - 1.5).collect();
            // Pack the transpose as stored (n × k rows) to exercise the strides too.
            let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
            for b in [Packed::from_strided(&w, k, n, n, 1), Packed::from_strided(&wt, k, n, 1, k)] {
                for (bias, gelu) in [(None, false), (Some(&bias[..]), false), (Some(&bias[..]), true), (None, true)] {
                    let mut c: Vec<f32> = (0..m * ldc).map(|i| (i % 3) as f32).collect();
                    let before = c.clone();
                    matmul_add(&a, lda, m, &b, &mut c, ldc, m % 2 == 1, Epilogue { bias, gelu });
                    for i in 0..m {
                        for j in 0..n {
                            let start = bias.map_or(f64::from(before[i * ldc + j]), |b| f64::from(b[j]));
                            let sum = start
                                + (0..k).map(|t| f64::from(a[i * lda + t]) * f64::from(w[t * n + j])).sum::<f64>();
                            let want = if gelu { f64::from(crate::math::gelu::<false>(sum as f32)) } else { sum };
                            let got = f64::from(c[i * ldc + j]);
                            let what = format!("({m},{k},{n}) bias {} gelu {gelu} at ({i},{j})", bias.is_some());
                            assert!((got - want).abs() < 1e-3 * (1.0 + want.abs()), "{what}: {got} vs {want}");
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod probe {
    use super::*;

    /// Not a check: prints the GFLOP/s of the encoder's four linear-layer shapes (2,048 tokens),
    /// best of 25, on one thread and on two. This machine's figures move by ±25% from run to run
    /// (steal time); compare variants by running them alternately.
    /// `cargo test --release -p paperboy-embed --lib probe -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn linear_layer_throughput() {
        let shapes = [(2048usize, 384usize, 1152usize), (2048, 384, 384), (2048, 384, 1536), (2048, 1536, 384)];
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut line = format!("threads {threads}:");
                let mut total = (0.0, 0.0);
                for &(m, k, n) in &shapes {
                    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
                    let w: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
                    let b = Packed::from_strided(&w, k, n, n, 1);
                    let mut c = vec![0f32; m * n];
                    let mut best = f64::MAX;
                    for _ in 0..25 {
                        let t = std::time::Instant::now();
                        matmul_add(&a, k, m, &b, &mut c, n, true, Epilogue::default());
                        best = best.min(t.elapsed().as_secs_f64());
                    }
                    let flop = 2.0 * (m * k * n) as f64;
                    total.0 += flop;
                    total.1 += best;
                    line += &format!(" {m}x{k}x{n} {:.1}", flop / best / 1e9);
                }
                println!("{line}  all {:.1} GFLOP/s", total.0 / total.1 / 1e9);
            });
        }
    }
}
