#!/usr/bin/env bash
# End-to-end: rollback protection (issue 4) through the migration path.
#
# `virsh restore`, snapshot reverts and incoming migration hand the TPM its
# state as CMD_SET_STATEBLOB blobs, not files, so the counter store must
# judge blobs too. A bound vTPM (policy strict) holds a DA-protected key; the
# host takes the state blobs (swtpm_ioctl --save), fails the PIN until
# TPM_RC_LOCKOUT, stops the TPM and loads the old blobs: the permanent blob
# is refused (attack=rollback) and the TPM, initialised again, is still locked
# out with failedTries 3. The current state's blobs are accepted (a migration
# to the same state). Under policy snapshot the old blob is refused without
# the tenant's authorisation and accepted with it. Against Debian's swtpm the
# same blob restore unlocks the key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
. "$(dirname "$0")/lib_da.sh"
st_require_svtpm
e2e_require tpm2_dictionarylockout tpm2_hmac tpm2_getcap tpm2_evictcontrol swtpm_ioctl xxd
bound_setup

save_blobs() {   # save_blobs PREFIX : the TPM's permanent and volatile blobs
  run_ok "save permanent blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --save permanent "$1.perm"
  run_ok "save volatile blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --save volatile "$1.vol"
}
blob_version() { echo $((16#$(xxd -s 16 -l 8 -p "$1"))); }   # the sealed header's u64 seq
audits() { wc -l <"$AUDIT"; }

# --- strict -------------------------------------------------------------------------
U=$(st_new_uuid)
run_ok "bind (strict)" "$TENANT" bind --key t.key --vtpm-id "$U" --image img --enclave-sigstruct "$SIG" \
  --policy strict --out m.strict
VTPM_STATE=$WORK/st
vtpm_start --binding manifest=m.strict --vm-image img --audit "file=$AUDIT"
setup_key
save_blobs old
fail_until_lockout
run_ok "stop the TPM" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --stop
n0=$(audits)
run_fails "load the permanent blob from before the failures (strict)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load permanent old.perm
[ "$(audits)" -eq $((n0 + 1)) ] && tail -n 1 "$AUDIT" | grep -q '"attack":"rollback"' ||
  fail "no audit record attack=rollback for the old blob: $(tail -n 1 "$AUDIT")"
grep -q "incoming migration blob holds state version" "$VTPM_LOG" || fail "the log does not name the blob"
note "refused: $(grep -o 'incoming migration blob holds.*' "$VTPM_LOG" | tail -n 1 | cut -c1-110)"
run_ok "init with the real state" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" -i
run_ok "startup (the volatile state went with the blob)" tpm2_startup -c
lockout_counter; assert_eq 3 "$LC" "failedTries after the refused blob restore"
run_fails "right PIN still locked out" tpm2_hmac -c "$KEY" -p right data.bin
# the current state's blobs: a migration (or a save/restore) with nothing lost
save_blobs cur
run_ok "stop the TPM" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --stop
run_ok "load the current permanent blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load permanent cur.perm
run_ok "load the current volatile blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load volatile cur.vol
run_ok "init (resume)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" -i
lockout_counter; assert_eq 3 "$LC" "failedTries after a restore of the current state"
vtpm_stop || fail stop

# --- snapshot -----------------------------------------------------------------------
# As QEMU drives an incoming migration or a restore: the vTPM is started
# without TPM2_Startup (E2E_FLAGS), the blobs arrive while it is stopped, and
# nothing writes the state in between, so the version the refusal names is
# the one the authorisation must name.
snapshot_vtpm "$WORK/sn"
save_blobs snap
printf 'BBBBBBBB' >b.bin; run_ok "nvwrite B" tpm2_nvwrite 0x01500040 -C o -i b.bin
fail_until_lockout
clock_ms; CLOCK_BEFORE=$CLK
vtpm_stop || fail stop
E2E_FLAGS=not-need-init
vtpm_start "${S[@]}"
run_ok "stop the TPM" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --stop
run_fails "load the snapshot's blob without authorisation" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load permanent snap.perm
tail -n 1 "$AUDIT" | grep -q '"attack":"rollback"' || fail "no audit record for the unauthorised blob restore"
FROM=$(grep -o 'older than the recorded version [0-9]*' "$VTPM_LOG" | tail -n 1 | awk '{ print $NF }')
TO=$(blob_version snap.perm)
note "the snapshot blob holds state version $TO, the vTPM is at $FROM"
vtpm_stop || fail stop
run_ok "authorize-restore" "$TENANT" authorize-restore --key t.key --vtpm-id "$U2" --from "$FROM" --to "$TO" --out ra
vtpm_start "${S[@]}" --restore-auth file=ra
run_ok "stop the TPM" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --stop
run_ok "load the snapshot's permanent blob (authorised)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load permanent snap.perm
run_ok "load the snapshot's volatile blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load volatile snap.vol
run_ok "init (resume)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" -i
after_restore
grep -q '"attack":"restore-authorised"' "$AUDIT" || fail "no audit record of the authorised restore"
run_ok "stop the TPM" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --stop
run_fails "the same snapshot blob again (authorisation spent)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load permanent snap.perm
vtpm_stop || fail stop
unset E2E_FLAGS

# --- the same blob restore against swtpm ---------------------------------------------
if [ -x /usr/bin/swtpm ]; then
  SAVE_BIN=$VTPM_BIN VTPM_BIN=/usr/bin/swtpm VTPM_STATE=$WORK/sw
  vtpm_start
  setup_key
  save_blobs sw
  fail_until_lockout
  run_ok "swtpm: stop" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --stop
  run_ok "swtpm: load the old permanent blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load permanent sw.perm
  run_ok "swtpm: load the old volatile blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --load volatile sw.vol
  run_ok "swtpm: init (resume)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" -i
  lockout_counter
  [ "$LC" -lt 3 ] || fail "swtpm: failedTries $LC after the old blobs (expected < 3)"
  run_ok "swtpm: right PIN works again after the blob restore" tpm2_hmac -c "$KEY" -p right data.bin
  note "swtpm: the old blobs are accepted, failedTries back to $LC, the key unlocked"
  vtpm_stop || true
  VTPM_BIN=$SAVE_BIN
fi
