#!/usr/bin/env bash
# End-to-end: one counter store, several vTPMs writing at once (issue 4).
#
# Two bound vTPMs (one tenant, two vTPM ids) share --counters dir=. Each runs
# a stream of NV writes at the same time as the other, so their counter-store
# read-modify-writes contend for the store's lock. A lost update would leave
# one vTPM's entry behind its state, and that vTPM would refuse to start
# (counter-store-rollback); so both are restarted and must start, hold their
# last NV content and have written no audit record. Then one vTPM's state is
# rolled back: it is refused while the other starts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
st_require_svtpm
e2e_require tpm2_nvdefine tpm2_nvwrite tpm2_nvread
. "$(dirname "$0")/lib_da.sh"
bound_setup
N=${E2E_SHARED_WRITES:-40}
for v in a b; do
  run_ok "bind $v" "$TENANT" bind --key t.key --vtpm-id "$(st_new_uuid)" --image img \
    --enclave-sigstruct "$SIG" --policy strict --out "m.$v"
done
args() { echo --binding "manifest=m.$1" --vm-image img --audit "file=$AUDIT"; }

# start_b: the second vTPM, outside lib.sh's single-server bookkeeping (lib.sh
# still cleans up its process group). Sets B_PORT, B_TCTI and B_PID.
start_b() {
  local i a_port=$VTPM_PORT a_ctrl=$VTPM_CTRL_PORT
  e2e_pick_ports || fail "no free ports"
  B_PORT=$VTPM_PORT
  VTPM_PORT=$a_port VTPM_CTRL_PORT=$a_ctrl   # lib.sh's server stays vTPM a
  B_TCTI="swtpm:host=127.0.0.1,port=$B_PORT"
  mkdir -p "$WORK/sb"
  setsid "$VTPM_BIN" socket --tpm2 --tpmstate "dir=$WORK/sb" --server "type=tcp,port=$B_PORT" \
    --ctrl "type=tcp,port=$((B_PORT + 1))" --flags not-need-init,startup-clear \
    --log "file=$WORK/b.log,level=2" $(args b) </dev/null >>"$WORK/b.out" 2>&1 &
  B_PID=$!
  E2E_GROUPS+=("$B_PID"); E2E_BG_PIDS+=("$B_PID")
  for i in $(seq 100); do e2e_port_open "$B_PORT" && e2e_port_open "$((B_PORT + 1))" && return 0; sleep 0.1; done
  fail "vTPM b did not start: $(tail -n 3 "$WORK/b.out")"
}
stop_b() {
  swtpm_ioctl --tcp "127.0.0.1:$((B_PORT + 1))" -s >/dev/null 2>&1 || fail "vTPM b: CMD_SHUTDOWN failed"
  wait "$B_PID" || fail "vTPM b exited with $?"
}
writes() {   # writes TCTI TAG : N NV writes, the last content is TAG's
  local i
  for i in $(seq "$N"); do
    printf '%-8s' "$2$i" | head -c 8 >"nv.$2"
    TPM2TOOLS_TCTI=$1 timeout 20 tpm2_nvwrite 0x01500050 -C o -i "nv.$2" >/dev/null 2>"err.$2" || {
      echo "nvwrite $2 $i failed: $(cat "err.$2")"; return 1; }
  done
}

VTPM_STATE=$WORK/sa
vtpm_start $(args a)
A_TCTI=$TPM2TOOLS_TCTI
start_b
run_ok "nvdefine on a" tpm2_nvdefine 0x01500050 -C o -s 8 -a "ownerread|ownerwrite"
TPM2TOOLS_TCTI=$B_TCTI run_ok "nvdefine on b" tpm2_nvdefine 0x01500050 -C o -s 8 -a "ownerread|ownerwrite"
writes "$A_TCTI" a >wa.log 2>&1 & wa=$!
writes "$B_TCTI" b >wb.log 2>&1 & wb=$!
wait "$wa" || fail "vTPM a: $(cat wa.log)"
wait "$wb" || fail "vTPM b: $(cat wb.log)"
note "$N NV writes on each of two vTPMs at once, one counter store"
vtpm_stop || fail "stop a"
stop_b
cp -a sa sa.old

# both start again and hold their last writes
vtpm_start $(args a)
run_ok "nvread a" tpm2_nvread 0x01500050 -C o -s 8 -o got.a
printf '%-8s' "a$N" | head -c 8 >want.a; assert_files_equal want.a got.a "a's last NV write"
start_b
TPM2TOOLS_TCTI=$B_TCTI run_ok "nvread b" tpm2_nvread 0x01500050 -C o -s 8 -o got.b
printf '%-8s' "b$N" | head -c 8 >want.b; assert_files_equal want.b got.b "b's last NV write"
printf 'later   ' >nv.a; run_ok "one more write on a" tpm2_nvwrite 0x01500050 -C o -i nv.a
vtpm_stop || fail "stop a"
stop_b
[ ! -s "$AUDIT" ] || fail "audit records without an attack: $(head -c 300 "$AUDIT")"

# a's state rolled back: a is refused, b is not affected
rm -rf sa; cp -a sa.old sa
if timeout 20 "$ST_SVTPM" socket --tpm2 --tpmstate "dir=$WORK/sa" --server "type=unixio,path=$WORK/r.sock" \
     --ctrl "type=unixio,path=$WORK/r.ctrl" --flags not-need-init,startup-clear $(args a) </dev/null >r.out 2>&1; then
  fail "vTPM a started on its rolled-back state"
fi
grep -q "attack=rollback" r.out || fail "no attack=rollback: $(grep -v TEE r.out | head -n 3)"
start_b
stop_b
note "a's rolled-back state refused, b unaffected"
