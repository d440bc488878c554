#!/usr/bin/env python3
"""Every fusion of a BM25 run and a semantic run tried for the search-quality issue, scored as
`paperboy eval search` scores (nDCG@10, Recall@100, MRR@10, trec_eval's definitions).

    paperboy eval search --corpus C --queries Q --qrels R --mode bm25 --run bm25.run
    paperboy eval search --corpus C --queries Q --qrels R --mode semantic --run semantic.run
    scripts/fusion-variants.py R bm25.run semantic.run [R2 bm25-2.run semantic-2.run …]

Each run holds each query's top 100 with its score (BM25, cosine). Prints one row per variant
with the figures for every dataset given, so the variant paperboy ships can be re-checked.
"""
import math
import sys
from collections import defaultdict


def read_qrels(path):
    qrels = defaultdict(dict)
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0] in ("query-id", "qid"):
                continue
            q, d, r = parts[0], parts[-2], int(parts[-1])
            if r > 0:
                qrels[q][d] = r
    return qrels


def read_run(path):
    run = defaultdict(list)
    with open(path) as f:
        for line in f:
            q, _, d, _, s, _ = line.split()
            run[q].append((d, float(s)))
    return run


def metrics(ranked, rels):
    dcg = sum((2 ** rels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rels.values(), reverse=True)[:10]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    recall = sum(1 for d in ranked[:100] if d in rels) / len(rels)
    mrr = next((1 / (i + 1) for i, d in enumerate(ranked[:10]) if d in rels), 0.0)
    return dcg / idcg if idcg else 0.0, recall, mrr


def evaluate(fused, qrels):
    total = [0.0, 0.0, 0.0]
    n = 0
    for q, rels in qrels.items():
        n += 1
        for i, v in enumerate(metrics(fused.get(q, []), rels)):
            total[i] += v
    return [t / n for t in total]


def rrf(k, w):
    def fuse(a, b):
        s = defaultdict(float)
        for i, (d, _) in enumerate(a):
            s[d] += w / (k + i + 1)
        for i, (d, _) in enumerate(b):
            s[d] += (1 - w) / (k + i + 1)
        return s

    return fuse


def minmax(xs):
    lo, hi = min(xs), max(xs)
    return [(x - lo) / (hi - lo) if hi > lo else 1.0 for x in xs]


def zscore(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs)) or 1.0
    return [(x - m) / sd for x in xs]


def convex(norm, alpha):
    """alpha × normalised BM25 + (1 − alpha) × normalised cosine; a paper missing from a side's
    top 100 gets that side's lowest normalised score."""

    def fuse(a, b):
        s = defaultdict(float)
        for side, w in ((a, alpha), (b, 1 - alpha)):
            if not side:
                continue
            ns = norm([x for _, x in side])
            floor = min(ns)
            for (d, _), x in zip(side, ns):
                s[d] += w * (x - floor)
        return s

    return fuse


def tmm(alpha):
    """Theoretical min-max (Bruch et al.): cosine as is (its minimum 0 for these models' top
    lists), BM25 divided by the query's best BM25 score."""

    def fuse(a, b):
        s = defaultdict(float)
        if a:
            top = a[0][1] or 1.0
            for d, x in a:
                s[d] += alpha * x / top
        for d, x in b:
            s[d] += (1 - alpha) * max(x, 0.0)
        return s

    return fuse


def variants():
    yield "bm25 alone", lambda a, b: {d: -i for i, (d, _) in enumerate(a)}
    yield "semantic alone", lambda a, b: {d: -i for i, (d, _) in enumerate(b)}
    for k in (10, 20, 30, 60, 100):
        yield f"RRF k={k}", rrf(k, 0.5)
    for k in (20, 60):
        for w in (0.3, 0.4, 0.6, 0.7):
            yield f"weighted RRF k={k}, bm25 weight {w}", rrf(k, w)
    for name, norm in (("min-max", minmax), ("z-score", zscore)):
        for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
            yield f"convex {name}, bm25 weight {alpha}", convex(norm, alpha)
    for alpha in (0.2, 0.3, 0.4, 0.5, 0.6):
        yield f"convex theoretical min-max, bm25 weight {alpha}", tmm(alpha)


def main(args):
    if len(args) % 3 or not args:
        sys.exit(__doc__)
    sets = []
    for i in range(0, len(args), 3):
        sets.append((read_qrels(args[i]), read_run(args[i + 1]), read_run(args[i + 2])))
    print("| variant | " + " | ".join(f"set {j + 1} nDCG@10 | R@100 | MRR@10" for j in range(len(sets))) + " |")
    print("| --- |" + " ---: | ---: | ---: |" * len(sets))
    for name, fuse in variants():
        cells = []
        for qrels, bm25, sem in sets:
            fused = {}
            for q in qrels:
                s = fuse(bm25.get(q, []), sem.get(q, []))
                fused[q] = [d for d, _ in sorted(s.items(), key=lambda kv: -kv[1])[:100]]
            cells += [f"{x:.4f}" for x in evaluate(fused, qrels)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
