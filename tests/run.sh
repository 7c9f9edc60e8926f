#!/usr/bin/env bash
# The full svtpm test suite (README's test command runs this through `make check`).
#
# Convention: every test is an executable (a cmocka binary or a script) that
# exits 0 when it passes, 77 when it cannot run here (a skip, with the reason
# printed), anything else when it fails. This runner counts them and ends with
# the line CI reads: "N passed, N failed, N skipped".
#
# Environment:
#   BUILD        build directory with the binaries under test (default: build)
#   SUITES       space-separated subset of: unit proto fuzz e2e vm san
#   VTPM_BIN     the swtpm-compatible binary the e2e/vm tests drive
#                (default: $BUILD/swtpm, i.e. svtpm invoked under the name swtpm)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export BUILD=${BUILD:-build}
export SVTPM_TOP=$top
export VTPM_BIN=${VTPM_BIN:-$top/$BUILD/swtpm}
SUITES=${SUITES:-unit proto fuzz e2e vm san}
LOGDIR=${LOGDIR:-$top/$BUILD/test-logs}
mkdir -p "$LOGDIR"

pass=0 fail=0 skip=0
failed_names=()

run_one() {   # run_one NAME CMD...
  local name=$1; shift
  local log="$LOGDIR/${name//\//_}.log" t0 t1 rc
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  case $rc in
    0)  pass=$((pass+1)); echo "PASS  $name (${secs}s)";;
    77) skip=$((skip+1)); echo "SKIP  $name: $(tail -n 1 "$log")";;
    *)  fail=$((fail+1)); failed_names+=("$name"); echo "FAIL  $name (rc=$rc, ${secs}s) — last lines of $log:"
        tail -n 25 "$log" | sed 's/^/      /';;
  esac
}

for suite in $SUITES; do
  case $suite in
    unit|proto)
      for t in "$BUILD"/tests/"$suite"/*; do
        [ -x "$t" ] || continue
        run_one "$suite/$(basename "$t")" "$t"
      done;;
    fuzz)
      for t in "$BUILD"/tests/fuzz/*; do
        [ -x "$t" ] || continue
        name=$(basename "$t"); corpus=tests/fuzz/corpus/${name#fuzz_}
        run_one "fuzz/$name" "$t" -runs=0 "$corpus"
      done;;
    e2e|vm)
      # (through bash: a script that lost its executable bit still runs)
      for t in tests/"$suite"/test_*.sh; do
        run_one "$suite/$(basename "$t" .sh)" bash "$t"
      done;;
    san)
      # The same unit, protocol and end-to-end tests against an ASan/UBSan build.
      # The sanitizer runtime needs syscalls outside the enclave's allowlist, so
      # the filter is off here (and only here); the normal build runs with it.
      export SVTPM_ENCLAVE_SECCOMP=off
      run_one "san/build" make -s BUILD=build-san SAN=1 all tests
      if [ -x build-san/svtpm ]; then
        for t in build-san/tests/unit/* build-san/tests/proto/*; do
          [ -x "$t" ] || continue
          run_one "san/$(basename "$(dirname "$t")")/$(basename "$t")" env BUILD=build-san "$t"
        done
        for t in tests/e2e/test_*.sh; do
          run_one "san/e2e/$(basename "$t" .sh)" env BUILD=build-san VTPM_BIN="$top/build-san/swtpm" bash "$t"
        done
      fi;;
    *) echo "unknown suite $suite"; fail=$((fail+1));;
  esac
done

echo
[ "${#failed_names[@]}" -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
