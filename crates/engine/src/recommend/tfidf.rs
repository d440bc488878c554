//! arxiv-sanity-lite's recipe, for the evaluation's baseline: tf-idf features (word 1- and
//! 2-grams, the 20,000 most frequent terms with document frequency ≥ 5 and ≤ 10% of the papers,
//! sublinear tf, smoothed idf, rows of unit length; as scikit-learn's `TfidfVectorizer`) and a
//! linear SVM per reader (squared hinge loss, L2, `C = 0.01`, balanced class weights, a bias
//! feature; as scikit-learn's `LinearSVC`, solved by the same dual coordinate descent as
//! liblinear).

use std::collections::HashMap;

/// A sparse row: (feature, value), features ascending.
pub type Sparse = Vec<(u32, f32)>;

/// The vectorizer's settings (arxiv-sanity-lite's).
#[derive(Debug, Clone, Copy)]
pub struct TfidfParams {
    /// Features kept at most (the most frequent over the corpus).
    pub max_features: usize,
    /// Least documents a term is in.
    pub min_df: usize,
    /// Largest share of documents a term is in.
    pub max_df: f32,
}

/// arxiv-sanity-lite's settings.
pub const ARXIV_SANITY: TfidfParams = TfidfParams { max_features: 20_000, min_df: 5, max_df: 0.1 };

/// Words of two or more letters, digits or `_`, lower case (scikit-learn's default pattern).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| w.chars().count() >= 2).map(str::to_lowercase).collect()
}

fn terms(text: &str) -> Vec<String> {
    let w = words(text);
    let mut out = w.clone();
    out.extend(w.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

/// Fits the vocabulary and idf on `docs` and returns every document's row.
pub fn tfidf(docs: &[String], p: &TfidfParams) -> Vec<Sparse> {
    let n = docs.len();
    let doc_terms: Vec<HashMap<String, u32>> = docs
        .iter()
        .map(|d| {
            let mut counts = HashMap::new();
            for t in terms(d) {
                *counts.entry(t).or_insert(0) += 1;
            }
            counts
        })
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    let mut total: HashMap<&str, u64> = HashMap::new();
    for counts in &doc_terms {
        for (t, c) in counts {
            *df.entry(t).or_default() += 1;
            *total.entry(t).or_default() += u64::from(*c);
        }
    }
    let max_df = (p.max_df * n as f32).floor() as usize;
    let mut kept: Vec<(&str, u64)> = total.into_iter().filter(|(t, _)| df[t] >= p.min_df && df[t] <= max_df).collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    kept.truncate(p.max_features);
    kept.sort_by(|a, b| a.0.cmp(b.0));
    let index: HashMap<&str, u32> = kept.iter().enumerate().map(|(i, (t, _))| (*t, i as u32)).collect();
    let idf: Vec<f32> = kept.iter().map(|(t, _)| ((1.0 + n as f32) / (1.0 + df[t] as f32)).ln() + 1.0).collect();
    doc_terms
        .iter()
        .map(|counts| {
            let mut row: Sparse = counts.iter().filter_map(|(t, c)| index.get(t.as_str()).map(|&i| (i, (1.0 + (*c as f32).ln()) * idf[i as usize]))).collect();
            row.sort_by_key(|(i, _)| *i);
            let norm = row.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|(_, v)| *v /= norm);
            }
            row
        })
        .collect()
}

/// Sparse row · dense weights (the bias is the last weight).
pub fn score(w: &[f32], x: &Sparse) -> f32 {
    x.iter().map(|(i, v)| w[*i as usize] * v).sum::<f32>() + w[w.len() - 1]
}

/// A linear SVM (squared hinge, L2, bias feature 1) with balanced class weights, by dual
/// coordinate descent: `pos` rows are +1, `neg` rows −1; `dim` features.
pub fn linear_svm(pos: &[&Sparse], neg: &[&Sparse], dim: usize, c: f32) -> Vec<f32> {
    let n = pos.len() + neg.len();
    let mut w = vec![0.0f32; dim + 1];
    if pos.is_empty() || neg.is_empty() {
        return w;
    }
    let (cp, cn) = (c * n as f32 / (2.0 * pos.len() as f32), c * n as f32 / (2.0 * neg.len() as f32));
    let rows: Vec<(&Sparse, f32, f32)> = pos.iter().map(|x| (*x, 1.0, cp)).chain(neg.iter().map(|x| (*x, -1.0, cn))).collect();
    // Squared hinge: no upper bound on α, and D_ii = 1 / (2 C_i) on the diagonal.
    let q: Vec<f32> = rows.iter().map(|(x, _, ci)| x.iter().map(|(_, v)| v * v).sum::<f32>() + 1.0 + 0.5 / ci).collect();
    let mut alpha = vec![0.0f32; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _epoch in 0..200 {
        // A fixed shuffle per epoch (xorshift), as liblinear permutes.
        for i in (1..n).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut max_pg = 0.0f32;
        for &i in &order {
            let (x, y, ci) = rows[i];
            let g = y * score(&w, x) - 1.0 + alpha[i] * 0.5 / ci;
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            max_pg = max_pg.max(pg.abs());
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (alpha[i] - g / q[i]).max(0.0);
                let d = (alpha[i] - old) * y;
                for (j, v) in x.iter() {
                    w[*j as usize] += d * v;
                }
                w[dim] += d;
            }
        }
        if max_pg < 1e-3 {
            break;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tfidf_keeps_mid_frequency_terms_with_unit_rows() {
        let mut docs: Vec<String> = (0..100).map(|i| format!("common words everywhere paper{i}")).collect();
        for d in docs.iter_mut().take(6) {
            d.push_str(" graph neural networks");
        }
        let rows = tfidf(&docs, &ARXIV_SANITY);
        // "common" is in every document (over max_df); "graph neural" in six (kept); "paper7" in one.
        assert_eq!(rows[50].len(), 0, "{:?}", rows[50]);
        assert_eq!(rows[0].len(), 5, "graph, neural, networks, graph neural, neural networks");
        let norm: f32 = rows[0].iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn the_svm_separates_what_can_be_separated() {
        let a: Sparse = vec![(0, 1.0)];
        let b: Sparse = vec![(1, 1.0)];
        let w = linear_svm(&[&a], &[&b, &b, &b], 2, 1.0);
        assert!(score(&w, &a) > score(&w, &b), "{w:?}");
    }
}
