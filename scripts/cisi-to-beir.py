#!/usr/bin/env python3
"""Converts the CISI collection (SMART format) to BEIR files for `paperboy eval`.

  cisi-to-beir.py [SRC_DIR] [OUT_DIR]     (defaults: ../shared/data/ir/cisi, target/eval/cisi)

Writes OUT_DIR/corpus.jsonl ({"_id","title","text"}; authors are left out, as BEIR does),
OUT_DIR/queries.jsonl ({"_id","text"}) and OUT_DIR/qrels/test.tsv (every CISI.REL pair is
relevant, score 1). CISI.REL's third column is 0 for every row: it is not a grade.
"""
import json, pathlib, re, sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ir/cisi")
out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "target/eval/cisi")
if not src.exists():
    sys.exit(f"{src} is missing: the CISI collection lives in the shared data folder")

def records(path):
    """Yields {field: text} for each `.I n` record; fields are the SMART letters."""
    rec, field = None, None
    for line in path.read_text(encoding="latin-1").splitlines():
        m = re.match(r"^\.([A-Z])(?:\s+(\d+))?\s*$", line)
        if m:
            if m.group(1) == "I":
                if rec:
                    yield rec
                rec, field = {"I": m.group(2)}, None
            else:
                field = m.group(1)
                rec.setdefault(field, "")
            continue
        if rec is not None and field:
            rec[field] += line.strip() + " "
    if rec:
        yield rec

(out / "qrels").mkdir(parents=True, exist_ok=True)
docs = list(records(src / "CISI.ALL"))
with open(out / "corpus.jsonl", "w") as f:
    for d in docs:
        f.write(json.dumps({"_id": d["I"], "title": d.get("T", "").strip(), "text": d.get("W", "").strip()}) + "\n")
queries = list(records(src / "CISI.QRY"))
with open(out / "queries.jsonl", "w") as f:
    for q in queries:
        text = " ".join(q.get(k, "").strip() for k in ("T", "W") if q.get(k))
        f.write(json.dumps({"_id": q["I"], "text": text}) + "\n")
pairs = set()
for line in (src / "CISI.REL").read_text().splitlines():
    parts = line.split()
    if len(parts) >= 2:
        pairs.add((parts[0], parts[1]))
with open(out / "qrels" / "test.tsv", "w") as f:
    f.write("query-id\tcorpus-id\tscore\n")
    for q, d in sorted(pairs, key=lambda p: (int(p[0]), int(p[1]))):
        f.write(f"{q}\t{d}\t1\n")
print(f"{len(docs)} documents, {len(queries)} queries, {len(pairs)} judgments -> {out}")
