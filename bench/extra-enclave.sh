#!/usr/bin/env bash
# svtpm-only rows: the bare ECALL round trip and the in-enclave open time of a
# copy of the running svtpm instance's sealed state.
set -euo pipefail
if [ "${BENCH_BOUND:-0}" = 1 ]; then
  echo "extra-enclave: skipped under BENCH_BOUND (its bench opens the state unbound)"; exit 0
fi
copy="$BENCH_TMP/enclave-bench-state"
rm -rf "$copy"; mkdir -p "$copy"
cp "$SVTPM_BENCH_STATE"/svtpm.* "$copy"/
pin=()
[ -n "${BENCH_CPU_SERVER:-}" ] && pin=(taskset -c "$BENCH_CPU_SERVER")
SVTPM_ENCLAVE="$(dirname "$SVTPM_BIN")/svtpm-enclave" "${pin[@]}" "$BUILD/bench/svtpm-enclave-bench" "$copy"
