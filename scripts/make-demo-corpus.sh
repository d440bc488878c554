#!/usr/bin/env bash
# Builds the demo corpus in data/demo/ from ../shared/data (see data/demo/PROVENANCE.md):
# the last twelve months of Hugging Face daily papers (stripped of user data), the seed listing,
# and a recorded three-page arXiv OAI-PMH harvest (2,265 papers with their arXiv categories).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED_DATA:-../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/strip-hf-daily.py "$tmp/days" "$shared/hf-daily-papers/Paper_metadata_download.all-558-days.tar.gz" \
  --since 2025-08-21 --no-ai-summary
# A reproducible tarball: sorted names, fixed times and owners, no gzip timestamp.
tar --sort=name --mtime=2026-08-21 --owner=0 --group=0 --numeric-owner -C "$tmp/days" -cf - . | gzip -9n > data/demo/hf-daily.tar.gz
cp "$shared/seed/papers-listing.txt" data/demo/papers-listing.txt
mkdir "$tmp/oai"
cp "$shared"/arxiv/oai-pmh/scix-oai_dc-2023-03-07/ListRecords_data_{0,1,2}.xml "$tmp/oai/"
tar --sort=name --mtime=2023-03-07 --owner=0 --group=0 --numeric-owner -C "$tmp/oai" -cf - . | gzip -9n > data/demo/oai-pmh.tar.gz
ls -l data/demo
