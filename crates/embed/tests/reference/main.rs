//! The shipped f16 weights, run by the fused encoder, reproduce the reference vectors that
//! sentence-transformers computed for every text in the reference file (cosine >= 0.9999).

use paperboy_embed::{Embedder, Embedding, MiniLm};

#[derive(serde::Deserialize)]
struct Reference {
    text: String,
    embedding: Vec<f32>,
}

#[test]
fn agrees_with_sentence_transformers_on_every_reference_text() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/embeddings/all-MiniLM-L6-v2.reference.jsonl");
    let refs: Vec<Reference> =
        std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(refs.len(), 494);
    let model = MiniLm::load().unwrap();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let got = model.embed(&texts).unwrap();
    let mut worst = (1.0f32, String::new());
    for (r, v) in refs.iter().zip(&got) {
        assert_eq!(v.as_slice().len(), 384);
        let cos = v.cosine(&Embedding::normalized(r.embedding.clone()));
        if cos < worst.0 {
            worst = (cos, r.text.chars().take(60).collect());
        }
    }
    eprintln!("lowest cosine {} for {:?}", worst.0, worst.1);
    assert!(worst.0 >= 0.9999, "lowest cosine {} for {:?}", worst.0, worst.1);
    // The same text alone or in a batch gives the same vector (padding must not leak in).
    let alone = model.embed(&[texts[300]]).unwrap();
    assert!(alone[0].cosine(&got[300]) > 0.99999);
}
