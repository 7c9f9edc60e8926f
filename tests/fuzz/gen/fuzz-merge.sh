#!/usr/bin/env bash
# Fuzzes one target for a while and adds what it found to its committed
# corpus, keeping the corpus small:
#   bash tests/fuzz/gen/fuzz-merge.sh NAME [SECONDS=60] [MAXNEW=30] [-- libFuzzer flags]
# NAME is the target without fuzz_ (ctrl, sealed, ecall, swtpm_blob, sigstruct,
# optval); build first with `make fuzz`. The named seeds are all kept; of the
# inputs libFuzzer's merge finds to add coverage, the MAXNEW smallest are
# added (merge takes smaller inputs first, so they carry most of the gain).
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
name=$1; secs=${2:-60}; maxnew=${3:-30}
shift $(( $# < 3 ? $# : 3 )); [ "${1:-}" = -- ] && shift
bin=${BUILD:-build}/tests/fuzz/fuzz_$name
corpus=tests/fuzz/corpus/$name
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/run" "$work/merged" "$work/art"
cp "$corpus"/* "$work/run/"
"$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/art/" "$@" "$work/run" \
  2>&1 | grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|INFO: Seed|==[0-9]+==|SUMMARY)' || true
if ls "$work/art/"* >/dev/null 2>&1; then
  echo "fuzz-merge: $name found crashes, kept in $work/art (not merged):"; ls -l "$work/art"
  trap - EXIT; exit 1
fi
cp "$corpus"/* "$work/merged/"
"$bin" -merge=1 "$@" "$work/merged" "$work/run" >/dev/null 2>&1
new=$(cd "$work/merged" && for f in *; do [ -e "$top/$corpus/$f" ] || echo "$(stat -c %s "$f") $f"; done | sort -n | head -n "$maxnew" | cut -d' ' -f2)
n=0
for f in $new; do cp "$work/merged/$f" "$corpus/found-$f"; n=$((n+1)); done
echo "fuzz-merge: $name: $n new inputs added; $(ls "$corpus" | wc -l) files, $(du -sb "$corpus" | cut -f1) bytes"
"$bin" -runs=0 "$corpus" 2>&1 | grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' | tail -1
