# Shared helpers of the real-VM tests (sourced by tests/vm/test_*.sh).
#
# Each test boots the guest built by tests/vm/build-guest.sh under
# qemu-system-x86_64 with an emulated TPM backed by the binary under test,
# started exactly as libvirt starts swtpm:
#   $VTPM_BIN socket --tpm2 --tpmstate dir=D,mode=0600
#     --ctrl type=unixio,path=S,mode=0600 --log file=L,level=20 --terminate
#
# Environment knobs:
#   VTPM_BIN        binary under test (default: $BUILD/swtpm)
#   REF_SWTPM       reference swtpm for the PCR comparison (default: `swtpm` on
#                   PATH; "none" disables the comparison)
#   VM_ACCEL        tcg | kvm (default: kvm if /dev/kvm boots the guest, else tcg)
#   VM_MACHINE      QEMU machine type (default: q35)
#   VM_BOOT_TIMEOUT seconds one boot may take (default 120 under TCG, 60 under KVM)
#   VM_TPM_DEVICES  QEMU TPM front ends to test (default: "tpm-tis tpm-crb")
#   VM_VTPM_ARGS    extra options for every vTPM start (an array; e.g. a binding)
#   VM_MEM          guest RAM in MiB (default 256)
#   VM_KVM_PROBE_TIMEOUT  seconds the KVM probe boot may take (default 20)
#   VM_KEEP=1       keep the work directory (logs, state, migration stream)
#   QEMU            the QEMU binary (default: qemu-system-x86_64)
# The guest (kernel + initramfs) comes from tests/vm/build-guest.sh, cached in
# $BUILD/vm; so is the KVM probe's verdict (per host boot, QEMU and kernel).
#
# Exit codes follow tests/run.sh: 0 pass, 77 skip (reason on the last line), else fail.

set -u
VM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) VM_BUILD=$BUILD;; *) VM_BUILD=$VM_TOP/$BUILD;; esac
VM_DIR=$VM_BUILD/vm
VTPM_BIN=${VTPM_BIN:-$VM_BUILD/swtpm}
case $VTPM_BIN in
  /*) ;;
  */*) VTPM_BIN=$PWD/$VTPM_BIN;;
  *) VTPM_BIN=$(command -v "$VTPM_BIN" 2>/dev/null || echo "$VTPM_BIN");;
esac
QEMU=${QEMU:-qemu-system-x86_64}
VM_MACHINE=${VM_MACHINE:-q35}
VM_MEM=${VM_MEM:-256}
WORK=
ACCEL=
declare -A VM_PID=()       # NAME.vtpm / NAME.qemu -> pid
VM_QMP_PID=

vm_log()  { echo "[$(date +%H:%M:%S)] $*"; }
vm_skip() { vm_cleanup_procs; echo "SKIP: $*"; VM_SKIPPING=1; exit 77; }
vm_fail() {
  echo "FAIL: $*"
  vm_diag
  echo "FAIL: $*"
  exit 1
}

# Tails of every log in the work directory: serial consoles, vTPM logs and
# output, QEMU output.
vm_diag() {
  [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
  local f n
  echo "================ diagnostics (work dir $WORK, kept only with VM_KEEP=1) ================"
  for f in "$WORK"/*.serial "$WORK"/*.vtpm.log "$WORK"/*.vtpm.out "$WORK"/*.qemu.out; do
    [ -e "$f" ] || continue
    case $f in *.vtpm.log) n=50;; *.serial) n=40;; *) n=20;; esac
    echo "---------------- last $n lines of $(basename "$f") ----------------"
    # (runs of all-zero hex-dump lines, as in swtpm's level-20 log, are folded)
    tr -d '\r' <"$f" | awk '
      length($0) >= 47 && /^[ 0]+$/ { z++; next }
      { if (z) print "  ... " z " line(s) of zero bytes"; z = 0; print }
      END { if (z) print "  ... " z " line(s) of zero bytes" }' | tail -n "$n" | cut -c1-300
  done
  echo "=============================================================="
}

vm_alive() {   # vm_alive PID: running and not a zombie
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ "$st" != Z ]
}

# vm_wait_exit KEY SECONDS: waits for the process VM_PID[KEY] to end; returns 1
# on timeout, else 0 and sets VM_RC to its exit status.
vm_wait_exit() {
  local key=$1 secs=$2 pid=${VM_PID[$1]:-} i=0
  VM_RC=
  [ -n "$pid" ] || { VM_RC=0; return 0; }
  while vm_alive "$pid"; do
    [ $i -lt $((secs * 10)) ] || return 1
    sleep 0.1; i=$((i + 1))
  done
  wait "$pid" 2>/dev/null
  VM_RC=$?
  unset "VM_PID[$key]"
  return 0
}

vm_cleanup_procs() {
  local k pid
  vm_qmp_close
  for k in "${!VM_PID[@]}"; do
    pid=${VM_PID[$k]}
    vm_alive "$pid" && kill -TERM "$pid" 2>/dev/null
  done
  for k in "${!VM_PID[@]}"; do
    pid=${VM_PID[$k]}
    for _ in $(seq 30); do vm_alive "$pid" || break; sleep 0.1; done
    vm_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "VM_PID[$k]"
  done
}

vm_cleanup() {
  vm_cleanup_procs
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${VM_KEEP:-0}" = 1 ]; then
      [ -n "${VM_SKIPPING:-}" ] || echo "kept work directory $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
}

# vm_init: prerequisites (or skip), the guest image, the work dir, the accelerator.
vm_init() {
  trap vm_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  command -v "$QEMU" >/dev/null 2>&1 || vm_skip "$QEMU not installed (scripts/setup.sh installs qemu-system-x86)"
  [ -x "$VTPM_BIN" ] || vm_skip "VTPM_BIN=$VTPM_BIN is not an executable (build it first)"
  local out rc
  out=$(bash "$VM_TOP/tests/vm/build-guest.sh" 2>&1); rc=$?
  [ -n "$out" ] && echo "$out"
  case $rc in
    0) ;;
    77) vm_skip "$(echo "$out" | tail -n 1)";;
    *) vm_fail "building the guest failed (tests/vm/build-guest.sh rc=$rc)";;
  esac
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/svtpm-vm.XXXXXX") || vm_fail "mktemp failed"
  chmod 0700 "$WORK"
  export SVTPM_PLATFORM_KEY=$WORK/platform.key
  vm_pick_accel
  case $ACCEL in
    kvm) VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-60};;
    *)   VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-120};;
  esac
  vm_log "VTPM_BIN=$VTPM_BIN accel=$ACCEL machine=$VM_MACHINE kernel=$(cat "$VM_DIR/kernel/VERSION")"
}

# The reference swtpm for comparisons ("" when there is none).
vm_ref_swtpm() {
  local r=${REF_SWTPM:-}
  [ "$r" = none ] && return 0
  [ -n "$r" ] || r=$(command -v swtpm 2>/dev/null || true)
  [ -n "$r" ] && [ -x "$r" ] && echo "$r"
  return 0
}

# KVM only if /dev/kvm exists, is usable and really boots the guest (nested
# setups exist where /dev/kvm opens but the guest kernel hangs). The verdict is
# cached per host boot, QEMU version and guest kernel.
vm_pick_accel() {
  if [ -n "${VM_ACCEL:-}" ]; then ACCEL=$VM_ACCEL; return; fi
  ACCEL=tcg
  [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 0
  local key cache=$VM_DIR/accel-probe t0
  key="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) $("$QEMU" --version | head -n 1) $(cat "$VM_DIR/kernel/PACKAGE")"
  if [ -f "$cache" ] && [ "$(sed -n 1p "$cache")" = "$key" ]; then
    ACCEL=$(sed -n 2p "$cache"); return 0
  fi
  t0=$(date +%s)
  timeout -k 2 "${VM_KVM_PROBE_TIMEOUT:-20}" "$QEMU" -accel kvm -machine "$VM_MACHINE" -nodefaults \
    -nographic -m "$VM_MEM" -no-reboot -monitor none -serial "file:$WORK/kvm-probe.log" \
    -kernel "$VM_DIR/vmlinuz" -initrd "$VM_DIR/initrd.img" \
    -append "console=ttyS0 panic=-1 quiet svtpm.mode=probe" </dev/null >/dev/null 2>&1
  if grep -aq SVTPM-PROBE-OK "$WORK/kvm-probe.log" 2>/dev/null; then ACCEL=kvm; fi
  vm_log "KVM probe: $ACCEL ($(( $(date +%s) - t0 ))s)"
  printf '%s\n%s\n' "$key" "$ACCEL" >"$cache.tmp" && mv "$cache.tmp" "$cache"
  rm -f "$WORK/kvm-probe.log"
}

# vm_start_vtpm NAME BIN STATEDIR: starts the vTPM as libvirt does; its control
# socket is $WORK/NAME.sock.
vm_start_vtpm() {
  local name=$1 bin=$2 state=$3 sock=$WORK/$1.sock i
  mkdir -p "$state" && chmod 0700 "$state"
  rm -f "$sock"
  "$bin" socket --tpm2 --tpmstate "dir=$state,mode=0600" \
    --ctrl "type=unixio,path=$sock,mode=0600" \
    --log "file=$WORK/$name.vtpm.log,level=20" --terminate ${VM_VTPM_ARGS[@]+"${VM_VTPM_ARGS[@]}"} \
    </dev/null >"$WORK/$name.vtpm.out" 2>&1 7>&- 8<&- &
  VM_PID[$name.vtpm]=$!
  for i in $(seq 100); do
    [ -S "$sock" ] && return 0
    vm_alive "${VM_PID[$name.vtpm]}" || { vm_wait_exit "$name.vtpm" 1
      vm_fail "$name: vTPM $bin exited at start (rc=$VM_RC)"; }
    sleep 0.05
  done
  vm_fail "$name: vTPM $bin did not create $sock within 5 s"
}

# vm_start_qemu NAME DEVICE MODE [QEMU ARGS...]: boots the guest against the
# vTPM socket $WORK/NAME.sock; serial console to $WORK/NAME.serial, QMP on
# $WORK/NAME.qmp.
vm_start_qemu() {
  local name=$1 dev=$2 mode=$3; shift 3
  "$QEMU" -accel "$ACCEL" -machine "$VM_MACHINE" -nodefaults -nographic -m "$VM_MEM" -smp 1 \
    -no-reboot -monitor none -qmp "unix:$WORK/$name.qmp,server=on,wait=off" \
    -serial "file:$WORK/$name.serial" \
    -kernel "$VM_DIR/vmlinuz" -initrd "$VM_DIR/initrd.img" \
    -append "console=ttyS0 panic=-1 svtpm.mode=$mode" \
    -chardev "socket,id=chrtpm,path=$WORK/$name.sock" \
    -tpmdev emulator,id=tpm0,chardev=chrtpm -device "$dev,tpmdev=tpm0" \
    "$@" </dev/null >"$WORK/$name.qemu.out" 2>&1 7>&- 8<&- &
  VM_PID[$name.qemu]=$!
}

# vm_wait_serial NAME REGEX COUNT SECONDS: waits until COUNT lines of the serial
# log match REGEX (extended); fails if QEMU exits or time runs out.
vm_wait_serial() {
  local name=$1 re=$2 count=$3 secs=$4 i=0 n
  while :; do
    n=$( { tr -d '\r' <"$WORK/$name.serial"; } 2>/dev/null | grep -aEc "$re")
    [ "${n:-0}" -ge "$count" ] && return 0
    vm_alive "${VM_PID[$name.qemu]}" || vm_fail "$name: QEMU exited while waiting for $count× /$re/ on the serial console (got ${n:-0})"
    [ $i -lt $((secs * 10)) ] || vm_fail "$name: timed out after ${secs}s waiting for $count× /$re/ on the serial console (got ${n:-0})"
    sleep 0.1; i=$((i + 1))
  done
}

# vm_finish NAME SECONDS: waits for QEMU to end (exit 0) and then for the vTPM,
# which must exit by itself (--terminate / CMD_SHUTDOWN) with status 0.
vm_finish() {
  local name=$1 secs=$2
  vm_wait_exit "$name.qemu" "$secs" || vm_fail "$name: QEMU still running after ${secs}s"
  [ "$VM_RC" = 0 ] || vm_fail "$name: QEMU exited with status $VM_RC"
  vm_wait_exit "$name.vtpm" 15 || vm_fail "$name: vTPM did not exit within 15 s after QEMU ended (--terminate)"
  [ "$VM_RC" = 0 ] || vm_fail "$name: vTPM exited with status $VM_RC after QEMU ended"
}

# ---- QMP: one connection at a time, kept open through two FIFOs and socat ----
vm_qmp_open() {   # vm_qmp_open NAME
  local name=$1 sock=$WORK/$1.qmp i line
  for i in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
  [ -S "$sock" ] || vm_fail "$name: no QMP socket"
  rm -f "$WORK/qmp.in" "$WORK/qmp.out"
  mkfifo "$WORK/qmp.in" "$WORK/qmp.out"
  socat -t 1 - "UNIX-CONNECT:$sock" <"$WORK/qmp.in" >"$WORK/qmp.out" 2>"$WORK/$name.qmp.err" &
  VM_QMP_PID=$!
  exec 7>"$WORK/qmp.in" 8<"$WORK/qmp.out"
  read -r -t 10 -u 8 line || vm_fail "$name: no QMP greeting"
  vm_qmp '{"execute":"qmp_capabilities"}'
}

# vm_qmp JSON: sends one command; its reply line ({"return"…} or {"error"…})
# lands in VM_QMP_REPLY (events are skipped).
vm_qmp() {
  local line
  VM_QMP_REPLY=
  echo "$1" >&7 || vm_fail "QMP connection lost sending $1"
  while read -r -t 30 -u 8 line; do
    case $line in *'"return"'*|*'"error"'*) VM_QMP_REPLY=$line; return 0;; esac
  done
  vm_fail "no QMP reply to $1"
}

# vm_qmp_quit: asks QEMU to quit (its reply may be lost as it exits) and closes QMP.
vm_qmp_quit() {
  echo '{"execute":"quit"}' >&7 2>/dev/null
  vm_qmp_close
}

vm_qmp_close() {
  [ -n "$VM_QMP_PID" ] || return 0
  exec 7>&- 8<&-
  local i
  for i in $(seq 30); do vm_alive "$VM_QMP_PID" || break; sleep 0.1; done
  vm_alive "$VM_QMP_PID" && kill "$VM_QMP_PID" 2>/dev/null
  wait "$VM_QMP_PID" 2>/dev/null
  VM_QMP_PID=
}

# Serial lines the guest printed with prefix TAG, complete ones only (" end").
vm_lines() {   # vm_lines NAME TAG
  tr -d '\r' <"$WORK/$1.serial" | grep -a "^$2 .* end\$"
}

# ---- the guest's svtpm.mode=migrate loop: TPM2_PCR_Extend(16, D) + PCR_Read(16) ----
# vm_mig_init: D (the digest, from the guest's /init) and the expected chain.
vm_mig_init() {
  VM_MIG_D=$(sed -n 's/^ *D=\([0-9a-f]\{64\}\)$/\1/p' "$VM_TOP/tests/vm/guest-init.sh")
  [ -n "$VM_MIG_D" ] || vm_fail "cannot find the PCR16 digest D= in tests/vm/guest-init.sh"
  if command -v xxd >/dev/null 2>&1; then VM_XXD=(xxd); else VM_XXD=(busybox xxd); fi
  VM_MIG_RE='^SVTPM-MIG iter=[0-9]+ .* end$'
  VM_MIG_EXPECT=(0000000000000000000000000000000000000000000000000000000000000000)
}

# vm_mig_expect_upto N: VM_MIG_EXPECT[N] is PCR16 after N extends, H^N(0) with
# H(x) = SHA-256(x || D).
vm_mig_expect_upto() {
  local n=$1 h
  while [ "${#VM_MIG_EXPECT[@]}" -le "$n" ]; do
    h=${VM_MIG_EXPECT[$((${#VM_MIG_EXPECT[@]} - 1))]}
    VM_MIG_EXPECT+=("$(printf '%s%s' "$h" "$VM_MIG_D" | "${VM_XXD[@]}" -r -p | sha256sum | cut -c1-64)")
  done
}

# vm_mig_check NAME: every complete SVTPM-MIG line of NAME's console is
# consistent (each TPM command succeeded, iterations consecutive, PCR16 on
# the chain, pcrUpdateCounter unchanged); sets CL_FIRST, CL_LAST
# (iterations) and CL_UPD (the last pcrUpdateCounter).
vm_mig_check() {
  local name=$1 line it rc1 rc2 upd pcr prev='' first='' prevupd='' lines
  mapfile -t lines < <(vm_lines "$name" SVTPM-MIG)
  for line in "${lines[@]}"; do
    [[ $line =~ ^SVTPM-MIG\ iter=([0-9]+)\ extend_rc=([^ ]*)\ read_rc=([^ ]*)\ update=([^ ]*)\ pcr16=([^ ]*)\ end$ ]] \
      || vm_fail "$name: malformed guest line '$line'"
    it=${BASH_REMATCH[1]} rc1=${BASH_REMATCH[2]} rc2=${BASH_REMATCH[3]}
    upd=${BASH_REMATCH[4]} pcr=${BASH_REMATCH[5],,}
    [ "$rc1" = 00000000 ] || vm_fail "$name: TPM2_PCR_Extend failed in iteration $it (rc=$rc1): '$line'"
    [ "$rc2" = 00000000 ] || vm_fail "$name: TPM2_PCR_Read failed in iteration $it (rc=$rc2): '$line'"
    [ -z "$prev" ] || [ "$it" -eq $((prev + 1)) ] || vm_fail "$name: iteration $it follows $prev"
    [[ $upd =~ ^[0-9a-f]{8}$ ]] || vm_fail "$name: bad pcrUpdateCounter in '$line'"
    # PCR16 is a debug PCR: extending it does not bump pcrUpdateCounter, so the
    # counter stays what the firmware's extends left (also across a migration).
    [ -z "$prevupd" ] || [ "$upd" = "$prevupd" ] \
      || vm_fail "$name: pcrUpdateCounter changed from $prevupd to $upd in iteration $it"
    vm_mig_expect_upto "$it"
    [ "$pcr" = "${VM_MIG_EXPECT[$it]}" ] \
      || vm_fail "$name: PCR16 after $it extends is $pcr, expected ${VM_MIG_EXPECT[$it]}"
    [ -n "$first" ] || first=$it
    prev=$it prevupd=$upd
  done
  [ -n "$first" ] || vm_fail "$name: no complete SVTPM-MIG line"
  CL_FIRST=$first CL_LAST=$prev CL_UPD=$prevupd
}
