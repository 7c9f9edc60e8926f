#!/usr/bin/env bash
# What svtpm writes is what docs/formats.md says: an independent Python
# implementation of the sealed file and the soft platform's key derivation
# (tests/e2e/verify_sealed.py) authenticates the current record, finds the
# superseded one retired, and finds a libtpms permall inside — after a fresh
# start, after NV writes, and after a restart.
source "$(dirname "$0")/lib.sh"
case $("$VTPM_BIN" --version 2>&1) in *svtpm*) ;; *) skip "$VTPM_BIN is not svtpm";; esac
PY=
for p in /usr/bin/python3 python3; do
  "$p" -c 'import cryptography' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || skip "no python3 with the cryptography module (Debian: python3-cryptography)"

verify() {   # verify WHAT
  local mrsigner
  mrsigner=$(grep -o 'MRSIGNER [0-9a-f]*' "$VTPM_LOG" | tail -n 1 | cut -d' ' -f2)
  [ -n "$mrsigner" ] || fail "$1: MRSIGNER not in the log"
  "$PY" "$E2E_DIR/verify_sealed.py" "$VTPM_STATE/svtpm.permall" "$SVTPM_PLATFORM_KEY" "$mrsigner" \
    >"$WORK/verify.out" 2>&1 || { cat "$WORK/verify.out"; fail "$1: the file does not match docs/formats.md"; }
  sed "s/^/    /" "$WORK/verify.out"
}

vtpm_start --log "file=$VTPM_LOG,level=1"
run_ok "a command" tpm2_getrandom 8
verify "fresh"
run_ok "define NV" tpm2_nvdefine 0x1500040 -C o -s 8 -a "ownerread|ownerwrite"
for i in 1 2 3; do
  printf 'value-%02d' "$i" >"$WORK/nv.in"
  run_ok "write NV" tpm2_nvwrite 0x1500040 -C o -i "$WORK/nv.in"
done
verify "after NV writes"
vtpm_stop || fail "graceful stop failed"
vtpm_start --log "file=$VTPM_LOG,level=1"
run_ok "a command" tpm2_getrandom 8
verify "after a restart"
vtpm_stop || fail "graceful stop failed"
note "PASS"
