#!/usr/bin/env bash
# Regenerates the fuzz seed corpora in tests/fuzz/corpus/ (run from anywhere):
#   bash tests/fuzz/gen/gen-corpus.sh            # all corpora, keeping the
#                                                # committed swtpm state files
#   bash tests/fuzz/gen/gen-corpus.sh --swtpm    # also re-run Debian's swtpm
#   bash tests/fuzz/gen/gen-corpus.sh --tpmstate # also remake the libtpms
#                                                # vectors (after a libtpms upgrade)
# Sealed records carry random IVs, so a rerun changes the bytes (not the
# meaning) of the sealed and ecall seeds. Inputs that fuzzing found and
# tests/fuzz/gen/fuzz-merge.sh added (found-*) are kept; only the named seeds
# are rewritten. Also writes tests/fuzz/fuzz_known_states.h (from the swtpm
# files) and the known crash inputs in tests/fuzz/crashes/.
# --tpmstate rewrites tests/unit/data/tpmstate_*.permall with gen_tpmstate
# (random TPM seeds: new bytes, same layout; it exits non-zero, writing
# nothing, if libtpms no longer gives the expected DA values). Either way the
# corpus/tpmstate/real_* seeds are copies of those vectors.
set -eu
swtpm=0 tpmstate=0
for arg in "$@"; do
  case $arg in
    --swtpm) swtpm=1 ;;
    --tpmstate) tpmstate=1 ;;
    *) echo "usage: gen-corpus.sh [--swtpm] [--tpmstate]" >&2; exit 2 ;;
  esac
done
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
gen=tests/fuzz/gen
corpus=tests/fuzz/corpus
sw=$gen/swtpm-0.7.1
if [ $swtpm = 1 ] || [ ! -f "$sw/plain/tpm2-00.permall" ]; then
  rm -rf "$sw"
  bash $gen/gen_swtpm.sh "$sw"
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
src=(src/common/*.c)
for f in src/enclave/*.c; do [ "$f" = src/enclave/main.c ] || src+=("$f"); done
cc -std=c11 -D_GNU_SOURCE -O1 -g -Isrc/common -Isrc/enclave -o "$bin/gen_seeds" $gen/gen_seeds.c \
  "${src[@]}" -ltpms -lcrypto
if [ $tpmstate = 1 ] || [ ! -f tests/unit/data/tpmstate_fresh.permall ]; then
  cc -std=c11 -D_GNU_SOURCE -O1 -g -Isrc/common -Isrc/enclave -o "$bin/gen_tpmstate" $gen/gen_tpmstate.c \
    "${src[@]}" -ltpms -lcrypto
  "$bin/gen_tpmstate" tests/unit/data
fi
for v in tests/unit/data/tpmstate_*.permall; do
  name=${v##*/tpmstate_}
  cp "$v" "$corpus/tpmstate/real_${name%.permall}"
done
python3 $gen/gen_ctrl.py $corpus/ctrl
python3 $gen/gen_optval.py $corpus/optval
python3 $gen/gen_tpmcmd.py $corpus/tpmcmd
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
