//! Element-wise functions of the encoder, branch-free so that loops of them vectorise.

/// `a · b + c`, in one rounding where `FUSED` (code compiled with FMA), else in two (a fused
/// multiply-add without FMA would be a slow library call).
#[inline(always)]
pub(crate) fn fma<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Asks for the cache line holding `xs[at]` (a hint: nothing happens off x86-64).
#[inline(always)]
pub(crate) fn prefetch(xs: &[f32], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = xs.get(at) {
        // SAFETY: prefetching reads nothing; the address is that of an element of `xs`.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(std::ptr::from_ref(x).cast()) };
    }
}

/// GELU, the exact (erf-based) form BERT uses.
#[inline(always)]
pub(crate) fn gelu<const FUSED: bool>(x: f32) -> f32 {
    let half = 0.5 * x;
    fma::<FUSED>(half, erf::<FUSED>(x * std::f32::consts::FRAC_1_SQRT_2), half)
}

/// erf as a ratio of an odd polynomial of degree 13 and an even one of degree 8 over
/// [-4, 4] (beyond, erf is ±1 in single precision): absolute error below 5e-7, no `exp`,
/// one division.
#[inline(always)]
fn erf<const FUSED: bool>(x: f32) -> f32 {
    const P: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_600_1e-3,
        -1.609_603_3e-2,
    ];
    const Q: [f32; 5] = [-1.456_607_2e-5, -2.133_740_6e-4, -1.682_827e-3, -7.373_329_2e-3, -1.426_473_9e-2];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = P[1..].iter().fold(P[0], |p, &c| fma::<FUSED>(p, x2, c));
    let q = Q[1..].iter().fold(Q[0], |q, &c| fma::<FUSED>(q, x2, c));
    x * p / q
}

/// e^x to about one part in 10^7 (Cephes' expf), branch-free so loops of it vectorise.
#[inline(always)]
pub(crate) fn exp<const FUSED: bool>(x: f32) -> f32 {
    /// 1.5 · 2^23: adding it rounds to an integer, which lands in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const P: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];
    let x = x.clamp(-87.0, 88.0);
    let t = fma::<FUSED>(x, std::f32::consts::LOG2_E, ROUND);
    let n = t - ROUND;
    // x − n·ln 2, with ln 2 in two parts so that the product is exact.
    let r = fma::<FUSED>(n, 2.121_944_4e-4, fma::<FUSED>(-n, 0.693_359_4, x));
    let p = P[1..].iter().fold(P[0], |p, &c| fma::<FUSED>(p, r, c));
    // 2^n: n + 127 (the low bits of t's mantissa, plus the bias) shifted into the exponent.
    fma::<FUSED>(p, r * r, r + 1.0) * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both builds (with and without FMA), on a fine grid and past the clamps.
    #[test]
    fn exp_erf_and_gelu_agree_with_double_precision() {
        fn check<const FUSED: bool>() {
            for i in -20_000..=20_000 {
                let x = i as f32 / 1_000.0;
                let (got, want) = (exp::<FUSED>(x), x.exp());
                assert!((got - want).abs() <= 2e-7 * want, "exp({x}) = {got}, want {want}");
                let want = libm_erf(f64::from(x));
                let got = erf::<FUSED>(x);
                assert!((f64::from(got) - want).abs() < 5e-7, "erf({x}) = {got}, want {want}");
                let want = 0.5 * f64::from(x) * (1.0 + libm_erf(f64::from(x) / std::f64::consts::SQRT_2));
                let got = gelu::<FUSED>(x);
                // erf's error, scaled by x/2.
                let tolerance = 5e-7 * (1.0 + f64::from(x).abs());
                assert!((f64::from(got) - want).abs() < tolerance, "gelu({x}) = {got}, want {want}");
            }
        }
        check::<false>();
        check::<true>();
    }

    /// erf to double precision by its series (|x| < 3) and continued fraction (beyond).
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let v = if a < 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = k as f64 / 2.0 / (a + f);
            }
            1.0 - (-a * a).exp() / (a + f) / std::f64::consts::PI.sqrt()
        };
        v.copysign(x)
    }
}
