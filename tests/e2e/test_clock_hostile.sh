#!/usr/bin/env bash
# End-to-end: a hostile host time source (issue 5).
#
# libfaketime (Debian's faketime package), preloaded into the vTPM's
# processes, stands for a host that controls the time its kernel gives the
# enclave: 10x fast, then a jump of an hour forward, then an hour back. The
# time authority (svtpm-timeauth serve, not preloaded) signs real time.
#   - svtpm, bound with that authority pinned: a failed PIN with
#     recoveryTime 20 s is still counted after 12 s of 10x-fast time (120 s
#     on the host's clock), the TPM clock never runs more than 5 s ahead of
#     real elapsed time, the jump forward gains at most that, and the jump
#     back moves TPM2_ReadClock by nothing;
#   - Debian's swtpm under the same host: the failed PIN is forgiven within
#     those 12 s (its TPM clock runs 10x), which is the difference.
# libfaketime needs syscalls outside the enclave's allowlist, so the filter
# is off here (SVTPM_ENCLAVE_SECCOMP=off), as for the sanitizer runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
. "$(dirname "$0")/lib_da.sh"
st_require_svtpm
e2e_require tpm2_readclock tpm2_dictionarylockout tpm2_hmac tpm2_getcap
hostile_host_setup

da_setup() {   # the DA key, recoveryTime 20 s, one wrong PIN
  setup_key
  run_ok "dictionarylockout parameters" tpm2_dictionarylockout -s -n 5 -t 20 -l 20
  run_fails "hmac with a wrong PIN" tpm2_hmac -c "$KEY" -p wrong data.bin
  lockout_counter; assert_eq 1 "$LC" "failedTries after one wrong PIN"
}

# --- svtpm -----------------------------------------------------------------------
echo "+0 x10" >"$WORK/ft"
VTPM_STATE=$WORK/st
start_hostile --binding manifest=m --vm-image img --time-authority "tcp=127.0.0.1:$TA_PORT"
da_setup
clock_ms; c0=$CLK; r0=$(date +%s%3N)
sleep 12
clock_ms; c1=$CLK; r1=$(date +%s%3N)
lockout_counter
note "10x fast host: TPM clock +$((c1 - c0)) ms in $((r1 - r0)) ms of real time; failedTries $LC"
[ $((c1 - c0)) -le $((r1 - r0 + 5500)) ] || fail "the TPM clock ran ahead of real time by more than max_lead"
assert_eq 1 "$LC" "failedTries after 12 s of 10x-fast host time (recoveryTime 20 s)"
echo "+3600" >"$WORK/ft"                       # an hour forward
sleep 1
clock_ms; c2=$CLK; r2=$(date +%s%3N)
note "host jumps an hour ahead: TPM clock +$((c2 - c1)) ms in $((r2 - r1)) ms"
[ $((c2 - c0)) -le $((r2 - r0 + 5500)) ] || fail "the jump forward moved the TPM clock past real time + max_lead"
echo "-3600" >"$WORK/ft"                       # an hour back
sleep 1
clock_ms; c3=$CLK
note "host jumps an hour back: TPM clock $c2 -> $c3 ms"
[ "$c3" -ge "$c2" ] || fail "the TPM clock went back with the host's time: $c2 -> $c3"
lockout_counter
[ "$LC" -ge 1 ] || fail "failedTries healed to $LC within $(( ($(date +%s%3N) - r0) / 1000 )) s of real time"
vtpm_stop || fail stop

# --- swtpm under the same host ------------------------------------------------------
if [ -x /usr/bin/swtpm ]; then
  echo "+0 x10" >"$WORK/ft"
  SAVE_BIN=$VTPM_BIN VTPM_BIN=/usr/bin/swtpm VTPM_STATE=$WORK/sw
  start_hostile
  da_setup
  sleep 12
  lockout_counter
  note "swtpm under a 10x-fast host: failedTries $LC after 12 s (recoveryTime 20 s): forgiven early"
  [ "$LC" -eq 0 ] || fail "swtpm: failedTries $LC (expected the host's fast time to heal it)"
  vtpm_stop || true
  VTPM_BIN=$SAVE_BIN
fi
