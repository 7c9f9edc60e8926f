#!/usr/bin/env bash
# Real-VM test through libvirt (issue 3: libvirt uses svtpm unchanged).
#
# Debian's libvirt 9.0 starts the guest's vTPM itself: it finds `swtpm`,
# `swtpm_setup` and `swtpm_ioctl` on its PATH, asks `swtpm socket
# --print-capabilities`, provisions a new TPM with `swtpm_setup` (EK and
# platform certificates, which runs `swtpm` again) and starts
# `swtpm socket --ctrl type=unixio,... --tpmstate dir=...,mode=0600 --log ...
# --terminate --tpm2`. Here `swtpm` on that PATH is svtpm, so all of that
# runs against svtpm, and:
#   1. a guest (q35, <tpm model='tpm-crb'><backend type='emulator'
#      version='2.0'/>) boots, sees a TPM 2.0 and reads SHA-256 PCRs 0..7
#      holding the firmware's measurements;
#   2. the state libvirt keeps is svtpm's sealed file (no swtpm file in it),
#      the libvirt vTPM log carries svtpm's start line, and no vTPM process
#      outlives its guest;
#   3. a second boot on the same state works: the same PCRs, and the TPM's
#      resetCount went up (the state persisted);
#   4. `virsh save` and `virsh restore` of a running guest carry the TPM
#      over (CMD_GET/SET_STATEBLOB): the guest's PCR_Extend/PCR_Read loop
#      goes on without a reboot, every command succeeds, PCR16 stays on its
#      hash chain.
#   5. a vTPM bound through a bindings directory (SVTPM_BINDINGS in libvirt's
#      environment; DIR/<domain uuid>/manifest, image.0 and image.1 the
#      guest's kernel and initrd, policy strict): libvirt provisions and boots
#      it bound, and once the host puts back a copy of its state from an
#      earlier boot, `virsh start` fails: svtpm refuses the rollback
#      (AUDIT attack=rollback in libvirt's vTPM log) and leaves the files as
#      they were (svtpm only).
# The domain is type 'qemu' (TCG): the unprivileged libvirt cannot open /dev/kvm.
# libvirt runs as a session daemon (qemu:///session) in the work directory,
# so the host's libvirt configuration is neither needed nor touched; as root
# it runs as `nobody` (a root libvirtd is always the system daemon).
# With VTPM_BIN=/usr/bin/swtpm the same scenario runs against Debian's swtpm
# (the svtpm-only checks of 2 are then skipped).
# Knobs (see lib.sh): VTPM_BIN, VM_KEEP=1, VM_BOOT_TIMEOUT.
. "$(dirname "$0")/lib.sh"
for c in libvirtd virsh; do
  command -v "$c" >/dev/null 2>&1 || { echo "SKIP: $c not installed (scripts/setup.sh installs libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients)"; exit 77; }
done
vm_init
vm_mig_init

LV=$WORK/lv
DOM=svtpm-vmtest-$$
UUID=$(cat /proc/sys/kernel/random/uuid)
DOMS=("$DOM")
LV_PID=
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >/dev/null 2>&1 || vm_skip "setpriv not installed (util-linux)"
  RUNAS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  chmod 0711 "$WORK"
fi
LV_ENV=(env -i HOME="$LV/home" XDG_RUNTIME_DIR="$LV/run" XDG_CONFIG_HOME="$LV/cfg"
        XDG_DATA_HOME="$LV/data" XDG_CACHE_HOME="$LV/cache" PATH="$LV/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        SVTPM_PLATFORM_KEY="$LV/platform.key" SVTPM_BINDINGS="$LV/bindings" SVTPM_COUNTERS="$LV/counters")
V() { "${RUNAS[@]}" "${LV_ENV[@]}" virsh -q -c qemu:///session "$@"; }

lv_cleanup() {
  local d
  if [ -n "$LV_PID" ]; then
    for d in "${DOMS[@]}"; do
      V destroy "$d" >/dev/null 2>&1
      # (undefining removes the domain's TPM state: kept for VM_KEEP=1)
      [ "${VM_KEEP:-0}" = 1 ] || V undefine "$d" >/dev/null 2>&1
    done
    kill "$LV_PID" 2>/dev/null
    wait "$LV_PID" 2>/dev/null
  fi
  # anything libvirt started that is still around (QEMU, the vTPM, and the
  # session's virtlogd, which would linger for its 120 s idle timeout)
  pkill -KILL -f "$LV/" 2>/dev/null
  local p
  for p in $(pgrep -x virtlogd); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "XDG_RUNTIME_DIR=$LV/run" && kill "$p" 2>/dev/null
  done
  return 0
}
trap 'lv_cleanup; vm_cleanup' EXIT

# The binaries, the guest and every file libvirt writes live in $LV, owned by
# whoever runs libvirt (the build tree may not be readable by nobody).
mkdir -p "$LV"/{bin,home,run,cfg,data,cache,img,bindings,counters}
chmod 0700 "$LV/run"
cp "$VM_DIR/vmlinuz" "$VM_DIR/initrd.img" "$LV/img/"
real=$(readlink -f "$VTPM_BIN")
SVTPM=0
if [ -x "$(dirname "$real")/svtpm-enclave" ]; then
  SVTPM=1
  cp "$real" "$LV/bin/svtpm"
  cp "$(dirname "$real")/svtpm-enclave" "$(dirname "$real")/svtpm-enclave.sig" "$LV/bin/"
  ln -s svtpm "$LV/bin/swtpm"
else
  ln -s "$real" "$LV/bin/swtpm"
fi
if [ -n "${RUNAS[*]}" ]; then
  chown -R nobody:nogroup "$LV"
  "${RUNAS[@]}" test -w "$LV/home" ||
    vm_skip "nobody cannot reach the work directory $LV (a private TMPDIR?): set TMPDIR to a directory others can traverse"
fi

"${RUNAS[@]}" "${LV_ENV[@]}" libvirtd --timeout 600 >"$WORK/libvirtd.out" 2>&1 </dev/null &
LV_PID=$!
for _ in $(seq 100); do
  [ -S "$LV/run/libvirt/libvirt-sock" ] && break
  vm_alive "$LV_PID" || vm_fail "libvirtd exited at start: $(tail -n 5 "$WORK/libvirtd.out")"
  sleep 0.1
done
[ -S "$LV/run/libvirt/libvirt-sock" ] || vm_fail "libvirtd did not open its socket within 10 s"
vm_log "libvirtd $(libvirtd --version | awk '{print $NF}') (session, $( [ -n "${RUNAS[*]}" ] && echo "as nobody" || echo "as $(id -un)")), swtpm = $real"

# lv_define DEVICE MODE SERIAL: the domain, (re)defined with that TPM front
# end, guest mode and serial console file ($WORK/SERIAL.serial, appended to).
lv_define() {
  local dev=$1 mode=$2 serial=$WORK/$3.serial
  : >"$serial"
  [ -z "${RUNAS[*]}" ] || chown nobody:nogroup "$serial"
  cat >"$LV/dom.xml" <<EOF
<domain type='qemu'>
  <name>$DOM</name>
  <uuid>$UUID</uuid>
  <memory unit='MiB'>$VM_MEM</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$LV/img/vmlinuz</kernel>
    <initrd>$LV/img/initrd.img</initrd>
    <cmdline>console=ttyS0 panic=-1 svtpm.mode=$mode</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v "$QEMU")</emulator>
    <serial type='file'><source path='$serial' append='on'/><target port='0'/></serial>
    <tpm model='$dev'><backend type='emulator' version='2.0'/></tpm>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
  V define "$LV/dom.xml" >/dev/null || vm_fail "virsh define failed"
}

lv_state() { V domstate "$DOM" 2>/dev/null | head -n 1; }

# lv_wait_off SECONDS: the guest powered itself off.
lv_wait_off() {
  local i
  for i in $(seq $(($1 * 5))); do
    [ "$(lv_state)" = "shut off" ] && return 0
    sleep 0.2
  done
  vm_fail "$DOM still '$(lv_state)' after $1 s"
}

# lv_wait_lines NAME REGEX COUNT SECONDS (the guest running)
lv_wait_lines() {
  local i n
  for i in $(seq $(($4 * 5))); do
    n=$(tr -d '\r' <"$WORK/$1.serial" | grep -aEc "$2")
    [ "${n:-0}" -ge "$3" ] && return 0
    [ "$(lv_state)" = running ] || vm_fail "$DOM is '$(lv_state)' while waiting for $3× /$2/ (got ${n:-0})"
    sleep 0.2
  done
  vm_fail "timed out after $4 s waiting for $3× /$2/ on $DOM's console (got ${n:-0})"
}

# Guest processes of this domain's vTPM (libvirt names its socket after the domain).
lv_vtpm_pids() { pgrep -f "swtpm socket .*$DOM-swtpm.sock" || true; }

# lv_pcrs NAME: the PCR lines of a pcrs-mode boot, checked; sets PCRS and RESETS.
lv_pcrs() {
  local name=$1 i v
  vm_lines "$name" SVTPM-TPM | grep -q 'version_major=2 ' \
    || vm_fail "$name: the guest saw no TPM 2.0 ($(vm_lines "$name" 'SVTPM-[A-Z]*' | head -n 3 | tr '\n' ' '))"
  PCRS=
  for i in 0 1 2 3 4 5 6 7; do
    v=$(vm_lines "$name" SVTPM-PCR | awk -v i="$i" '$3 == i { print $4 }')
    [[ $v =~ ^[0-9A-Fa-f]{64}$ ]] || vm_fail "$name: PCR $i not read ('$v')"
    PCRS+="$i=$v "
  done
  v=$(vm_lines "$name" SVTPM-PCR | awk '$3 == 0 { print $4 }')
  [ "$v" != 0000000000000000000000000000000000000000000000000000000000000000 ] \
    || vm_fail "$name: PCR 0 holds no firmware measurement"
  RESETS=$(vm_lines "$name" SVTPM-CLOCK | sed -n 's/.* reset=\([0-9a-fA-F]*\) .*/\1/p')
  [ -n "$RESETS" ] || vm_fail "$name: no TPM2_ReadClock answer from the guest"
  tr -d '\r' <"$WORK/$name.serial" | grep -aq '^SVTPM-DONE end$' || vm_fail "$name: the guest did not finish"
}

DEV=${VM_TPM_DEVICES:-tpm-crb}
DEV=${DEV%% *}
STATE=$LV/cfg/libvirt/qemu/swtpm/$UUID/tpm2

# 1. First boot: libvirt provisions the TPM (swtpm_setup) and starts the vTPM.
t0=$(date +%s)
lv_define "$DEV" pcrs boot1
V start "$DOM" >/dev/null || vm_fail "virsh start failed: $(tail -n 5 "$LV/cache/libvirt/qemu/log/$DOM.log" 2>/dev/null)"
lv_wait_off "$VM_BOOT_TIMEOUT"
lv_pcrs boot1
PCRS1=$PCRS RESETS1=$RESETS
vm_log "boot 1 ($DEV, $(( $(date +%s) - t0 ))s): TPM 2.0, PCRs 0..7 read, resetCount $RESETS1"

# 2. What libvirt ran and kept.
VLOG=$LV/cache/libvirt/qemu/log/$DOM-swtpm.log
grep -q "Successfully authored TPM state" "$VLOG" 2>/dev/null \
  || vm_fail "swtpm_setup did not provision the TPM: $(tail -n 5 "$VLOG" 2>/dev/null)"
if [ "$SVTPM" = 1 ]; then
  grep -q "TEE platform 'soft'" "$VLOG" || vm_fail "the libvirt vTPM log has no svtpm start line: libvirt did not run svtpm"
  [ -s "$STATE/svtpm.permall" ] || vm_fail "no sealed svtpm.permall in libvirt's state directory $STATE"
  ls "$STATE" | grep -q '^tpm2-' && vm_fail "libvirt's state directory holds swtpm files: $(ls "$STATE" | tr '\n' ' ')"
fi
for _ in $(seq 50); do [ -z "$(lv_vtpm_pids)" ] && break; sleep 0.1; done
[ -z "$(lv_vtpm_pids)" ] || vm_fail "the vTPM outlived its guest: $(lv_vtpm_pids | tr '\n' ' ')"

# 3. Second boot on the same state.
lv_define "$DEV" pcrs boot2
V start "$DOM" >/dev/null || vm_fail "virsh start (second boot) failed"
lv_wait_off "$VM_BOOT_TIMEOUT"
lv_pcrs boot2
[ "$PCRS" = "$PCRS1" ] || vm_fail "PCRs differ between two boots of the same guest: $PCRS1 / $PCRS"
[ $((16#$RESETS)) -gt $((16#$RESETS1)) ] \
  || vm_fail "resetCount did not go up across boots ($RESETS1 -> $RESETS): the state did not persist"
vm_log "boot 2: same PCRs, resetCount $RESETS1 -> $RESETS"

# 4. virsh save / restore of a running guest.
lv_define "$DEV" migrate mig
V start "$DOM" >/dev/null || vm_fail "virsh start (migrate mode) failed"
lv_wait_lines mig "$VM_MIG_RE" 4 "$VM_BOOT_TIMEOUT"
V save "$DOM" "$LV/save.img" >/dev/null || vm_fail "virsh save failed"
[ "$(lv_state)" = "shut off" ] || vm_fail "$DOM is '$(lv_state)' after virsh save"
for _ in $(seq 50); do [ -z "$(lv_vtpm_pids)" ] && break; sleep 0.1; done
[ -z "$(lv_vtpm_pids)" ] || vm_fail "the vTPM outlived its saved guest"
vm_mig_check mig
before=$CL_LAST upd=$CL_UPD
V restore "$LV/save.img" >/dev/null || vm_fail "virsh restore failed: $(tail -n 5 "$VLOG" 2>/dev/null)"
lv_wait_lines mig "$VM_MIG_RE" $((before + 4)) 60
V destroy "$DOM" >/dev/null
[ "$(tr -d '\r' <"$WORK/mig.serial" | grep -ac 'SVTPM-INIT')" = 1 ] \
  || vm_fail "the guest rebooted instead of continuing after virsh restore"
vm_mig_check mig
[ "$CL_FIRST" = 1 ] || vm_fail "the first complete iteration is $CL_FIRST, not 1"
[ "$CL_UPD" = "$upd" ] || vm_fail "pcrUpdateCounter changed across save/restore ($upd -> $CL_UPD)"
vm_log "virsh save after iteration $before, restore: iterations up to $CL_LAST, every TPM command ok, PCR16 chain intact"

# 5. A bound vTPM under libvirt, and the rollback of its state refused.
if [ "$SVTPM" = 1 ]; then
  tenant=$(dirname "$real")/svtpm-tenant
  [ -x "$tenant" ] || vm_fail "$tenant not built"
  DOM=svtpm-vmtest-bound-$$ UUID=$(cat /proc/sys/kernel/random/uuid)
  DOMS+=("$DOM")
  STATE=$LV/cfg/libvirt/qemu/swtpm/$UUID/tpm2
  VLOG=$LV/cache/libvirt/qemu/log/$DOM-swtpm.log
  B=$LV/bindings/$UUID
  mkdir -p "$B"
  "$tenant" keygen --out "$WORK/tenant.key" >/dev/null || vm_fail "svtpm-tenant keygen failed"
  "$tenant" bind --key "$WORK/tenant.key" --vtpm-id "$UUID" --image "$LV/img/vmlinuz" \
    --image "$LV/img/initrd.img" --enclave-sigstruct "$LV/bin/svtpm-enclave.sig" --policy strict \
    --out "$B/manifest" 2>/dev/null || vm_fail "svtpm-tenant bind failed"
  ln -s "$LV/img/vmlinuz" "$B/image.0"
  ln -s "$LV/img/initrd.img" "$B/image.1"
  [ -z "${RUNAS[*]}" ] || chown -R nobody:nogroup "$LV/bindings"
  lv_define "$DEV" pcrs bound1
  V start "$DOM" >/dev/null || vm_fail "virsh start (bound) failed: $(grep -a 'AUDIT\|refus' "$VLOG" 2>/dev/null | tail -n 3)"
  lv_wait_off "$VM_BOOT_TIMEOUT"
  lv_pcrs bound1
  # (libvirt logs the vTPM at swtpm's default level, which leaves out the
  # enclave's "bound to tenant" line; the counter store shows the binding)
  [ -s "$LV/counters/svtpm.nrs" ] || vm_fail "libvirt's vTPM did not run bound: it wrote no counter store"
  cp -a "$STATE" "$WORK/state.old"
  lv_define "$DEV" pcrs bound2
  V start "$DOM" >/dev/null || vm_fail "virsh start (bound, second boot) failed"
  lv_wait_off "$VM_BOOT_TIMEOUT"
  lv_pcrs bound2
  ! grep -q "AUDIT" "$VLOG" || vm_fail "audit records on legitimate boots: $(grep AUDIT "$VLOG" | head -n 2)"
  # the host puts the state of the first boot back
  cp -a "$WORK/state.old/." "$STATE/"
  sum=$(cat "$STATE"/* | sha256sum)
  lv_define "$DEV" pcrs bound3
  if V start "$DOM" >/dev/null 2>"$WORK/bound3.err"; then
    lv_wait_off "$VM_BOOT_TIMEOUT"
    vm_fail "libvirt started the guest on a rolled-back vTPM state"
  fi
  grep -q "AUDIT: attack=rollback" "$VLOG" \
    || vm_fail "no rollback audit record in libvirt's vTPM log: $(tail -n 3 "$VLOG")"
  [ "$(cat "$STATE"/* | sha256sum)" = "$sum" ] || vm_fail "the refused start changed the state files"
  vm_log "bound (bindings directory): two boots, then the state of boot 1 put back: virsh start refused ($(grep -o 'AUDIT: attack=rollback' "$VLOG" | head -n 1)), files untouched"
fi
vm_log "PASS ($(( $(date +%s) - t0 ))s)"
exit 0
