#!/usr/bin/env bash
# End-to-end: a hostile host time source (issue 5).
#
# libfaketime (Debian's faketime package), preloaded into the vTPM's
# processes, stands for a host that controls the time its kernel gives the
# enclave: 10x fast, then a jump of an hour forward, then an hour back, both
# at normal pace ("x1": when the timestamp file holds an offset alone,
# libfaketime keeps the rate it was given last, so a bare "+3600" would still
# run 10x). The time authority (svtpm-timeauth serve, not preloaded) signs
# real time.
#   - svtpm, bound with that authority pinned: a failed PIN with
#     recoveryTime 20 s is still counted after 12 s of 10x-fast time (120 s
#     on the host's clock), the TPM clock never runs more than 5 s ahead of
#     real elapsed time, the jump forward gains at most that, and the jump
#     back moves TPM2_ReadClock by nothing;
#   - Debian's swtpm under the same host: the failed PIN is forgiven within
#     those 12 s (its TPM clock runs 10x), which is the difference.
# Expiring authorisations in the same scenarios: a sealed object with
# authPolicy PolicySecret(owner), unsealed through policy sessions whose
# TPM2_PolicySecret carries an expiration and the session's nonceTPM (libtpms
# counts it from the session's start):
#   - 10x fast: expiration 30 s, used 12 s of real time later: svtpm unseals
#     (its clock stays within 5 s of real time: the authorisation is not cut
#     short); swtpm refuses it with TPM_RC_EXPIRED (its clock ran 120 s): a
#     denial of service, the difference;
#   - jump forward: expiration 20 s, started just before the jump, used a
#     second later: svtpm unseals (the jump gains at most 5 s), swtpm refuses
#     it (its clock jumped an hour);
#   - jump back: two sessions with expiration 5 s, started just before the
#     jump. One is used 8 s of real time later and only reported: the clock
#     runs on at real pace after the jump back, but it may have led real time
#     by up to 5 s (max_lead) when the session started and lose that lead
#     while idle, so 8 s may count as little as 3. The other is used 13 s
#     later (expiration + max_lead + 3 s): svtpm refuses it with
#     TPM_RC_EXPIRED (0x9a3; a command authorised by a policy session takes a
#     fresh token first), while a new session used at once still unseals. For
#     swtpm what happens is only reported: Debian's libtpms 0.9.2 turns a host
#     clock that goes back into a jump of its TPM clock (an unsigned wrap, to
#     about 2^64/30000 ms), after which it has been seen to stand still.
# libfaketime needs syscalls outside the enclave's allowlist, so the filter
# is off here (SVTPM_ENCLAVE_SECCOMP=off), as for the sanitizer runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
. "$(dirname "$0")/lib_da.sh"
st_require_svtpm
e2e_require tpm2_readclock tpm2_dictionarylockout tpm2_hmac tpm2_getcap \
  tpm2_startauthsession tpm2_policysecret tpm2_create tpm2_load tpm2_unseal tpm2_flushcontext date awk
hostile_host_setup
echo "hostile-host secret $(st_new_uuid)" >secret.dat

now_ms() { date +%s%3N; }
# host_time SPEC : what libfaketime gives the vTPM from now on (replaced
# atomically: the preloaded processes read the file on every clock call)
host_time() { printf '%s\n' "$1" >"$WORK/ft.new" && mv -f "$WORK/ft.new" "$WORK/ft"; }
sleep_until_ms() {   # sleep_until_ms T : sleep until real time T (ms since the epoch)
  local left=$(( $1 - $(now_ms) ))
  [ "$left" -le 0 ] || sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"
}
since() { echo $(( ($(now_ms) - $1) / 1000 )); }   # since T : whole seconds of real time since T
hung() { [ "$1" -ge 124 ] && [ "$1" -le 137 ]; }   # (timeout's and signals' exit codes)
err1() { grep -m1 '^ERROR: Esys_' "$E2E_ERR" || tail -n 1 "$E2E_ERR"; }

da_setup() {   # the DA key and the sealed object, recoveryTime 20 s, one wrong PIN
  setup_key
  seal_setup
  run_ok "dictionarylockout parameters" tpm2_dictionarylockout -s -n 5 -t 20 -l 20
  run_fails "hmac with a wrong PIN" tpm2_hmac -c "$KEY" -p wrong data.bin
  lockout_counter; assert_eq 1 "$LC" "failedTries after one wrong PIN"
}
seal_setup() {   # sec.ctx: secret.dat sealed under prim.ctx (setup_key's), authPolicy PolicySecret(owner)
  run_ok "trial session (PolicySecret)" tpm2_startauthsession -S trial.ctx
  run_ok "trial PolicySecret(owner)" tpm2_policysecret -S trial.ctx -c o -L sec.pol
  run_ok "flush the trial session" tpm2_flushcontext trial.ctx
  run_ok "create sealed object (PolicySecret)" tpm2_create -C prim.ctx -L sec.pol -i secret.dat -u sec.pub -r sec.priv
  run_ok "load sealed object (PolicySecret)" tpm2_load -C prim.ctx -u sec.pub -r sec.priv -c sec.ctx
}
# secret_session FILE SECONDS : a policy session, then TPM2_PolicySecret(owner)
# with that expiration and the session's nonceTPM (counted from the session's
# start). The session's start must work; sets PS_RC/PS_ERR (the PolicySecret's)
secret_session() {
  run_ok "startauthsession ($1)" tpm2_startauthsession --policy-session -S "$1"
  e2e_exec tpm2_policysecret -S "$1" -c o -t "$2" -x; PS_RC=$?
  PS_ERR=$(err1)
  return "$PS_RC"
}
# use_session FILE [PS_RC PS_ERR] : unseal sec.ctx through that session (only
# if its PolicySecret, PS_RC, worked); sets U_RC, U_ERR and U_GOT (1: the data
# is the secret)
use_session() {
  if [ "${2:-0}" -ne 0 ]; then   # (expired before it was even used)
    U_RC=$2 U_GOT=0 U_ERR="at its TPM2_PolicySecret: $3"
    return 0
  fi
  rm -f unsealed.dat
  e2e_exec tpm2_unseal -c sec.ctx -p "session:$1" -o unsealed.dat; U_RC=$?
  U_ERR=$(err1)
  U_GOT=0; [ -f unsealed.dat ] && cmp -s secret.dat unsealed.dat && U_GOT=1
  e2e_exec tpm2_flushcontext -l   # (a session a refused command left loaded)
  return 0
}
expect_unsealed() {   # expect_unsealed WHAT : the last use_session returned the secret
  hung "$U_RC" && fail "$1: the unseal did not answer (rc=$U_RC)"
  [ "$U_RC" -eq 0 ] || fail "$1: refused: $U_ERR"
  [ "$U_GOT" = 1 ] || fail "$1: the unsealed data is not the secret"
}
expect_expired() {   # expect_expired WHAT : the last use_session was refused with TPM_RC_EXPIRED
  hung "$U_RC" && fail "$1: the unseal did not answer (rc=$U_RC)"
  [ "$U_RC" -ne 0 ] || fail "$1: the expired authorisation was honoured$([ "$U_GOT" = 1 ] && echo ' (it returned the secret)')"
  [[ $U_ERR == *0x9A3* || $U_ERR == *0x9a3* ]] || fail "$1: expected TPM_RC_EXPIRED (0x9a3), got: $U_ERR"
}
outcome() {   # outcome : the last use_session in words
  if [ "$U_RC" -eq 0 ] && [ "$U_GOT" = 1 ]; then echo "unsealed the secret"
  elif [ "$U_RC" -eq 0 ]; then echo "exit 0 but not the secret"
  else echo "refused ($U_ERR)"; fi
}

# --- svtpm -----------------------------------------------------------------------
host_time "+0 x10"
VTPM_STATE=$WORK/st
start_hostile --binding manifest=m --vm-image img --time-authority "tcp=127.0.0.1:$TA_PORT"
da_setup
clock_ms; c0=$CLK; r0=$(now_ms)
secret_session sA.ctx 30 || fail "svtpm: PolicySecret with expiration 30 s: $PS_ERR"
sleep_until_ms $((r0 + 12000))
clock_ms; c1=$CLK; r1=$(now_ms)
lockout_counter
note "10x fast host: TPM clock +$((c1 - c0)) ms in $((r1 - r0)) ms of real time; failedTries $LC"
[ $((c1 - c0)) -le $((r1 - r0 + 5500)) ] || fail "the TPM clock ran ahead of real time by more than max_lead"
assert_eq 1 "$LC" "failedTries after 12 s of 10x-fast host time (recoveryTime 20 s)"
use_session sA.ctx
note "10x fast host: PolicySecret session with expiration 30 s, used $(since "$r0") s of real time later: $(outcome)"
expect_unsealed "svtpm: the 30 s PolicySecret session after 12 s of real time under the 10x-fast host"
secret_session sB.ctx 20 || fail "svtpm: PolicySecret with expiration 20 s: $PS_ERR"
tj=$(now_ms)
host_time "+3600 x1"   # an hour forward (at normal pace again: see above)
sleep_until_ms $((tj + 1000))
clock_ms; c2=$CLK; r2=$(now_ms)
note "host jumps an hour ahead: TPM clock +$((c2 - c1)) ms in $((r2 - r1)) ms"
[ $((c2 - c0)) -le $((r2 - r0 + 5500)) ] || fail "the jump forward moved the TPM clock past real time + max_lead"
use_session sB.ctx
note "host jumps an hour ahead: PolicySecret session with expiration 20 s started just before, used $(since "$tj") s after the jump: $(outcome)"
expect_unsealed "svtpm: the 20 s PolicySecret session a second after the host's jump forward"
clock_ms; cc0=$CLK
secret_session sC.ctx 5 || fail "svtpm: PolicySecret with expiration 5 s: $PS_ERR"
secret_session sE.ctx 5 || fail "svtpm: PolicySecret with expiration 5 s: $PS_ERR"
tb=$(now_ms)
host_time "-3600 x1"   # an hour back
clock_ms; c2b=$CLK
sleep_until_ms $((tb + 1000))
clock_ms; c3=$CLK
note "host jumps an hour back: TPM clock $c2 -> $c2b (at once) -> $c3 ms (a second later)"
[ "$c2b" -ge "$c2" ] || fail "the TPM clock went back with the host's time: $c2 -> $c2b"
[ "$c3" -ge "$c2b" ] || fail "the TPM clock went back with the host's time: $c2b -> $c3"
lockout_counter
[ "$LC" -ge 1 ] || fail "failedTries healed to $LC within $(since "$r0") s of real time"
note "failedTries $LC after $(since "$r0") s of real time (TPM clock +$((c3 - c0)) ms; recoveryTime 20 s)"
sleep_until_ms $((tb + 8000))
use_session sC.ctx
clock_ms; cc1=$CLK
note "host jumps an hour back: a PolicySecret session with expiration 5 s started just before, used $(since "$tb") s later (TPM clock +$((cc1 - cc0)) ms since just before its start): $(outcome) (not asserted: within max_lead)"
sleep_until_ms $((tb + 13000))
use_session sE.ctx
clock_ms; cc2=$CLK
note "host jumps an hour back: the other PolicySecret session with expiration 5 s, used $(since "$tb") s later (TPM clock +$((cc2 - cc0)) ms): $(outcome)"
expect_expired "svtpm: the 5 s PolicySecret session 13 s of real time after the host's jump back"
[ "$cc1" -ge "$c3" ] || fail "the TPM clock went back: $c3 -> $cc1"
[ "$cc2" -ge "$cc1" ] || fail "the TPM clock went back: $cc1 -> $cc2"
secret_session sD.ctx 5 || fail "svtpm: PolicySecret with expiration 5 s after the jump back: $PS_ERR"
use_session sD.ctx
note "host an hour back: a new PolicySecret session with expiration 5 s, used at once: $(outcome)"
expect_unsealed "svtpm: a new 5 s PolicySecret session used at once after the jump back"
vtpm_stop || fail stop

# --- swtpm under the same host ------------------------------------------------------
if [ -x /usr/bin/swtpm ]; then
  host_time "+0 x10"
  SAVE_BIN=$VTPM_BIN VTPM_BIN=/usr/bin/swtpm VTPM_STATE=$WORK/sw
  start_hostile
  da_setup
  r0=$(now_ms)
  secret_session sA.ctx 30
  sleep_until_ms $((r0 + 12000))
  lockout_counter
  note "swtpm under a 10x-fast host: failedTries $LC after 12 s (recoveryTime 20 s): forgiven early"
  [ "$LC" -eq 0 ] || fail "swtpm: failedTries $LC (expected the host's fast time to heal it)"
  use_session sA.ctx "$PS_RC" "$PS_ERR"
  note "swtpm under a 10x-fast host: PolicySecret session with expiration 30 s, used $(since "$r0") s of real time later: $(outcome): cut short (a denial of service), the difference"
  expect_expired "swtpm: the 30 s PolicySecret session after 12 s of real time under the 10x-fast host"
  clock_ms; w1=$CLK
  secret_session sB.ctx 20
  tj=$(now_ms)
  host_time "+3600 x1"
  sleep_until_ms $((tj + 1000))
  clock_ms; w2=$CLK
  use_session sB.ctx "$PS_RC" "$PS_ERR"
  note "swtpm, host jumps an hour ahead: TPM clock +$((w2 - w1)) ms in about a second; the 20 s PolicySecret session started just before: $(outcome): the difference"
  expect_expired "swtpm: the 20 s PolicySecret session a second after the host's jump forward"
  clock_ms; w2=$CLK
  secret_session sC.ctx 5; psc_rc=$PS_RC psc_err=$PS_ERR
  secret_session sE.ctx 5; pse_rc=$PS_RC pse_err=$PS_ERR
  tb=$(now_ms)
  host_time "-3600 x1"
  clock_ms; w3=$CLK
  sleep_until_ms $((tb + 8000))
  use_session sC.ctx "$psc_rc" "$psc_err"
  clock_ms; w4=$CLK
  note "swtpm, host jumps an hour back: TPM clock $w2 -> $w3 (at once) -> $w4 ms (8 s later); a 5 s PolicySecret session started just before, used 8 s later: $(outcome) (not asserted)"
  sleep_until_ms $((tb + 13000))
  use_session sE.ctx "$pse_rc" "$pse_err"
  clock_ms; w5=$CLK
  note "swtpm, host an hour back: the other 5 s session, used $(since "$tb") s later: $(outcome) (not asserted); its TPM clock moved $((w5 - w3)) ms since just after the jump"
  secret_session sD.ctx 5
  use_session sD.ctx "$PS_RC" "$PS_ERR"
  note "swtpm, host an hour back: a new 5 s PolicySecret session used at once: $(outcome) (not asserted)"
  vtpm_stop || true
  VTPM_BIN=$SAVE_BIN
fi
