#!/usr/bin/env bash
# End-to-end: a host that freezes its time source (issue 5).
#
# libfaketime (Debian's faketime package), preloaded into the vTPM's
# processes, stands for a host that stops the time its kernel gives the
# enclave: an absolute time in the timestamp file freezes CLOCK_REALTIME,
# CLOCK_MONOTONIC and CLOCK_MONOTONIC_RAW at that value. The time authority
# (svtpm-timeauth serve, not preloaded) signs real time. With normal host time
# two sealed objects are made:
#   - sec: authPolicy PolicySecret(owner); it is used through a policy session
#     whose TPM2_PolicySecret carries expiration 5 s and the session's nonceTPM
#     (libtpms counts those 5 s from the session's start);
#   - ct:  authPolicy PolicyCounterTimer "clock < C + 14 s" (C: TPM2_ReadClock
#     just before; R: the real time then).
# Then the host freezes its time:
#   - at once both unseal, on svtpm as on swtpm (so the test cannot pass by
#     refusing everything);
#   - 8 s after the PolicySecret (its 5 s are over, counted from the session's
#     start): svtpm, bound with that authority pinned, refuses that session
#     with TPM_RC_EXPIRED (0x9a3): before a command authorised by a policy
#     session the enclave takes a fresh token, which pulls its clock to
#     authenticated time;
#   - at R + 16 s (the clock pulled to about R + 10 s by that unseal, then
#     frozen again, so only PolicyCounterTimer's own token can move it past
#     C + 14 s): svtpm refuses PolicyCounterTimer with TPM_RC_POLICY (0x126);
#   - Debian's swtpm under the same host: its TPM clock stands still, so both
#     expired authorisations still unseal the secret, which is the difference.
# TPM2_ReadClock never goes backwards, on either.
# libfaketime needs syscalls outside the enclave's allowlist, so the filter
# is off here (SVTPM_ENCLAVE_SECCOMP=off), as for the sanitizer runs.
E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-20}   # (a command stuck on the frozen host shows in 20 s)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
. "$(dirname "$0")/lib_da.sh"
st_require_svtpm
e2e_require tpm2_readclock tpm2_startauthsession tpm2_policysecret tpm2_policycountertimer \
  tpm2_createprimary tpm2_create tpm2_load tpm2_unseal tpm2_flushcontext date awk
hostile_host_setup
echo "frozen-host secret $(st_new_uuid)" >secret.dat

now_ms() { date +%s%3N; }
# host_time SPEC : what libfaketime gives the vTPM from now on (replaced
# atomically: the preloaded processes read the file on every clock call)
host_time() { printf '%s\n' "$1" >"$WORK/ft.new" && mv -f "$WORK/ft.new" "$WORK/ft"; }
# freeze_host : all the vTPM's clocks stand still at the next whole second
freeze_host() {
  local s seen f
  # A step forward of at most 0.2 s, never one back: Debian's libtpms 0.9.2
  # turns a host clock that goes back by some 100 ms into a jump of its TPM
  # clock by about 2^64/30000 ms (an unsigned wrap in _plat__TimerRead),
  # which would expire everything on swtpm too.
  f=$(( $(now_ms) % 1000 ))
  [ "$f" -ge 800 ] || sleep "0.$(printf '%03d' $((800 - f)))"
  s=$(( $(now_ms) / 1000 + 1 ))
  # (libfaketime reads an absolute time in the process's local time zone,
  # which the vTPM inherits from this shell: format it in local time too)
  host_time "$(date -d "@$s" '+%Y-%m-%d %H:%M:%S')"
  seen=$(env LD_PRELOAD="$FT_LIB" FAKETIME_TIMESTAMP_FILE="$WORK/ft" FAKETIME_NO_CACHE=1 date +%s)
  if [ "$seen" -lt $((s - 1)) ] || [ "$seen" -gt $((s + 1)) ]; then
    fail "the frozen host time is $seen, not about now ($s): libfaketime read '$(cat "$WORK/ft")' in another time zone"
  fi
}
sleep_until_ms() {   # sleep_until_ms T : sleep until real time T (ms since the epoch)
  local left=$(( $1 - $(now_ms) ))
  [ "$left" -le 0 ] || sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"
}

LAST_CLK=0
clock_mono() {   # clock_mono WHEN : TPM2_ReadClock into CLK; never below the previous read
  clock_ms
  [ "$CLK" -ge "$LAST_CLK" ] || st_bad "clock went back" "$LABEL $1: TPM2_ReadClock $LAST_CLK -> $CLK ms"
  LAST_CLK=$CLK
}

CT_WINDOW=14000   # PolicyCounterTimer: clock < C + CT_WINDOW ms
# the two sealed objects (normal host time); sets LIM (the PolicyCounterTimer
# bound, ms of TPM clock) and R0 (real time, ms, when the clock read C)
setup_objects() {
  run_ok "createprimary" tpm2_createprimary -C o -c prim.ctx
  run_ok "trial session (PolicySecret)" tpm2_startauthsession -S trial.ctx
  run_ok "trial PolicySecret(owner)" tpm2_policysecret -S trial.ctx -c o -L sec.pol
  run_ok "flush the trial session" tpm2_flushcontext trial.ctx
  run_ok "create sealed object (PolicySecret)" tpm2_create -C prim.ctx -L sec.pol -i secret.dat -u sec.pub -r sec.priv
  run_ok "load sealed object (PolicySecret)" tpm2_load -C prim.ctx -u sec.pub -r sec.priv -c sec.ctx
  clock_mono "before the freeze"; R0=$(now_ms)
  LIM=$((CLK + CT_WINDOW))
  run_ok "trial session (PolicyCounterTimer)" tpm2_startauthsession -S trial.ctx
  run_ok "trial PolicyCounterTimer clock < $LIM" tpm2_policycountertimer -S trial.ctx -L ct.pol --ult "clock=$LIM"
  run_ok "flush the trial session" tpm2_flushcontext trial.ctx
  run_ok "create sealed object (PolicyCounterTimer)" tpm2_create -C prim.ctx -L ct.pol -i secret.dat -u ct.pub -r ct.priv
  run_ok "load sealed object (PolicyCounterTimer)" tpm2_load -C prim.ctx -u ct.pub -r ct.priv -c ct.ctx
}
# secret_session FILE : a policy session, TPM2_PolicySecret(owner) with expiration 5 s and its nonceTPM
secret_session() {
  run_ok "startauthsession ($1)" tpm2_startauthsession --policy-session -S "$1"
  run_ok "PolicySecret with expiration 5 s ($1)" tpm2_policysecret -S "$1" -c o -t 5 -x
}
# counter_session FILE : a policy session, then TPM2_PolicyCounterTimer clock < LIM (its rc returned)
counter_session() {
  run_ok "startauthsession ($1)" tpm2_startauthsession --policy-session -S "$1"
  e2e_exec tpm2_policycountertimer -S "$1" --ult "clock=$LIM"
}
unseal() {   # unseal OBJ SESSION : rc of tpm2_unseal; the data in unsealed.dat
  rm -f unsealed.dat
  e2e_exec tpm2_unseal -c "$1" -p "session:$2" -o unsealed.dat
}
got_secret() { [ -f unsealed.dat ] && cmp -s secret.dat unsealed.dat; }
hung() { [ "$1" -ge 124 ] && [ "$1" -le 137 ]; }   # (timeout's and signals' exit codes)
err1() { grep -m1 '^ERROR: Esys_' "$E2E_ERR" || tail -n 1 "$E2E_ERR"; }

# frozen_run : on the started vTPM: the objects, the freeze, the checks at
# once (which must pass) and the late ones (the caller judges them). Sets
# LATE_SEC_RC/LATE_SEC_GOT/LATE_SEC_ERR (unseal 8 s after the PolicySecret),
# LATE_CT_RC/LATE_CT_ERR/LATE_CT_UNSEAL_RC/LATE_CT_GOT (PolicyCounterTimer at
# R0 + 16 s), and the TPM clock: F0 just after the freeze, F1 before the late
# unseal, G1 after it, G2 before the late PolicyCounterTimer, F2 at the end.
frozen_run() {
  LAST_CLK=0
  setup_objects
  freeze_host
  clock_mono "just after the freeze"; F0=$CLK
  secret_session s2.ctx; t2=$(now_ms)   # (kept for the late check)
  # at once both authorisations hold
  secret_session s1.ctx
  unseal sec.ctx s1.ctx || fail "$LABEL: unseal with PolicySecret (expiration 5 s) at once: $(err1)"
  got_secret || fail "$LABEL: the unsealed data (PolicySecret, at once) is not the secret"
  counter_session s3.ctx || fail "$LABEL: PolicyCounterTimer clock < $LIM at once: $(err1)"
  unseal ct.ctx s3.ctx || fail "$LABEL: unseal with PolicyCounterTimer at once: $(err1)"
  got_secret || fail "$LABEL: the unsealed data (PolicyCounterTimer, at once) is not the secret"
  clock_mono "frozen, at once"
  note "$LABEL: host frozen; at once both authorisations unseal (TPM clock $F0 -> $CLK ms, bound $LIM)"
  # (the late unseal must leave the clock below LIM with 2 s to spare)
  [ $((t2 + 8000)) -le $((R0 + CT_WINDOW - 2000)) ] ||
    fail "$LABEL: the set-up took $((t2 - R0)) ms (at most $((CT_WINDOW - 10000)) ms for the timeline)"
  sleep_until_ms $((t2 + 8000))
  clock_mono "8 s after the PolicySecret"; F1=$CLK
  unseal sec.ctx s2.ctx; LATE_SEC_RC=$?
  LATE_SEC_GOT=0; got_secret && LATE_SEC_GOT=1
  LATE_SEC_ERR=$(err1)
  clock_mono "after the late unseal"; G1=$CLK
  sleep_until_ms $((R0 + CT_WINDOW + 2000))
  clock_mono "before the late PolicyCounterTimer"; G2=$CLK
  counter_session s4.ctx; LATE_CT_RC=$?
  LATE_CT_ERR=$(err1)
  LATE_CT_UNSEAL_RC=-; LATE_CT_GOT=0
  if [ "$LATE_CT_RC" -eq 0 ]; then
    unseal ct.ctx s4.ctx; LATE_CT_UNSEAL_RC=$?
    got_secret && LATE_CT_GOT=1
  fi
  clock_mono "after the late PolicyCounterTimer"; F2=$CLK
  # (sessions a refused command left loaded)
  e2e_exec tpm2_flushcontext -l
  note "$LABEL: TPM2_ReadClock (ms since the freeze, $(( ($(now_ms) - t2) / 1000 )) s of real time):" \
    "+$((F1 - F0)) before the late unseal, +$((G1 - F0)) after it," \
    "+$((G2 - F0)) before the late PolicyCounterTimer, +$((F2 - F0)) after it"
}

# --- svtpm -----------------------------------------------------------------------
LABEL=svtpm
host_time "+0"
VTPM_STATE=$WORK/st
start_hostile --binding manifest=m --vm-image img --time-authority "tcp=127.0.0.1:$TA_PORT"
for _ in $(seq 50); do grep -q "time from the pinned time authority" "$VTPM_LOG" && break; sleep 0.1; done
grep -q "time from the pinned time authority" "$VTPM_LOG" || fail "the enclave did not take the time authority"
frozen_run
# (st_bad MESSAGEs: "LABEL: details"; the summary lists the labels)
if hung "$LATE_SEC_RC"; then
  st_bad "hung" "svtpm PolicySecret 8 s later: the unseal did not answer (rc=$LATE_SEC_RC)"
elif [ "$LATE_SEC_RC" -eq 0 ]; then
  got=; [ "$LATE_SEC_GOT" = 1 ] && got=" and returned the secret"
  st_bad "expired authorisation honoured" "svtpm PolicySecret 8 s later: the unseal with a session 8 s past its 5 s expiration (host frozen, TPM clock +$((G1 - F0)) ms since the freeze) succeeded$got"
elif [[ $LATE_SEC_ERR != *0x9A3* && $LATE_SEC_ERR != *0x9a3* ]]; then
  st_bad "wrong rc" "svtpm PolicySecret 8 s later: expected TPM_RC_EXPIRED (0x9a3), got: $LATE_SEC_ERR"
else
  note "svtpm: PolicySecret session 8 s after its 5 s expiration: refused ($LATE_SEC_ERR)"
  [ $((F1 - F0)) -lt 5000 ] ||
    note "svtpm: (the TPM clock had moved $((F1 - F0)) ms before the unseal: its refusal does not show the unseal's own token)"
fi
if hung "$LATE_CT_RC"; then
  st_bad "hung" "svtpm PolicyCounterTimer late: did not answer (rc=$LATE_CT_RC)"
elif [ "$LATE_CT_RC" -eq 0 ]; then
  got=; [ "$LATE_CT_GOT" = 1 ] && got=" with the secret"
  st_bad "expired authorisation honoured" "svtpm PolicyCounterTimer late: clock < $LIM held $(( (CT_WINDOW + 2000) / 1000 )) s of real time after the clock read $((LIM - CT_WINDOW)) (TPM clock $G2 ms before the command); the unseal then exited $LATE_CT_UNSEAL_RC$got"
elif [[ $LATE_CT_ERR != *0x126* ]]; then
  st_bad "wrong rc" "svtpm PolicyCounterTimer late: expected TPM_RC_POLICY (0x126), got: $LATE_CT_ERR"
else
  note "svtpm: PolicyCounterTimer clock < $LIM, $(( (CT_WINDOW + 2000) / 1000 )) s after the clock read $((LIM - CT_WINDOW)): refused ($LATE_CT_ERR)"
  [ "$G2" -lt "$LIM" ] ||
    note "svtpm: (the TPM clock was already $G2 ms before the command: its refusal does not show its own token)"
fi
vtpm_stop || st_bad "stop" "svtpm stop: the graceful stop under the frozen host failed (exit status $VTPM_EXIT)"

# --- swtpm under the same host ------------------------------------------------------
if [ -x /usr/bin/swtpm ]; then
  LABEL=swtpm
  host_time "+0"
  SAVE_BIN=$VTPM_BIN VTPM_BIN=/usr/bin/swtpm VTPM_STATE=$WORK/sw
  start_hostile
  frozen_run
  [ $((F2 - F0)) -lt 1000 ] ||
    st_bad "not frozen" "swtpm clock: it moved $((F2 - F0)) ms in $(( (CT_WINDOW + 2000) / 1000 )) s of frozen host time (the freeze did not take)"
  if [ "$LATE_SEC_RC" -eq 0 ] && [ "$LATE_SEC_GOT" = 1 ]; then
    note "swtpm under a frozen host: the PolicySecret session 8 s after its 5 s expiration still unseals the secret"
  else
    st_bad "swtpm refused" "swtpm PolicySecret 8 s later: expected to unseal under its frozen clock: rc=$LATE_SEC_RC $LATE_SEC_ERR"
  fi
  if [ "$LATE_CT_RC" -eq 0 ] && [ "$LATE_CT_GOT" = 1 ]; then
    note "swtpm under a frozen host: PolicyCounterTimer clock < $LIM, $(( (CT_WINDOW + 2000) / 1000 )) s after the clock read $((LIM - CT_WINDOW)), still unseals the secret (clock $F2 ms)"
  else
    st_bad "swtpm refused" "swtpm PolicyCounterTimer late: expected to pass under its frozen clock: rc=$LATE_CT_RC $LATE_CT_ERR, unseal rc=$LATE_CT_UNSEAL_RC"
  fi
  vtpm_stop || true
  VTPM_BIN=$SAVE_BIN
fi
st_finish
