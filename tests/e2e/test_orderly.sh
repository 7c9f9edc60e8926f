#!/usr/bin/env bash
# Power-off hygiene (swtpm 0.8+ behaviour, which 0.7.1 lacks):
#  - stopping the vTPM after a DA-protected authorisation, without the guest
#    having sent TPM2_Shutdown, must not cost a dictionary-attack failed try
#    (svtpm sends an orderly TPM2_Shutdown itself before power goes away);
#  - an S3 cycle — the guest's TPM2_Shutdown(STATE), then CMD_INIT, then
#    TPM2_Startup(STATE) — must resume with the PCRs kept (no second,
#    automatic shutdown may spoil the guest's).
source "$(dirname "$0")/lib.sh"
case $("$VTPM_BIN" --version 2>&1) in *svtpm*) ;; *) skip "$VTPM_BIN is not svtpm (swtpm 0.7.1 has no auto-shutdown)";; esac

lockout_counter() {
  run_ok "getcap" tpm2_getcap properties-variable
  awk '/TPM2_PT_LOCKOUT_COUNTER:/{print $2}' "$E2E_OUT"
}

vtpm_start
run_ok "primary" tpm2_createprimary -C o -c "$WORK/p.ctx"
printf 'secret' >"$WORK/s.in"
run_ok "sealed object with a password (DA-protected)" \
  tpm2_create -C "$WORK/p.ctx" -p pw -i "$WORK/s.in" -u "$WORK/s.pub" -r "$WORK/s.priv"
for cycle in 1 2 3 4; do
  run_ok "load" tpm2_load -C "$WORK/p.ctx" -u "$WORK/s.pub" -r "$WORK/s.priv" -c "$WORK/s.ctx"
  run_ok "unseal with the right password (uses DA)" tpm2_unseal -c "$WORK/s.ctx" -p pw
  # stop as libvirt/QEMU do, without a TPM2_Shutdown from the client
  vtpm_stop || fail "stop failed"
  vtpm_start
done
assert_eq 0 "$(( $(lockout_counter) ))" "failedTries after 4 stops without the guest's TPM2_Shutdown"

note "with --flags disable-auto-shutdown the same stops do cost failed tries"
vtpm_stop || fail "stop failed"
vtpm_start --flags disable-auto-shutdown
for cycle in 1 2; do
  # a non-orderly restart is a TPM Reset: saved contexts die; the owner
  # primary is deterministic, so it is simply created again
  run_ok "primary" tpm2_createprimary -C o -c "$WORK/p.ctx"
  run_ok "load" tpm2_load -C "$WORK/p.ctx" -u "$WORK/s.pub" -r "$WORK/s.priv" -c "$WORK/s.ctx"
  run_ok "unseal (uses DA)" tpm2_unseal -c "$WORK/s.ctx" -p pw
  vtpm_stop || fail "stop failed"
  vtpm_start --flags disable-auto-shutdown
done
tries=$(( $(lockout_counter) ))
[ "$tries" -ge 1 ] || fail "disable-auto-shutdown not honoured: failedTries still $tries"
note "failedTries with auto-shutdown disabled: $tries"
run_ok "reset the DA counter" tpm2_dictionarylockout --clear-lockout
vtpm_stop || fail "stop failed"
vtpm_start

note "S3: guest Shutdown(STATE), CMD_INIT, Startup(STATE) keeps the PCRs"
run_ok "extend PCR 10" tpm2_pcrextend "10:sha256=$(printf 's3' | sha256sum | cut -d' ' -f1)"
pcr_value sha256 10; before=$PCR_HEX
run_ok "guest's TPM2_Shutdown(STATE)" tpm2_shutdown
run_ok "CMD_INIT (the reset QEMU does on resume)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" -i
run_ok "TPM2_Startup(STATE)" tpm2_startup
pcr_value sha256 10
assert_eq "$before" "$PCR_HEX" "PCR 10 after resume"
vtpm_stop || fail "stop failed"
note "PASS"
