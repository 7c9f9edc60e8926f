#!/usr/bin/env bash
# End-to-end: `svtpm-tenant bind --resume charge` (manifest flag
# MANIFEST_F_CHARGE_RESUME) closes the write oracle's resume path.
#
# The attack (docs/security.md, "Open: the write oracle"): the host sees the
# state write that a failed DA-protected authorisation causes, kills the vTPM
# before the response, and resumes it from a volatile state, which skips
# TPM2_Startup and with it libtpms' charge for a non-orderly stop. With the
# flag, every resume after a DA-protected use costs one failed try, committed
# before the TPM runs, so guessing by resuming is bounded by maxTries like
# any other. Both resume paths are tested: the volatilestate file
# (CMD_STORE_VOLATILE, kill -9, start) and state blobs (GET/SET_STATEBLOB).
# Without the flag (the default), and against Debian's swtpm, the same
# resume leaves failedTries where it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
. "$(dirname "$0")/lib_da.sh"
st_require_svtpm
e2e_require tpm2_dictionarylockout tpm2_hmac tpm2_getcap tpm2_evictcontrol swtpm_ioctl
bound_setup
bind() {   # bind OUT RESUME
  run_ok "bind ($2)" "$TENANT" bind --key t.key --vtpm-id "$(st_new_uuid)" --image img \
    --enclave-sigstruct "$SIG" --policy strict --resume "$2" --out "$1"
}
ctl() { swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" "$@"; }
wrong_pin() { run_fails "hmac with a wrong PIN" tpm2_hmac -c "$KEY" -p wrong data.bin; }
# resume_from_file ARGS... : STORE_VOLATILE, kill -9, start again (no
# TPM2_Startup: libtpms resumes from the volatilestate file)
resume_from_file() {
  ctl -v >/dev/null || fail "CMD_STORE_VOLATILE failed"
  vtpm_kill9
  E2E_FLAGS=not-need-init vtpm_start "$@"
}
# resume_from_blobs ARGS... : blobs out, kill -9, a new instance, blobs in, INIT
resume_from_blobs() {
  ctl --save permanent p.blob >/dev/null && ctl --save volatile v.blob >/dev/null || fail "save blobs"
  vtpm_kill9
  E2E_FLAGS=not-need-init vtpm_start "$@"
  ctl --stop >/dev/null && ctl --load permanent p.blob >/dev/null && ctl --load volatile v.blob >/dev/null &&
    ctl -i >/dev/null || fail "load blobs and resume"
}

# --- charge: each resume after a DA-protected use costs one failed try -----------
bind m.charge charge
C=(--binding manifest=m.charge --vm-image img --audit "file=$AUDIT")
VTPM_STATE=$WORK/c
vtpm_start "${C[@]}"
setup_key
wrong_pin
lockout_counter; assert_eq 1 "$LC" "failedTries after one wrong PIN"
resume_from_file "${C[@]}"
lockout_counter; assert_eq 2 "$LC" "failedTries after a resume from the volatilestate file"
grep -q "charged one failed try" "$VTPM_LOG" || fail "the log does not report the charge"
resume_from_blobs "${C[@]}"
lockout_counter; assert_eq 3 "$LC" "failedTries after a resume from state blobs"
run_fails "right PIN locked out after two resumes" tpm2_hmac -c "$KEY" -p right data.bin
note "resume charge: 1 wrong PIN + 2 resumes = failedTries 3 = maxTries: locked out"
vtpm_stop || fail stop

# --- an orderly stop before the resume costs nothing ------------------------------
bind m.orderly charge
VTPM_STATE=$WORK/o
vtpm_start --binding manifest=m.orderly --vm-image img
setup_key
wrong_pin
run_ok "TPM2_Shutdown(STATE)" tpm2_shutdown
resume_from_file --binding manifest=m.orderly --vm-image img
lockout_counter; assert_eq 1 "$LC" "failedTries after an orderly shutdown and a resume"
vtpm_stop || fail stop

# --- free (the default) and swtpm: the resume is free ------------------------------
bind m.free free
VTPM_STATE=$WORK/f
vtpm_start --binding manifest=m.free --vm-image img
setup_key
wrong_pin
resume_from_file --binding manifest=m.free --vm-image img
lockout_counter; assert_eq 1 "$LC" "failedTries after a resume, resume free"
vtpm_stop || fail stop
if [ -x /usr/bin/swtpm ]; then
  SAVE_BIN=$VTPM_BIN VTPM_BIN=/usr/bin/swtpm VTPM_STATE=$WORK/sw
  vtpm_start
  setup_key
  wrong_pin
  resume_from_file
  lockout_counter; assert_eq 1 "$LC" "swtpm: failedTries after a resume"
  note "free and swtpm: failedTries stays 1 across resumes (each resume is a free guess)"
  vtpm_stop || true
  VTPM_BIN=$SAVE_BIN
fi
