//! The lexical half fitted against every paper at once, in the time a sample would take.
//!
//! arxiv-sanity-lite's SVM sees every other paper as a negative, and on readers with a narrow
//! topic that is what wins: a sample of a few hundred negatives misses the terms that are
//! common in the corpus but not the reader's. Training against all of them on every vote
//! (tens of thousands of rows, for each of thousands of readers a day) is too slow, but with
//! a squared loss the corpus enters the solution only through two statistics that every
//! reader shares: the sum of its rows and their second moment `M = Σ x xᵀ`.
//!
//! **The model** is regularised least squares with targets ±1 and class weights like
//! arxiv-sanity's balanced ones (each class weighs `C·N/2` in all, until the reader has rated
//! more than [`super::PAR_POSITIVES`] papers: see [`Whole::train`]): minimise
//! `½‖w‖² + c_n Σ_corpus (w·x + 1)² + Σ_reader c_j (w·x_j − t_j)²`, every row with a bias
//! feature 1. The reader's rows (positives, "not for me") are the only part that differs
//! between readers, so with `A₀ = I + 2 c_n M` the solution is
//! `w = g₀ + G W (e − y)`, `G = A₀⁻¹`, `g₀ = −2 c_n G s`, and `y` solves an m × m system
//! in the reader's m rows (the Woodbury identity).
//!
//! **The shared part** ([`Whole::fit`], once per lexicon): `M` is 20,000 × 20,000, so it is
//! approximated by a rank-k part from a randomised range finder (two power iterations) plus the
//! diagonal it leaves out. Then `G = A⁻¹ − E Eᵀ` with `A` diagonal and `E` 20,000 × k, and a
//! reader's fit costs `O(m · nnz · k + m² · (nnz + k) + m³ + features · k)`, independent of
//! the corpus size.

use rayon::prelude::*;

use paperboy_embed::dot;

use super::tfidf::Sparse;
use super::xorshift;

/// Columns of the low-rank part.
pub const RANK: usize = 64;
/// Power iterations of the range finder.
const POWER: usize = 2;

/// The corpus's share of every reader's fit (see the module's notes).
#[derive(Debug, Clone, Default)]
pub struct Whole {
    /// Features plus the bias.
    dim: usize,
    /// Rank of `E`.
    k: usize,
    /// `A⁻¹`, the diagonal part's inverse.
    inv_a: Vec<f32>,
    /// `E`, `dim × k`, row-major.
    e: Vec<f32>,
    /// `g₀ = −2 c_n G s`.
    g0: Vec<f32>,
    /// Rows in the corpus.
    n: usize,
    /// The SVM-style C the class weights derive from.
    c: f32,
}

/// `y += a · x` over the bias-extended row `x̃ = (x, 1)` of a `dim`-wide dense vector.
fn add_row(a: f32, x: &Sparse, y: &mut [f32]) {
    for (j, v) in x {
        y[*j as usize] += a * v;
    }
    let last = y.len() - 1;
    y[last] += a;
}

/// `Y = M Q` for `M = Σ x̃ x̃ᵀ` over `rows`; `Q` and `Y` are `dim × k`, row-major. The rows are
/// split between the cores, each summing its own `Y`.
fn moment_times(rows: &[&Sparse], q: &[f32], dim: usize, k: usize) -> Vec<f32> {
    let chunk = rows.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
    rows.par_chunks(chunk)
        .map(|part| {
            let mut y = vec![0.0f32; dim * k];
            let mut t = vec![0.0f32; k];
            let bias = dim - 1;
            for x in part {
                t.copy_from_slice(&q[bias * k..(bias + 1) * k]);
                for (j, v) in x.iter() {
                    let qj = &q[*j as usize * k..(*j as usize + 1) * k];
                    t.iter_mut().zip(qj).for_each(|(ti, qi)| *ti += v * qi);
                }
                for (j, v) in x.iter().map(|(j, v)| (*j as usize, *v)).chain([(bias, 1.0)]) {
                    y[j * k..(j + 1) * k].iter_mut().zip(&t).for_each(|(yi, ti)| *yi += v * ti);
                }
            }
            y
        })
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        })
        .unwrap_or_else(|| vec![0.0f32; dim * k])
}

/// `Aᵀ B` for `dim × k` row-major `A` and `B`: a `k × k` matrix, row-major.
fn gram(a: &[f32], b: &[f32], k: usize) -> Vec<f64> {
    let mut g = vec![0.0f64; k * k];
    for (ra, rb) in a.chunks_exact(k).zip(b.chunks_exact(k)) {
        for (i, &x) in ra.iter().enumerate() {
            if x != 0.0 {
                let gi = &mut g[i * k..(i + 1) * k];
                gi.iter_mut().zip(rb).for_each(|(g, &y)| *g += f64::from(x) * f64::from(y));
            }
        }
    }
    g
}

/// The lower Cholesky factor of a symmetric positive semi-definite `n × n` matrix (row-major),
/// with a relative jitter on the diagonal so a singular one still factors.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Vec<f64> {
    let scale = (0..n).map(|i| a[i * n + i]).fold(0.0f64, f64::max).max(1e-30);
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|p| l[i * n + p] * l[j * n + p]).sum();
            if i == j {
                l[i * n + i] = (a[i * n + i] - s).max(scale * 1e-10).sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    l
}

/// Solves `L Lᵀ x = b` in place for a lower Cholesky factor `L`.
pub(crate) fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|p| l[i * n + p] * b[p]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|p| l[p * n + i] * b[p]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// `Y L⁻ᵀ` for `dim × k` row-major `Y` and lower `L`: each row `r` becomes the solution of
/// `L z = r`.
fn right_solve_lt(y: &mut [f32], l: &[f64], k: usize) {
    let mut z = vec![0.0f64; k];
    for row in y.chunks_exact_mut(k) {
        for i in 0..k {
            let s: f64 = (0..i).map(|p| l[i * k + p] * z[p]).sum();
            z[i] = (f64::from(row[i]) - s) / l[i * k + i];
        }
        row.iter_mut().zip(&z).for_each(|(r, z)| *r = *z as f32);
    }
}

/// Orthonormal columns spanning `y`'s (Cholesky QR, twice for accuracy).
fn orthonormalise(y: &mut [f32], k: usize) {
    for _ in 0..2 {
        let g = gram(y, y, k);
        right_solve_lt(y, &cholesky(&g, k), k);
    }
}

impl Whole {
    /// The shared part for `rows` (the corpus, `features` wide) and the SVM-style `c`.
    pub fn fit(rows: &[&Sparse], features: usize, c: f32, seed: u64) -> Whole {
        let dim = features + 1;
        let n = rows.len();
        let k = RANK.min(n).min(dim);
        if n == 0 {
            return Whole { dim, k: 0, inv_a: vec![1.0; dim], e: vec![], g0: vec![0.0; dim], n, c };
        }
        let c_n = c / 2.0;
        let mut sum = vec![0.0f32; dim];
        let mut diag = vec![0.0f32; dim];
        for x in rows {
            add_row(1.0, x, &mut sum);
            for (j, v) in x.iter() {
                diag[*j as usize] += v * v;
            }
        }
        diag[dim - 1] = n as f32;
        // The range finder: a random ±1 start, then M applied 1 + POWER times.
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut q: Vec<f32> = (0..dim * k).map(|_| if xorshift(&mut state) & 1 == 0 { 1.0 } else { -1.0 }).collect();
        for _ in 0..=POWER {
            q = moment_times(rows, &q, dim, k);
            orthonormalise(&mut q, k);
        }
        // M ≈ Q T Qᵀ + diag(d): T = Qᵀ M Q, d what the low-rank part leaves on the diagonal.
        let mq = moment_times(rows, &q, dim, k);
        let mut t = gram(&q, &mq, k);
        for i in 0..k {
            for j in 0..i {
                let m = 0.5 * (t[i * k + j] + t[j * k + i]);
                t[i * k + j] = m;
                t[j * k + i] = m;
            }
        }
        // F = Q L with L Lᵀ = 2 c_n T, so that A₀ ≈ A + F Fᵀ.
        let lt = cholesky(&t.iter().map(|v| v * 2.0 * f64::from(c_n)).collect::<Vec<_>>(), k);
        let mut f = vec![0.0f32; dim * k];
        for (fr, qr) in f.chunks_exact_mut(k).zip(q.chunks_exact(k)) {
            for (a, fa) in fr.iter_mut().enumerate() {
                *fa = (a..k).map(|b| f64::from(qr[b]) * lt[b * k + a]).sum::<f64>() as f32;
            }
        }
        let inv_a: Vec<f32> = (0..dim)
            .map(|j| {
                let low: f32 = f[j * k..(j + 1) * k].iter().map(|v| v * v).sum();
                let residual = (2.0 * c_n * diag[j] - low).max(0.0);
                1.0 / (1.0 + residual)
            })
            .collect();
        // Woodbury: G = A⁻¹ − A⁻¹F (I + Fᵀ A⁻¹ F)⁻¹ Fᵀ A⁻¹ = A⁻¹ − E Eᵀ.
        let mut e = f.clone();
        for (j, row) in e.chunks_exact_mut(k).enumerate() {
            row.iter_mut().for_each(|v| *v *= inv_a[j]);
        }
        let mut core = gram(&f, &e, k);
        for i in 0..k {
            core[i * k + i] += 1.0;
        }
        right_solve_lt(&mut e, &cholesky(&core, k), k);
        let mut whole = Whole { dim, k, inv_a, e, g0: vec![], n, c };
        let mut g0 = whole.apply(&sum);
        g0.iter_mut().for_each(|v| *v *= -2.0 * c_n);
        whole.g0 = g0;
        whole
    }

    /// Row `j` of `E`.
    fn e_row(&self, j: usize) -> &[f32] {
        &self.e[j * self.k..(j + 1) * self.k]
    }

    /// `G v` for a dense `v`.
    fn apply(&self, v: &[f32]) -> Vec<f32> {
        let mut ev = vec![0.0f32; self.k];
        for (j, &x) in v.iter().enumerate().filter(|(_, x)| **x != 0.0) {
            ev.iter_mut().zip(self.e_row(j)).for_each(|(a, r)| *a += x * r);
        }
        (0..self.dim).map(|j| self.inv_a[j] * v[j] - dot(self.e_row(j), &ev)).collect()
    }

    /// `Eᵀ x̃` for a sparse row.
    fn project(&self, x: &Sparse) -> Vec<f32> {
        let mut u = self.e_row(self.dim - 1).to_vec();
        for (j, v) in x {
            u.iter_mut().zip(self.e_row(*j as usize)).for_each(|(a, b)| *a += v * b);
        }
        u
    }

    /// A reader's weights (features then the bias, as [`super::tfidf::score`] reads them):
    /// `positives` (with whether each is one of the corpus's rows) are +1, `negatives` ("not
    /// for me", each weighing as much as a positive) −1, every other paper of the corpus −1.
    /// Up to [`super::PAR_POSITIVES`] positives the classes weigh the same (`C·N/2` each); past
    /// that each positive keeps the weight it had there, so a reader who rated more is fitted
    /// more closely.
    pub fn train(&self, positives: &[(&Sparse, bool)], negatives: &[&Sparse]) -> Vec<f32> {
        if positives.is_empty() || self.n == 0 {
            return vec![0.0; self.dim];
        }
        let c_n = self.c / 2.0;
        let c_p = self.c * self.n as f32 / (2.0 * positives.len().min(super::PAR_POSITIVES) as f32);
        // Each reader row adds d (x̃·w) x̃ − e x̃ to the gradient; a corpus row already counts
        // once as a negative.
        let rows: Vec<(&Sparse, f32, f32)> = positives
            .iter()
            .map(|&(x, inside)| if inside { (x, 2.0 * (c_p - c_n), 2.0 * (c_p + c_n)) } else { (x, 2.0 * c_p, 2.0 * c_p) })
            .chain(negatives.iter().map(|&x| (x, 2.0 * c_p, -2.0 * c_p)))
            .collect();
        let m = rows.len();
        let u: Vec<Vec<f32>> = rows.iter().map(|(x, _, _)| self.project(x)).collect();
        // (D⁻¹ + K) y = h, K = Wᵀ G W, h = Wᵀ g₀ + K e.
        // x̃ᵢᵀ A⁻¹ x̃ⱼ by scattering row i's A⁻¹-weighted values into a dense scratch once.
        let mut kd = vec![0.0f64; m * m];
        let mut dense = vec![0.0f32; self.dim];
        let bias = self.inv_a[self.dim - 1];
        for i in 0..m {
            for (f, v) in rows[i].0 {
                dense[*f as usize] = v * self.inv_a[*f as usize];
            }
            for j in 0..=i {
                let inner: f32 = rows[j].0.iter().map(|(f, v)| dense[*f as usize] * v).sum::<f32>() + bias;
                let v = f64::from(inner - dot(&u[i], &u[j]));
                kd[i * m + j] = v;
                kd[j * m + i] = v;
            }
            for (f, _) in rows[i].0 {
                dense[*f as usize] = 0.0;
            }
        }
        let mut h: Vec<f64> = (0..m)
            .map(|i| {
                let base = f64::from(super::tfidf::score(&self.g0, rows[i].0));
                base + (0..m).map(|j| kd[i * m + j] * f64::from(rows[j].2)).sum::<f64>()
            })
            .collect();
        for (i, row) in rows.iter().enumerate() {
            kd[i * m + i] += 1.0 / f64::from(row.1.max(1e-9));
        }
        cholesky_solve(&cholesky(&kd, m), m, &mut h);
        // w = g₀ + G W (e − y) = g₀ + A⁻¹ v − E (Σ (e_j − y_j) u_j).
        let mut v = vec![0.0f32; self.dim];
        let mut ev = vec![0.0f32; self.k];
        for (j, (x, _, e)) in rows.iter().enumerate() {
            let a = e - h[j] as f32;
            add_row(a, x, &mut v);
            ev.iter_mut().zip(&u[j]).for_each(|(s, u)| *s += a * u);
        }
        let mut w = self.g0.clone();
        for (j, wj) in w.iter_mut().enumerate() {
            *wj += self.inv_a[j] * v[j] - dot(self.e_row(j), &ev);
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::super::tfidf;
    use super::*;

    /// The exact least-squares fit by conjugate gradients over every row, for comparison.
    fn exact(corpus: &[&Sparse], pos: &[&Sparse], features: usize, c: f32) -> Vec<f32> {
        let dim = features + 1;
        let (c_n, c_p) = (c / 2.0, c * (corpus.len() + pos.len()) as f32 / (2.0 * pos.len().min(super::super::PAR_POSITIVES) as f32));
        let mut rows: Vec<(&Sparse, f32, f32)> = corpus.iter().map(|x| (*x, c_n, -1.0)).collect();
        rows.extend(pos.iter().map(|x| (*x, c_p, 1.0)));
        let hv = |v: &[f32]| {
            let mut out = v.to_vec();
            for (x, ci, _) in &rows {
                add_row(2.0 * ci * tfidf::score(v, x), x, &mut out);
            }
            out
        };
        let mut b = vec![0.0f32; dim];
        for (x, ci, t) in &rows {
            add_row(2.0 * ci * t, x, &mut b);
        }
        let (mut w, mut r) = (vec![0.0f32; dim], b.clone());
        let mut p = r.clone();
        let mut rr: f32 = r.iter().map(|v| v * v).sum();
        for _ in 0..500 {
            let hp = hv(&p);
            let a = rr / p.iter().zip(&hp).map(|(a, b)| a * b).sum::<f32>();
            w.iter_mut().zip(&p).for_each(|(wi, pi)| *wi += a * pi);
            r.iter_mut().zip(&hp).for_each(|(ri, hi)| *ri -= a * hi);
            let new: f32 = r.iter().map(|v| v * v).sum();
            if new < 1e-12 {
                break;
            }
            p.iter_mut().zip(&r).for_each(|(pi, ri)| *pi = ri + new / rr * *pi);
            rr = new;
        }
        w
    }

    /// `n` unit rows over `features` features: row `i` leans on the features `≡ i (mod 4)`
    /// (four topics), with random others.
    fn corpus(n: usize, features: u32) -> Vec<Sparse> {
        let mut state = 7u64;
        let mut rnd = || (xorshift(&mut state) % 1000) as f32 / 1000.0;
        (0..n as u32)
            .map(|i| {
                let mut r: Sparse = Vec::new();
                for j in 0..features {
                    if ((i + j) % 4 == 0 && rnd() < 0.3) || rnd() < 0.05 {
                        r.push((j, 0.1 + rnd()));
                    }
                }
                let n = r.iter().map(|(_, v)| v * v).sum::<f32>().sqrt().max(1e-6);
                r.iter_mut().for_each(|(_, v)| *v /= n);
                r
            })
            .collect()
    }

    /// The fit for positives `pos` (indexes into `rows`) both ways: (approximate, exact).
    fn both(rows: &[Sparse], features: usize, pos: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let whole = Whole::fit(&rows.iter().collect::<Vec<_>>(), features, 0.01, 1);
        let positives: Vec<&Sparse> = pos.iter().map(|&i| &rows[i]).collect();
        let w = whole.train(&positives.iter().map(|x| (*x, true)).collect::<Vec<_>>(), &[]);
        let others: Vec<&Sparse> = (0..rows.len()).filter(|i| !pos.contains(i)).map(|i| &rows[i]).collect();
        (w, exact(&others, &positives, features, 0.01))
    }

    #[test]
    fn the_shared_statistics_give_the_exact_fit_when_the_rank_covers_the_features() {
        // 30 features, rank 64 ≥ features: the low-rank part is M itself, so the fit is exact.
        let rows = corpus(200, 30);
        let (w, want) = both(&rows, 30, &[3, 7, 11]);
        let scale = want.iter().map(|v| v.abs()).fold(0.0, f32::max);
        for (a, b) in w.iter().zip(&want) {
            assert!((a - b).abs() < 1e-3 * scale, "{w:?}\n{want:?}");
        }
        // A "not for me" paper scores lower once it is marked.
        let whole = Whole::fit(&rows.iter().collect::<Vec<_>>(), 30, 0.01, 1);
        let pos: Vec<(&Sparse, bool)> = [3, 7, 11].iter().map(|&i| (&rows[i], true)).collect();
        let after = whole.train(&pos, &[&rows[20]]);
        assert!(tfidf::score(&after, &rows[20]) < tfidf::score(&w, &rows[20]));
    }

    #[test]
    fn with_more_features_than_the_rank_the_fit_ranks_as_the_exact_one_does() {
        // 400 features, rank 64: the approximation leaves off-diagonal residue out, but the
        // ranking of the corpus stays that of the exact fit.
        let rows = corpus(600, 400);
        let pos = [1, 5, 9, 13, 17, 21, 25, 29];
        let (w, want) = both(&rows, 400, &pos);
        let top = |w: &[f32]| {
            let mut order: Vec<usize> = (0..rows.len()).filter(|i| !pos.contains(i)).collect();
            order.sort_by(|&a, &b| tfidf::score(w, &rows[b]).total_cmp(&tfidf::score(w, &rows[a])));
            order.truncate(20);
            order
        };
        let (a, b) = (top(&w), top(&want));
        let shared = a.iter().filter(|i| b.contains(i)).count();
        assert!(shared >= 16, "{shared} of the top 20 shared: {a:?} vs {b:?}");
        // And the reader's topic (rows ≡ 1 mod 4) fills the top.
        assert!(a.iter().filter(|&&i| i % 4 == 1).count() >= 18, "{a:?}");
    }
}
