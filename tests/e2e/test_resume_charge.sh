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
# `--resume budget` (with a time authority): the first such resume in a
# recoveryTime of the TPM clock is free, the others are charged.
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

# --- budget: one free resume per recoveryTime of the TPM clock -------------------------
# (a time authority pinned: the TPM clock then cannot be rushed, by moving the
# host's time or by restarting the vTPM, to refill the budget early)
start_authority
run_ok "bind (budget)" "$TENANT" bind --key t.key --vtpm-id "$(st_new_uuid)" --image img \
  --enclave-sigstruct "$SIG" --policy strict --resume budget --time-authority ta.pub --out m.budget
B=(--binding manifest=m.budget --vm-image img --time-authority "tcp=127.0.0.1:$TA_PORT")
VTPM_STATE=$WORK/b
vtpm_start "${B[@]}"
setup_key
wrong_pin
lockout_counter; assert_eq 1 "$LC" "failedTries after one wrong PIN"
resume_from_file "${B[@]}"
lockout_counter; assert_eq 1 "$LC" "failedTries after the first resume (free)"
[ "$(grep -c "free, the budget's one per recoveryTime" "$VTPM_LOG")" = 1 ] || fail "the log does not report one free resume"
resume_from_blobs "${B[@]}"
lockout_counter; assert_eq 2 "$LC" "failedTries after a second resume within recoveryTime (charged)"
grep -q "this recoveryTime's free resume is spent" "$VTPM_LOG" || fail "the log does not report the charge"
# a short recoveryTime, then that much authenticated time with the vTPM running
run_ok "recoveryTime 12 s" tpm2_dictionarylockout -s -n 3 -t 12 -l 3600
sleep 13
wrong_pin
lockout_counter; before=$LC
resume_from_file "${B[@]}"
lockout_counter
[ "$LC" -le "$before" ] || fail "failedTries $before -> $LC: a resume a recoveryTime later was charged"
[ "$(grep -c "free, the budget's one per recoveryTime" "$VTPM_LOG")" = 2 ] || fail "the log does not report the second free resume"
note "resume budget: first resume free, second charged (failedTries 2), a recoveryTime later (12 s) free again"

vtpm_stop || fail stop

# --- resumes under a time authority never forgive failed tries ------------------------
# (a regression: libtpms' time could wrap across a resume when the enclave
# clock of the new process started below the old one's readings, and then
# every failed try was forgiven; 1 resume in 6-8 did it)
run_ok "bind (free, time authority)" "$TENANT" bind --key t.key --vtpm-id "$(st_new_uuid)" --image img \
  --enclave-sigstruct "$SIG" --policy strict --time-authority ta.pub --resume free --out m.fta
F=(--binding manifest=m.fta --vm-image img --time-authority "tcp=127.0.0.1:$TA_PORT")
VTPM_STATE=$WORK/fta
vtpm_start "${F[@]}"
setup_key
wrong_pin
for i in 1 2 3 4 5 6 7 8; do
  if [ $((i % 2)) = 1 ]; then resume_from_blobs "${F[@]}"; else resume_from_file "${F[@]}"; fi
  lockout_counter; assert_eq 1 "$LC" "failedTries after resume $i under a time authority"
done
note "8 resumes under a time authority: failedTries stays 1"
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
