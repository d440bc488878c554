#!/usr/bin/env python3
"""Strips Hugging Face daily-papers day files down to the fields paperboy reads.

Removes every user name, full name, avatar URL and organisation of submitters and authors'
HF accounts (a whitelist: anything not listed below is dropped), keeps dates and upvotes.

  strip-hf-daily.py OUT_DIR FILE.json|FILES.tar.gz [--since YYYY-MM-DD] [--no-ai-summary]

Writes OUT_DIR/YYYY-MM-DD.json (compact JSON) for every day file read.
"""
import json, pathlib, sys, tarfile

PAPER_KEYS = ["id", "publishedAt", "submittedOnDailyAt", "title", "summary", "upvotes", "ai_keywords",
              "ai_summary", "githubRepo", "githubStars", "projectPage"]
ENTRY_KEYS = ["publishedAt", "title", "numComments"]

def strip_entry(e, keep_summary):
    if not isinstance(e, dict) or not isinstance(e.get("paper"), dict):
        return e  # not a paper entry: kept as is so the parser's rejection stays testable
    p = e["paper"]
    out_p = {k: p[k] for k in PAPER_KEYS if k in p and (keep_summary or k != "ai_summary")}
    out_p["authors"] = [{"name": a.get("name"), "hidden": a.get("hidden", False)}
                        for a in p.get("authors", []) if isinstance(a, dict)]
    out = {k: e[k] for k in ENTRY_KEYS if k in e}
    out["paper"] = out_p
    return out

def main():
    out_dir = pathlib.Path(sys.argv[1]); src = pathlib.Path(sys.argv[2])
    since = sys.argv[sys.argv.index("--since") + 1] if "--since" in sys.argv else ""
    keep_summary = "--no-ai-summary" not in sys.argv
    out_dir.mkdir(parents=True, exist_ok=True)
    def files():
        if src.name.endswith(".tar.gz"):
            with tarfile.open(src) as t:
                for m in t.getmembers():
                    if m.isfile() and m.name.endswith(".json"):
                        yield pathlib.Path(m.name).name, t.extractfile(m).read()
        else:
            yield src.name, src.read_bytes()
    n = 0
    for name, data in files():
        if name[:10] < since:
            continue
        try:
            entries = json.loads(data)
        except ValueError:
            continue
        if not isinstance(entries, list):
            continue
        stripped = [strip_entry(e, keep_summary) for e in entries]
        (out_dir / name).write_text(json.dumps(stripped, ensure_ascii=False, separators=(",", ":")))
        n += 1
    print(f"{n} day files written to {out_dir}")

main()
