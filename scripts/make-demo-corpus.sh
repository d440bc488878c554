#!/usr/bin/env bash
# Builds the demo corpus in data/demo/ from ../shared/data (see data/demo/PROVENANCE.md):
# the last twelve months of Hugging Face daily papers (stripped of user data) and the seed listing.
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
ls -l data/demo
