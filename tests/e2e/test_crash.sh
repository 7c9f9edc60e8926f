#!/usr/bin/env bash
# End-to-end crash injection: a stream of acknowledged tpm2_nvwrite of increasing
# counter values, kill -9 of the server at a random moment, restart. The state must
# always open and hold the last acknowledged value or the one that was in flight:
# never an older value, never garbage.
#
# Environment:
#   CRASH_ROUNDS       number of crash/restart rounds (default 30)
#   CRASH_SEED         seed for the random kill delays (default: random; printed)
#   CRASH_TIME_BUDGET  seconds after which no new round is started (default 100)
#   E2E_KILL           group (default) or pid, see lib.sh
. "$(dirname "$0")/lib.sh"
e2e_require tpm2_nvwrite tpm2_nvread swtpm_ioctl

ROUNDS=${CRASH_ROUNDS:-30}
BUDGET=${CRASH_TIME_BUDGET:-100}
SEED=${CRASH_SEED:-$(e2e_rand16)}
RANDOM=$SEED
IDX=0x01500030
SIZE=32   # a value is stored as two copies of its 16-digit decimal form

[[ $ROUNDS =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] || fail "CRASH_ROUNDS must be a positive integer, not '$ROUNDS'"
note "rounds=$ROUNDS seed=$SEED budget=${BUDGET}s kill=$E2E_KILL (reproduce with CRASH_SEED=$SEED)"
cd "$WORK" || fail "cd $WORK"

encode() { printf '%016d%016d' "$1" "$1"; }   # encode VALUE : the 32 bytes stored for VALUE

read_value() {   # read_value WHAT : nvread must succeed and hold a well-formed value -> VALUE
  local raw
  run_ok "$1: nvread" tpm2_nvread "$IDX" -C o -s "$SIZE" -o nvread.bin
  raw=$(LC_ALL=C tr -c '0-9' '?' <nvread.bin)
  [[ $raw =~ ^([0-9]{16})([0-9]{16})$ ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
    fail "$1: NV index holds garbage: $(e2e_hex nvread.bin)"
  VALUE=$((10#${BASH_REMATCH[1]}))
}

# Background writer: writes FIRST, FIRST+1, ... until a write fails (the server was
# killed). After each acknowledged write (tpm2_nvwrite exit 0) it records the value
# in ack; the value being written when it stops is in failed.
writer() {
  local v=$1
  while :; do
    encode "$v" >w.bin
    if timeout -k 2 20 tpm2_nvwrite "$IDX" -C o -i w.bin >/dev/null 2>>writer.err </dev/null; then
      echo "$v" >ack.tmp && mv -f ack.tmp ack
      v=$((v + 1))
    else
      echo "$v" >failed
      exit 0
    fi
  done
}

vtpm_start
run_ok "nvdefine" tpm2_nvdefine "$IDX" -C o -s "$SIZE" -a "ownerread|ownerwrite"
encode 0 >w.bin
run_ok "initial nvwrite" tpm2_nvwrite "$IDX" -C o -i w.bin
read_value "initial read"
assert_eq 0 "$VALUE" "initial counter value"

base=0 done_rounds=0 total_acked=0 inflight_landed=0 no_ack_rounds=0 double_crashes=0
for round in $(seq 1 "$ROUNDS"); do
  if [ "$SECONDS" -ge "$BUDGET" ]; then
    note "time budget of ${BUDGET}s used up: stopping after $done_rounds of $ROUNDS rounds"
    break
  fi
  rm -f ack failed writer.err
  writer $((base + 1)) &
  wpid=$!
  E2E_BG_PIDS+=("$wpid")
  delay_ms=$((RANDOM % 1000))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  vtpm_kill9
  # the writer notices (its next or current write fails) and stops
  e2e_wait_gone "$wpid" 60 || fail "round $round: the writer did not stop 60s after the kill"
  { wait "$wpid"; } 2>/dev/null
  ack=$base
  [ -s ack ] && ack=$(cat ack)
  [ -s failed ] || fail "round $round: the writer stopped without a failed write"
  inflight=$(cat failed)
  assert_eq $((ack + 1)) "$inflight" "round $round: in-flight value = last acknowledged + 1 (test self-check)"

  # now and then crash again right after the restart, before any command
  extra=""
  if [ $((RANDOM % 4)) -eq 0 ]; then
    vtpm_start
    d=$((RANDOM % 100))
    sleep "0.$(printf '%03d' "$d")"
    vtpm_kill9
    double_crashes=$((double_crashes + 1))
    extra=", killed again ${d}ms after a restart"
  fi

  vtpm_start
  read_value "round $round: read after restart"
  if [ "$VALUE" -eq "$ack" ]; then
    outcome="last acknowledged value"
  elif [ "$VALUE" -eq "$inflight" ]; then
    outcome="the in-flight write landed"
    inflight_landed=$((inflight_landed + 1))
  elif [ "$VALUE" -lt "$ack" ]; then
    fail "round $round: ROLLBACK: read $VALUE but $ack was acknowledged (in flight: $inflight, kill after ${delay_ms}ms, seed $SEED)"
  else
    fail "round $round: read $VALUE, expected $ack (acknowledged) or $inflight (in flight) (seed $SEED)"
  fi
  [ "$ack" -eq "$base" ] && no_ack_rounds=$((no_ack_rounds + 1))
  note "round $round: kill after ${delay_ms}ms, $((ack - base)) writes acknowledged (last $ack)$extra; read $VALUE: $outcome"
  total_acked=$((total_acked + ack - base))
  base=$VALUE
  done_rounds=$((done_rounds + 1))
done

[ "$done_rounds" -ge 1 ] || fail "no crash round completed within the time budget"
[ "$total_acked" -ge 1 ] || fail "no write was acknowledged in $done_rounds rounds: the crash test tested nothing"

# a final graceful restart still sees the last value
vtpm_restart
read_value "after the final graceful restart"
assert_eq "$base" "$VALUE" "counter after the final graceful restart"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"

note "summary: $done_rounds crash rounds ($double_crashes double crashes), $total_acked acknowledged writes, in-flight write landed in $inflight_landed rounds, no write acknowledged in $no_ack_rounds rounds, final value $base"
exit 0
