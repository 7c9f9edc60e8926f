#!/usr/bin/env bash
# End-to-end: test_crash.sh (kill -9 at random moments during a stream of
# acknowledged NV writes, many rounds) on a vTPM bound by a tenant manifest with
# policy strict, so every write also advances the host's counter store. After
# every crash the vTPM must start (never "rollback" for a write that was never
# acknowledged, never bricked) and hold the last acknowledged or the in-flight
# value.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
st_require_svtpm
TENANT=$(dirname "$VTPM_BIN")/svtpm-tenant
head -c 1000 /dev/urandom >"$WORK/img"
run_ok "keygen" "$TENANT" keygen --out "$WORK/t.key"
run_ok "bind" "$TENANT" bind --key "$WORK/t.key" --vtpm-id "$(st_new_uuid)" --image "$WORK/img" \
  --enclave-sigstruct "$(dirname "$VTPM_BIN")/svtpm-enclave.sig" --policy strict --out "$WORK/m"
# (the inner test has its own $WORK, its own counters: SVTPM_COUNTERS is re-set there)
E2E_START_ARGS="--binding manifest=$WORK/m --vm-image $WORK/img" CRASH_ROUNDS=${CRASH_ROUNDS:-20} \
  KEEP=0 bash "$(dirname "$0")/test_crash.sh" || fail "test_crash.sh on a bound vTPM failed"
