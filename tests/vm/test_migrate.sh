#!/usr/bin/env bash
# Real-VM migration test: QEMU migrates a running guest to a file and back, and
# the TPM state travels with it (CMD_GET_STATEBLOB on the way out,
# CMD_SET_STATEBLOB + INIT(delete volatile) on the way in).
#
# The guest (svtpm.mode=migrate) loops every ~0.5 s: TPM2_PCR_Extend(PCR16, D)
# then TPM2_PCR_Read(PCR16) on /dev/tpm0, printing
#   SVTPM-MIG iter=N extend_rc=.. read_rc=.. update=<pcrUpdateCounter> pcr16=<hex> end
# Host, per TPM device:
#   vTPM #1 + QEMU #1 on a fresh state dir; after a few iterations QMP stop,
#   migrate to "exec:cat > vm.mig", quit (vTPM #1 must exit by itself);
#   vTPM #2 on the same state dir + QEMU #2 -S -incoming "exec:cat vm.mig", cont.
# Pass when the guest goes on without rebooting: the counter continues, every
# TPM command succeeds, and PCR16 after N
# iterations equals H^N(0) where H(x) = SHA-256(x || D), before and after the
# migration (a TPM that lost its volatile state would restart PCR16 from zero),
# and pcrUpdateCounter is the same before and after.
#
# Knobs (see lib.sh): VTPM_BIN, VM_ACCEL=tcg|kvm, VM_KEEP=1,
# VM_TPM_DEVICES (default "tpm-tis tpm-crb"). MIGRATE_BOUND=1 (what
# test_migrate_bound.sh sets) runs it on a vTPM bound to a tenant manifest
# (policy strict, the guest's kernel and initrd as its images) with a counter
# store: the migration must pass rollback protection, without an audit record.
. "$(dirname "$0")/lib.sh"
command -v socat >/dev/null 2>&1 || { echo "SKIP: socat not installed (needed for QMP)"; exit 77; }
vm_init

VM_VTPM_ARGS=()
if [ "${MIGRATE_BOUND:-0}" = 1 ]; then
  tenant=$(dirname "$VTPM_BIN")/svtpm-tenant
  [ -x "$tenant" ] || { echo "SKIP: $tenant not built (the bound variant needs svtpm)"; exit 77; }
  "$tenant" keygen --out "$WORK/t.key" >/dev/null || vm_fail "svtpm-tenant keygen failed"
  "$tenant" bind --key "$WORK/t.key" --vtpm-id "$(cat /proc/sys/kernel/random/uuid)" \
    --image "$VM_DIR/vmlinuz" --image "$VM_DIR/initrd.img" \
    --enclave-sigstruct "$(dirname "$VTPM_BIN")/svtpm-enclave.sig" --policy strict \
    --out "$WORK/m" >/dev/null || vm_fail "svtpm-tenant bind failed"
  : >"$WORK/audit.jsonl"
  VM_VTPM_ARGS=(--binding "manifest=$WORK/m" --vm-image "$VM_DIR/vmlinuz" --vm-image "$VM_DIR/initrd.img"
                --counters "dir=$WORK/counters" --audit "file=$WORK/audit.jsonl")
  vm_log "bound: policy strict, counter store $WORK/counters"
fi

vm_mig_init

wait_migrate_done() {   # polls query-migrate on the open QMP connection
  local i status
  for i in $(seq 600); do
    vm_qmp '{"execute":"query-migrate"}'
    status=$(sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' <<<"$VM_QMP_REPLY")
    case $status in
      completed) return 0;;
      failed|cancelled) vm_fail "outgoing migration $status: $VM_QMP_REPLY";;
    esac
    sleep 0.1
  done
  vm_fail "outgoing migration did not complete within 60 s (last: $VM_QMP_REPLY)"
}

wait_incoming_done() {   # the destination (-S) pauses once the stream is loaded
  local name=$1 i status
  for i in $(seq 600); do
    vm_qmp '{"execute":"query-status"}'
    status=$(sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' <<<"$VM_QMP_REPLY")
    case $status in
      inmigrate) ;;
      paused|prelaunch) return 0;;
      *) vm_fail "$name: unexpected run state '$status' after incoming migration: $VM_QMP_REPLY";;
    esac
    vm_alive "${VM_PID[$name.qemu]}" || vm_fail "$name: QEMU exited during incoming migration"
    sleep 0.1
  done
  vm_fail "$name: incoming migration did not finish within 60 s"
}

migrate_once() {   # migrate_once DEVICE
  local dev=$1 src=$1-src dst=$1-dst state=$WORK/state-$1 mig=$WORK/$1.mig t0
  local sfirst slast supd dfirst dlast dupd
  t0=$(date +%s.%N)
  vm_start_vtpm "$src" "$VTPM_BIN" "$state"
  vm_start_qemu "$src" "$dev" migrate
  vm_wait_serial "$src" "$VM_MIG_RE" 4 "$VM_BOOT_TIMEOUT"

  vm_qmp_open "$src"
  vm_qmp '{"execute":"stop"}'
  case $VM_QMP_REPLY in *'"return"'*) ;; *) vm_fail "$src: stop failed: $VM_QMP_REPLY";; esac
  vm_qmp "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > $mig\"}}"
  case $VM_QMP_REPLY in *'"return"'*) ;; *) vm_fail "$src: migrate refused: $VM_QMP_REPLY";; esac
  wait_migrate_done
  vm_qmp_quit
  vm_finish "$src" 30
  [ -s "$mig" ] || vm_fail "$src: the migration stream $mig is empty"
  vm_mig_check "$src"
  sfirst=$CL_FIRST slast=$CL_LAST supd=$CL_UPD
  [ "$sfirst" = 1 ] || vm_fail "$src: the first complete iteration is $sfirst, not 1"
  vm_log "$src: migrated out after iteration $slast (PCR16=${VM_MIG_EXPECT[$slast]:0:16}…," \
         "stream $(( $(stat -c %s "$mig") / 1024 )) KiB)"

  vm_start_vtpm "$dst" "$VTPM_BIN" "$state"
  vm_start_qemu "$dst" "$dev" migrate -S -incoming "exec:cat $mig"
  vm_qmp_open "$dst"
  wait_incoming_done "$dst"
  vm_qmp '{"execute":"cont"}'
  case $VM_QMP_REPLY in *'"return"'*) ;; *) vm_fail "$dst: cont failed: $VM_QMP_REPLY";; esac
  vm_wait_serial "$dst" "$VM_MIG_RE" 6 60
  vm_qmp_quit
  vm_finish "$dst" 30

  if grep -aq 'Linux version\|SVTPM-INIT' "$WORK/$dst.serial"; then
    vm_fail "$dst: the guest rebooted instead of continuing after the migration"
  fi
  vm_mig_check "$dst"
  dfirst=$CL_FIRST dlast=$CL_LAST dupd=$CL_UPD
  # The line being printed when the VM stopped may be split across both consoles.
  [ "$dfirst" -ge $((slast + 1)) ] && [ "$dfirst" -le $((slast + 2)) ] \
    || vm_fail "$dst: the guest's counter did not continue: last before migration $slast, first after $dfirst"
  [ "$dupd" = "$supd" ] || vm_fail "$dst: pcrUpdateCounter changed across the migration ($supd -> $dupd)"
  vm_log "$dev: ok ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s):" \
         "iterations 1..$slast before, $dfirst..$dlast after the migration, PCR16 chain intact"
}

for dev in ${VM_TPM_DEVICES:-tpm-tis tpm-crb}; do
  migrate_once "$dev"
done
if [ "${MIGRATE_BOUND:-0}" = 1 ]; then
  [ ! -s "$WORK/audit.jsonl" ] || vm_fail "audit records during a legitimate migration: $(head -c 400 "$WORK/audit.jsonl")"
  [ -s "$WORK/counters/svtpm.nrs" ] || vm_fail "no counter store was written"
fi
vm_log "PASS"
exit 0
