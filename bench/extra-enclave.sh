#!/usr/bin/env bash
# svtpm-only rows: the bare ECALL round trip and the in-enclave open time of a
# copy of the running svtpm instance's sealed state.
set -euo pipefail
copy="$BENCH_TMP/enclave-bench-state"
rm -rf "$copy"; mkdir -p "$copy"
cp "$SVTPM_BENCH_STATE"/svtpm.* "$copy"/
pin=()
[ -n "${BENCH_CPU_SERVER:-}" ] && pin=(taskset -c "$BENCH_CPU_SERVER")
SVTPM_ENCLAVE="$(dirname "$SVTPM_BIN")/svtpm-enclave" "${pin[@]}" "$BUILD/bench/svtpm-enclave-bench" "$copy"
