#!/usr/bin/env python3
"""Writes tests/fixtures/tfidf/arxiv-sanity.reference.json: scikit-learn's TfidfVectorizer, set up
exactly as arxiv-sanity-lite's compute.py sets it up, fitted on the papers of
tests/fixtures/hf-daily/ (each read as compute.py reads a paper: title, abstract and the authors'
names joined by spaces) plus a few edge cases, at two document-frequency settings. paperboy's
`recommend::tfidf` must reproduce every feature, idf and row value (its test reads this file).

Run with scikit-learn installed: python3 scripts/tfidf-reference.py
"""
import glob
import json
import os

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

docs = []
for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/hf-daily/*.json"))):
    for item in json.load(open(path, encoding="utf-8")):
        p = item["paper"]
        author_str = " ".join(a["name"] for a in p.get("authors", []))
        docs.append(" ".join([p["title"], p["summary"], author_str]))
# Edge cases: accents, leading digits, non-Latin letters, underscores, stop words between terms.
docs += [
    "Naïve Bayes for 3D scenes in GPT-4 and l2 regularisation; José Müller, Zoë Ångström",
    "Detection of objects with the naive Bayes model: αβγ-networks, x_1 features, 2024 results",
    "NAIVE BAYES DETECTION OF OBJECTS by Jose Muller and Zoe Angstrom (3d, gpt4, l2_norm)",
    "Über naïve detection: objects of the past — José's model, Müller-Ångström networks",
]

fits = []
for min_df, max_df in [(2, 0.5), (5, 0.1)]:
    v = TfidfVectorizer(input="content",
                        encoding="utf-8", decode_error="replace", strip_accents="unicode",
                        lowercase=True, analyzer="word", stop_words="english",
                        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
                        ngram_range=(1, 2), max_features=20000,
                        norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
                        max_df=max_df, min_df=min_df)
    x = v.fit_transform(docs).tocsr()
    names = v.get_feature_names_out()
    idf = {str(t): float(i) for t, i in zip(names, v.idf_)}
    rows = []
    for r in range(x.shape[0]):
        start, end = x.indptr[r], x.indptr[r + 1]
        rows.append({str(names[j]): float(val) for j, val in zip(x.indices[start:end], x.data[start:end])})
    fits.append({"min_df": min_df, "max_df": max_df, "idf": idf, "rows": rows})

out = {
    "provenance": "scripts/tfidf-reference.py with scikit-learn " + sklearn.__version__
    + ": arxiv-sanity-lite's TfidfVectorizer settings (compute.py), max_features 20000, at the min_df/max_df of each fit",
    "documents": docs,
    "fits": fits,
}
with open(os.path.join(ROOT, "tests/fixtures/tfidf/arxiv-sanity.reference.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=0, sort_keys=True)
    f.write("\n")
print(len(docs), "documents;", ", ".join(f"{len(f['idf'])} features at min_df {f['min_df']}, max_df {f['max_df']}" for f in fits))
