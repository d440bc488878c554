#!/usr/bin/env python3
"""Writes scripts/bench-fresh-queries.txt: distinct search queries nobody sent the server before,
for the fresh-query benchmark (crates/app/benches/fresh.rs). 450 claims from SciFact's dev split
(../shared/data/ir/scifact-dev/queries.jsonl, BEIR) and 150 titles of the demo corpus's Hugging
Face papers (data/demo/hf-daily.tar.gz), shuffled with a fixed seed, one per line."""
import json, random, sys, tarfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent
shared = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data"
claims = [json.loads(l)["text"].strip() for l in open(shared / "ir/scifact-dev/queries.jsonl", encoding="utf-8")]
titles = []
with tarfile.open(root / "data/demo/hf-daily.tar.gz") as tar:
    for m in sorted(tar.getmembers(), key=lambda m: m.name):
        if m.isfile():
            for entry in json.load(tar.extractfile(m)):
                titles.append(" ".join(entry["paper"]["title"].split()))
rng = random.Random(19)
picked = rng.sample(claims, 450) + rng.sample(sorted(set(titles)), 150)
rng.shuffle(picked)
seen, out = set(), []
for q in picked:
    if q and q.lower() not in seen:
        seen.add(q.lower())
        out.append(q)
(root / "scripts/bench-fresh-queries.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
print(len(out), "queries")
