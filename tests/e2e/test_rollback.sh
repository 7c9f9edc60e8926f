#!/usr/bin/env bash
# End-to-end: rollback protection (issue 4), the SvTPM paper's attack.
#
# A bound vTPM (policy strict) holds a DA-protected HMAC key with a PIN
# (maxTries 3). The host snapshots the state directory, fails the PIN until
# TPM_RC_LOCKOUT, copies the snapshot back and restarts: svtpm refuses
# (attack=rollback, non-rollback store outside the state directory), leaves
# every file untouched, and with the real state put back the key is still
# locked out with failedTries 3. A vTPM with policy snapshot refuses the old
# state without the tenant's restore authorisation, accepts it with one, and
# the authorisation is spent by the first write (replaying it is refused).
# The same restore against Debian's swtpm unlocks the key: the attack works
# there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
. "$(dirname "$0")/lib_da.sh"
st_require_svtpm
e2e_require tpm2_dictionarylockout tpm2_hmac tpm2_getcap tpm2_evictcontrol
bound_setup

# expect_refused LABEL ATTACK ARGS... : start on $VTPM_STATE must fail, naming ATTACK, files untouched
expect_refused() {
  local label=$1 attack=$2; shift 2
  local before after n0 rc
  before=$(for f in "$VTPM_STATE"/* "$SVTPM_COUNTERS"/*; do st_fingerprint "$f"; done)
  n0=$(wc -l <"$AUDIT")
  rm -f r.sock r.ctrl
  timeout 20 setsid "$ST_SVTPM" socket --tpm2 --tpmstate "dir=$VTPM_STATE" \
    --server "type=unixio,path=$WORK/r.sock" --ctrl "type=unixio,path=$WORK/r.ctrl" \
    --flags not-need-init,startup-clear --audit "file=$AUDIT" "$@" </dev/null >r.out 2>&1
  rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] || fail "$label: exit status $rc: $(tail -n 3 r.out)"
  grep -q "attack=$attack" r.out || fail "$label: no error naming attack=$attack: $(grep -v TEE r.out | head -n 3)"
  [ "$(wc -l <"$AUDIT")" -eq $((n0 + 1)) ] && tail -n 1 "$AUDIT" | grep -q "\"attack\":\"$attack\"" ||
    fail "$label: no audit record $attack"
  after=$(for f in "$VTPM_STATE"/* "$SVTPM_COUNTERS"/*; do st_fingerprint "$f"; done)
  [ "$before" = "$after" ] || fail "$label: a file changed"
  note "refused: $label ($(grep -o "attack=$attack.*" r.out | head -n 1 | cut -c1-120))"
}

# --- strict: the paper's attack ----------------------------------------------------
U=$(st_new_uuid)
run_ok "bind (strict)" "$TENANT" bind --key t.key --vtpm-id "$U" --image img --enclave-sigstruct "$SIG" \
  --policy strict --out m.strict
B=(--binding manifest=m.strict --vm-image img --audit "file=$AUDIT")
VTPM_STATE=$WORK/st
: >"$AUDIT"
vtpm_start "${B[@]}"
setup_key
vtpm_stop || fail stop
cp -a st snap                                  # the host's snapshot, before any failure
vtpm_start "${B[@]}"
fail_until_lockout
vtpm_stop || fail stop
cp -a st real
rm -rf st; cp -a snap st                       # roll the state back
expect_refused "state from before the failures (strict)" rollback "${B[@]}"
rm -rf st; cp -a real st
vtpm_start "${B[@]}"
lockout_counter; assert_eq 3 "$LC" "failedTries after the refused rollback"
run_fails "right PIN still locked out" tpm2_hmac -c "$KEY" -p right data.bin
vtpm_stop || fail stop
note "deleting the state is refused too (it would be a fresh TPM with fresh DA state)"
rm -rf st; mkdir st
expect_refused "state deleted" state-deleted "${B[@]}"
rm -rf st; cp -a real st

# --- snapshot: a restore needs the tenant's authorisation, once ----------------------
snapshot_vtpm "$WORK/sn"
vtpm_stop || fail stop
cp -a sn snsnap
vtpm_start "${S[@]}"
printf 'BBBBBBBB' >b.bin; run_ok "nvwrite B" tpm2_nvwrite 0x01500040 -C o -i b.bin
fail_until_lockout
clock_ms; CLOCK_BEFORE=$CLK
vtpm_stop || fail stop
rm -rf sn; cp -a snsnap sn
expect_refused "snapshot restore without authorisation" rollback "${S[@]}"
FROM=$(grep -o 'older than the recorded version [0-9]*' r.out | awk '{ print $NF }')
st_slots sn/"$ST_PERMALL"; TO=${ST_SEQ[ST_CUR]}
note "the snapshot holds state version $TO, the vTPM is at $FROM"
run_ok "authorize-restore" "$TENANT" authorize-restore --key t.key --vtpm-id "$U2" --from "$FROM" --to "$TO" --out ra
run_ok "keygen (another tenant)" "$TENANT" keygen --out o.key
run_ok "authorize-restore (another tenant)" "$TENANT" authorize-restore --key o.key --vtpm-id "$U2" \
  --from "$FROM" --to "$TO" --out ra.other
expect_refused "restore authorised by another key" restore-auth-invalid "${S[@]}" --restore-auth file=ra.other
vtpm_start "${S[@]}" --restore-auth file=ra
after_restore
vtpm_stop || fail stop
grep -q '"attack":"restore-authorised"' "$AUDIT" || fail "no audit record of the authorised restore"
rm -rf sn; cp -a snsnap sn
expect_refused "the same authorisation replayed" rollback "${S[@]}" --restore-auth file=ra

# --- the same restore against swtpm -----------------------------------------------------
if [ -x /usr/bin/swtpm ]; then
  SAVE_BIN=$VTPM_BIN VTPM_BIN=/usr/bin/swtpm VTPM_STATE=$WORK/sw
  vtpm_start; setup_key; vtpm_stop || fail stop
  cp -a sw swsnap
  vtpm_start; fail_until_lockout; vtpm_stop || fail stop
  rm -rf sw; cp -a swsnap sw
  vtpm_start
  lockout_counter
  [ "$LC" -lt 3 ] || fail "swtpm: failedTries $LC after copying the snapshot back (expected < 3)"
  run_ok "swtpm: right PIN works again after the rollback" tpm2_hmac -c "$KEY" -p right data.bin
  note "swtpm: the rolled-back state is accepted, failedTries back to $LC, the key unlocked (unlimited guesses)"
  vtpm_stop || true
  VTPM_BIN=$SAVE_BIN
fi
