#!/usr/bin/env bash
# End-to-end: the TPM clock follows authenticated time (issue 5).
#
# A bound vTPM whose manifest pins a time authority (svtpm-timeauth serve on
# loopback, signing either real time or, while the test writes a number to
# its time file, that fixed time). libtpms reads its time through the
# enclave's clock (src/enclave/timeshim.c), so:
#   - with the authority signing real time, TPM2_ReadClock advances like real
#     time;
#   - with the authority's time frozen, the TPM clock stops within
#     ECLOCK_MAX_LEAD (5 s) of it, however much host time passes, and
#     dictionary-attack self-healing stops with it: a failed PIN is not
#     forgiven while authenticated time does not move (recoveryTime 10 s,
#     more than the lead);
#   - once the authority moves again, the clock catches up and failedTries
#     heals.
# (The hostile host source itself, jumps and 10x speed, is driven against the
# same clock module in tests/unit/test_clock.c.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
. "$(dirname "$0")/lib_da.sh"
st_require_svtpm
e2e_require tpm2_readclock tpm2_dictionarylockout tpm2_hmac tpm2_getcap
bound_setup
start_authority
run_ok "bind with the time authority" "$TENANT" bind --key t.key --vtpm-id "$(st_new_uuid)" --image img \
  --enclave-sigstruct "$SIG" --policy strict --time-authority ta.pub --out m
A=(--binding manifest=m --vm-image img --time-authority "tcp=127.0.0.1:$TA_PORT")

authority_time_ms() { echo $(( $(date +%s%3N) )); }

VTPM_STATE=$WORK/st
vtpm_start "${A[@]}"
for _ in $(seq 50); do grep -q "time from the pinned time authority" "$VTPM_LOG" && break; sleep 0.1; done
grep -q "time from the pinned time authority" "$VTPM_LOG" || fail "the enclave did not take the time authority"
clock_ms; c0=$CLK
sleep 3
clock_ms; c1=$CLK
d=$((c1 - c0))
[ "$d" -ge 2500 ] && [ "$d" -le 4500 ] || fail "with real authenticated time the clock moved $d ms in 3 s"
note "authority at real time: the TPM clock moved $d ms in 3 s"

# DA: recoveryTime 2 s, one failed PIN
setup_key
run_ok "dictionarylockout parameters" tpm2_dictionarylockout -s -n 5 -t 10 -l 10
run_fails "hmac with a wrong PIN" tpm2_hmac -c "$KEY" -p wrong data.bin
lockout_counter; assert_eq 1 "$LC" "failedTries after one wrong PIN"

# freeze the authority: the clock may run at most max_lead (5 s) past it
authority_time_ms >"$WORK/ta.time"
clock_ms; f0=$CLK
sleep 9
clock_ms; f1=$CLK
d=$((f1 - f0))
[ "$d" -le 5500 ] || fail "with the authority frozen the clock moved $d ms in 9 s (max lead 5 s)"
lockout_counter
note "authority frozen: the clock moved $d ms in 9 s; failedTries $LC"
[ "$LC" -ge 1 ] || fail "failedTries healed to $LC although authenticated time stood still"

# the authority moves on: the clock catches up, failedTries heals
rm -f "$WORK/ta.time"
sleep 1
clock_ms; g1=$CLK
[ $((g1 - f1)) -ge 3000 ] || fail "after the authority moved on, the clock caught up only $((g1 - f1)) ms"
sleep 4
lockout_counter
assert_eq 0 "$LC" "failedTries after authenticated time moved on past recoveryTime"
note "authority moving again: the clock caught up $((g1 - f1)) ms; failedTries healed to 0"
vtpm_stop || fail stop

# the vTPM refuses to run on a forged authority: another key's tokens
run_ok "another authority key" "$TIMEAUTH" keygen --out other.pem
e2e_pick_ports || fail "no free port"
O_PORT=$VTPM_PORT
"$TIMEAUTH" serve --key other.pem --port "$O_PORT" >other.log 2>&1 &
E2E_BG_PIDS+=("$!")
for _ in $(seq 50); do e2e_port_open "$O_PORT" && break; sleep 0.1; done
run_ok "bind a second vTPM to the same authority" "$TENANT" bind --key t.key --vtpm-id "$(st_new_uuid)" \
  --image img --enclave-sigstruct "$SIG" --policy strict --time-authority ta.pub --out m2
VTPM_STATE=$WORK/st2
vtpm_start --binding manifest=m2 --vm-image img --time-authority "tcp=127.0.0.1:$O_PORT"
clock_ms; x0=$CLK
sleep 3
clock_ms; x1=$CLK
[ $((x1 - x0)) -le 100 ] || fail "tokens of another authority moved the clock $((x1 - x0)) ms"
grep -q "no time token from the time authority (signed by another authority" "$VTPM_LOG" ||
  fail "no log line about the refused token: $(grep -i token "$VTPM_LOG" | tail -n 2)"
note "another authority's tokens: refused, the clock stands still"
vtpm_stop || true
