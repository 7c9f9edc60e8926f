# Helpers for bound-vTPM and dictionary-attack scenarios (test_rollback*.sh,
# test_resume_charge.sh, test_counters_shared.sh), sourced after lib.sh and
# lib_state.sh; they run in the current directory. The DA key is a persistent
# HMAC key $KEY with PIN "right", maxTries 3, recovery times of an hour.
KEY=0x81000010

# bound_setup : into $WORK, with TENANT and SIG (the tools next to the binary
# under test), an empty audit file $AUDIT, an image img and a tenant key t.key.
bound_setup() {
  TENANT=$(dirname "$VTPM_BIN")/svtpm-tenant
  SIG=$(dirname "$VTPM_BIN")/svtpm-enclave.sig
  cd "$WORK" || fail "cd $WORK"
  AUDIT=$WORK/audit.jsonl
  : >"$AUDIT"
  head -c 4096 /dev/urandom >img
  run_ok "keygen" "$TENANT" keygen --out t.key
}

lockout_counter() {   # sets LC to TPM2_PT_LOCKOUT_COUNTER (decimal)
  run_ok "getcap properties-variable" tpm2_getcap properties-variable
  LC=$(awk '/TPM2_PT_LOCKOUT_COUNTER/ { print $2 }' "$E2E_OUT")
  [ -n "$LC" ] || fail "no TPM2_PT_LOCKOUT_COUNTER in: $(head -n 5 "$E2E_OUT" | tr '\n' ' ')"
  LC=$((LC))
}
setup_key() {   # DA parameters, the key
  echo data >data.bin
  run_ok "dictionarylockout parameters" tpm2_dictionarylockout -s -n 3 -t 3600 -l 3600
  run_ok "createprimary" tpm2_createprimary -C o -c prim.ctx
  run_ok "create HMAC key with a PIN" tpm2_create -C prim.ctx -G hmac -p right -u k.pub -r k.priv
  run_ok "load" tpm2_load -C prim.ctx -u k.pub -r k.priv -c k.ctx
  run_ok "evictcontrol" tpm2_evictcontrol -C o -c k.ctx "$KEY"
  run_ok "hmac with the right PIN" tpm2_hmac -c "$KEY" -p right data.bin
}
fail_until_lockout() {   # three wrong PINs: TPM_RC_LOCKOUT, failedTries 3
  local i
  for i in 1 2 3; do run_fails "hmac with a wrong PIN ($i)" tpm2_hmac -c "$KEY" -p wrong data.bin; done
  run_fails "hmac with the right PIN, locked out" tpm2_hmac -c "$KEY" -p right data.bin
  assert_match "0x921|lockout" "$(cat "$E2E_ERR")" "locked out (TPM_RC_LOCKOUT)"
  lockout_counter; assert_eq 3 "$LC" "failedTries after 3 wrong PINs"
}
# snapshot_vtpm DIR : a new vTPM bound under policy snapshot (tenant key t.key;
# $TENANT, $SIG, $AUDIT and img from the test), state in DIR, started, with NV
# index 0x01500040 holding "AAAAAAAA" (a.bin) and the DA key (setup_key).
# Sets U2 and S (its start options).
snapshot_vtpm() {
  U2=$(st_new_uuid)
  run_ok "bind (snapshot)" "$TENANT" bind --key t.key --vtpm-id "$U2" --image img \
    --enclave-sigstruct "$SIG" --policy snapshot --out m.snap
  S=(--binding manifest=m.snap --vm-image img --audit "file=$AUDIT")
  VTPM_STATE=$1
  vtpm_start "${S[@]}"
  run_ok "nvdefine" tpm2_nvdefine 0x01500040 -C o -s 8 -a "ownerread|ownerwrite"
  printf 'AAAAAAAA' >a.bin; run_ok "nvwrite A" tpm2_nvwrite 0x01500040 -C o -i a.bin
  setup_key
}
clock_ms() {   # sets CLK to TPM2_ReadClock's clock (ms)
  run_ok "readclock" tpm2_readclock
  CLK=$(awk '/^ *clock:/ { print $2; exit }' "$E2E_OUT")
  [ -n "$CLK" ] || fail "no clock in: $(tr '\n' ' ' <"$E2E_OUT")"
}
# after_restore : the snapshot's NV content is back, its DA state is not:
# failedTries not lower than before the restore (3), the right PIN locked
# out, and the TPM clock not below $CLOCK_BEFORE (read before the restore).
after_restore() {
  run_ok "nvread after the restore" tpm2_nvread 0x01500040 -C o -s 8 -o got.bin
  assert_files_equal a.bin got.bin "NV content of the restored snapshot"
  lockout_counter
  [ "$LC" -ge 3 ] || fail "failedTries $LC after the authorised restore: the DA state went back with the snapshot"
  run_fails "right PIN still locked out after the restore" tpm2_hmac -c "$KEY" -p right data.bin
  grep -q "dictionary-attack state re-applied" "$VTPM_LOG" || fail "the log does not report the DA re-apply"
  clock_ms
  [ "$CLK" -ge "$CLOCK_BEFORE" ] || fail "the TPM clock went back with the snapshot: $CLK ms < $CLOCK_BEFORE ms"
  note "restored: NV content of the snapshot, failedTries $LC (not lower), key still locked out, clock $CLK ms (was $CLOCK_BEFORE)"
}

# start_authority : a loopback time authority (svtpm-timeauth serve) with a
# new key ta.pem (public key ta.pub), signing real time, or while
# $WORK/ta.time holds a number, that time. Sets TIMEAUTH and TA_PORT.
start_authority() {
  TIMEAUTH=$(dirname "$VTPM_BIN")/svtpm-timeauth
  run_ok "authority key" "$TIMEAUTH" keygen --out ta.pem
  run_ok "authority public key" "$TIMEAUTH" pubkey --key ta.pem --out ta.pub
  local save_port=$VTPM_PORT save_ctrl=$VTPM_CTRL_PORT
  e2e_pick_ports || fail "no free port"
  TA_PORT=$VTPM_PORT
  VTPM_PORT=$save_port VTPM_CTRL_PORT=$save_ctrl
  "$TIMEAUTH" serve --key ta.pem --port "$TA_PORT" --time-file "$WORK/ta.time" >ta.log 2>&1 &
  E2E_BG_PIDS+=("$!")
  for _ in $(seq 50); do e2e_port_open "$TA_PORT" && break; sleep 0.1; done
  e2e_port_open "$TA_PORT" || fail "the time authority did not start: $(cat ta.log)"
}

# hostile_host_setup : for the tests whose host lies about time (libfaketime,
# Debian's faketime package, preloaded into the vTPM; skipped without it and
# in a sanitizer build, where libfaketime and the ASan runtime both interpose
# the clock and deadlock at start): bound_setup, start_authority, and a
# manifest m (policy strict) pinning that authority. Sets FT_LIB.
hostile_host_setup() {
  local syms
  FT_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
  [ -r "$FT_LIB" ] || skip "libfaketime not installed (Debian package faketime)"
  syms=$(nm -D "$(dirname "$VTPM_BIN")/svtpm-enclave" 2>/dev/null || true)
  if [[ $syms == *" __asan_"* ]]; then
    skip "a sanitizer build: libfaketime cannot be preloaded with the ASan runtime (the normal build runs this test)"
  fi
  bound_setup
  start_authority
  run_ok "bind with the time authority" "$TENANT" bind --key t.key --vtpm-id "$(st_new_uuid)" --image img \
    --enclave-sigstruct "$SIG" --policy strict --time-authority ta.pub --out m
}
# start_hostile ARGS... : the vTPM under the host's fake time ($WORK/ft);
# libfaketime needs syscalls outside the enclave's allowlist, so the filter
# is off (SVTPM_ENCLAVE_SECCOMP=off), as for the sanitizer runs.
start_hostile() {
  export LD_PRELOAD=$FT_LIB FAKETIME_TIMESTAMP_FILE=$WORK/ft FAKETIME_NO_CACHE=1 SVTPM_ENCLAVE_SECCOMP=off
  vtpm_start "$@"
  unset LD_PRELOAD FAKETIME_TIMESTAMP_FILE FAKETIME_NO_CACHE SVTPM_ENCLAVE_SECCOMP
}
