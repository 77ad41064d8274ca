#!/usr/bin/env bash
# Writes spoken versions of judged queries for `tessera train-click-model --voice-dir DIR`:
# DIR/<query id>.wav, made with espeak-ng (voice en-us, 140 words per minute, 22.05 kHz mono).
#
# Usage: scripts/speak-judged-queries.sh JUDGMENTS.jsonl OUT_DIR [EVERY]
#   JUDGMENTS.jsonl  judged queries, e.g. from `tessera eval --write-judgments FILE`
#   OUT_DIR          created when missing
#   EVERY            speak every EVERY-th English query (default 4), so the rest stay typed.
# Queries with non-ASCII text (the Chinese variants) are skipped, because the en-us voice
# cannot read them.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 JUDGMENTS.jsonl OUT_DIR [EVERY]" >&2
  exit 2
fi
judgments="$1"
out_dir="$2"
every="${3:-4}"
command -v espeak-ng > /dev/null || { echo "espeak-ng is missing: apt-get install espeak-ng" >&2; exit 1; }
command -v jq > /dev/null || { echo "jq is missing: apt-get install jq" >&2; exit 1; }
mkdir -p "$out_dir"

count=0
spoken=0
while IFS=$'\t' read -r id text; do
  if LC_ALL=C grep -q '[^ -~]' <<< "$text"; then continue; fi
  count=$((count + 1))
  if [ $((count % every)) -ne 1 ] && [ "$every" -ne 1 ]; then continue; fi
  espeak-ng -v en-us -s 140 -w "$out_dir/$id.wav" "$text"
  spoken=$((spoken + 1))
done < <(jq -r '[.id, .text] | @tsv' "$judgments")
echo "$spoken spoken queries written to $out_dir" >&2
