#!/usr/bin/env bash
# Regenerates the fuzz seed corpora in tests/fuzz/corpus/ (run from anywhere):
#   bash tests/fuzz/gen/gen-corpus.sh            # all corpora, keeping the
#                                                # committed swtpm state files
#   bash tests/fuzz/gen/gen-corpus.sh --swtpm    # also re-run Debian's swtpm
# Sealed records carry random IVs, so a rerun changes the bytes (not the
# meaning) of the sealed and ecall seeds. Inputs that fuzzing found and
# tests/fuzz/gen/fuzz-merge.sh added (found-*) are kept; only the named seeds
# are rewritten. Also writes tests/fuzz/fuzz_known_states.h (from the swtpm
# files) and the known crash inputs in tests/fuzz/crashes/.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
gen=tests/fuzz/gen
corpus=tests/fuzz/corpus
sw=$gen/swtpm-0.7.1
if [ "${1:-}" = --swtpm ] || [ ! -f "$sw/plain/tpm2-00.permall" ]; then
  rm -rf "$sw"
  bash $gen/gen_swtpm.sh "$sw"
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cc -std=c11 -D_GNU_SOURCE -O1 -g -Isrc/common -Isrc/enclave -o "$bin/gen_seeds" $gen/gen_seeds.c \
  src/common/*.c $(ls src/enclave/*.c | grep -v '/main\.c$') -ltpms -lcrypto
python3 $gen/gen_ctrl.py $corpus/ctrl
python3 $gen/gen_optval.py $corpus/optval
python3 $gen/gen_swtpm_blob.py "$sw" $corpus/swtpm_blob
"$bin/gen_seeds" sealed $corpus/sealed
"$bin/gen_seeds" sigstruct $corpus/sigstruct
"$bin/gen_seeds" ecall $corpus/ecall "$sw"
"$bin/gen_seeds" known-states "$sw" > tests/fuzz/fuzz_known_states.h
"$bin/gen_seeds" crashes-ecall tests/fuzz/crashes/ecall "$sw"
"$bin/gen_seeds" crashes-sealed tests/fuzz/crashes/sealed
if [ -f build/svtpm-enclave.sig ]; then
  cp build/svtpm-enclave.sig $corpus/sigstruct/real_build_sig
fi
for d in $corpus/*/; do echo "$(ls "$d" | wc -l) files $(du -sb "$d" | cut -f1) bytes  $d"; done
