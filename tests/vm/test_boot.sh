#!/usr/bin/env bash
# Real-VM boot test: SeaBIOS + a Debian 12 kernel boot under QEMU with the vTPM
# under test as the TPM 2.0 behind -device tpm-tis and -device tpm-crb.
#
# For each device:
#   boot 1 on a fresh state directory, boot 2 on the same directory after the
#   vTPM was restarted. In both the guest must see a TPM 2.0 through the right
#   driver (tpm_tis / tpm_crb) and read its SHA-256 PCRs 0..7 (the firmware's
#   measurements; PCR0 not zero); both boots measure the same, so the PCRs must
#   be equal; the TPM's resetCount (NV state) must have grown from boot 1 to 2
#   and the clock must not have gone back, i.e. the state persisted.
#   boot 3 (if a reference swtpm is installed and it is not the binary under
#   test) against the reference swtpm: PCRs 0..7 must equal those of boot 1.
# QEMU must power off cleanly, and the vTPM must then exit by itself with
# status 0 (--terminate / CMD_SHUTDOWN).
#
# Knobs (see lib.sh): VTPM_BIN, REF_SWTPM, VM_ACCEL=tcg|kvm, VM_KEEP=1,
# VM_TPM_DEVICES (default "tpm-tis tpm-crb").
. "$(dirname "$0")/lib.sh"
vm_init

ZERO=0000000000000000000000000000000000000000000000000000000000000000

# boot_pcrs NAME BIN STATEDIR DEVICE: one boot in pcrs mode; the PCRs end up
# in $WORK/NAME.pcrs ("N hex" lines), the ReadClock fields in $WORK/NAME.clock.
boot_pcrs() {
  local name=$1 bin=$2 state=$3 dev=$4 t0 want_drv line i v
  t0=$(date +%s.%N)
  vm_start_vtpm "$name" "$bin" "$state"
  vm_start_qemu "$name" "$dev" pcrs
  vm_finish "$name" "$VM_BOOT_TIMEOUT"

  grep -aq 'SVTPM-INIT ' "$WORK/$name.serial" || vm_fail "$name: the guest's /init never ran"
  if vm_lines "$name" SVTPM-ERROR >/dev/null; then
    vm_fail "$name: guest reported: $(vm_lines "$name" SVTPM-ERROR | head -n 3 | tr '\n' ' ')"
  fi
  grep -aq 'SVTPM-DONE end' "$WORK/$name.serial" || vm_fail "$name: guest did not finish (no SVTPM-DONE)"
  case $dev in tpm-tis) want_drv=tpm_tis;; tpm-crb) want_drv=tpm_crb;; *) want_drv=;; esac
  line=$(vm_lines "$name" SVTPM-TPM | head -n 1)
  case $line in
    *"version_major=2 "*) ;;
    *) vm_fail "$name: guest does not see a TPM 2.0: '${line:-no SVTPM-TPM line}'";;
  esac
  [ -z "$want_drv" ] || case $line in
    *"driver=$want_drv "*) ;;
    *) vm_fail "$name: expected the $want_drv driver for -device $dev: '$line'";;
  esac

  vm_lines "$name" 'SVTPM-PCR sha256' | awk '{print $3, tolower($4)}' >"$WORK/$name.pcrs"
  for i in 0 1 2 3 4 5 6 7; do
    v=$(awk -v i="$i" '$1 == i {print $2}' "$WORK/$name.pcrs")
    [[ $v =~ ^[0-9a-f]{64}$ ]] || vm_fail "$name: PCR $i unreadable in the guest ('${v:-absent}')"
  done
  [ "$(wc -l <"$WORK/$name.pcrs")" = 8 ] || vm_fail "$name: expected 8 PCR lines, got $(wc -l <"$WORK/$name.pcrs")"
  [ "$(awk '$1 == 0 {print $2}' "$WORK/$name.pcrs")" != "$ZERO" ] \
    || vm_fail "$name: PCR0 is all zero: the firmware's measurements did not reach the TPM"

  line=$(vm_lines "$name" SVTPM-CLOCK | head -n 1)
  [[ $line =~ rc=00000000\ clock=([0-9a-f]{16})\ reset=([0-9a-f]{8})\ restart=([0-9a-f]{8})\ safe=([0-9a-f]{2}) ]] \
    || vm_fail "$name: TPM2_ReadClock from the guest failed: '${line:-no SVTPM-CLOCK line}'"
  echo "$((16#${BASH_REMATCH[1]})) $((16#${BASH_REMATCH[2]})) $((16#${BASH_REMATCH[3]}))" >"$WORK/$name.clock"

  vm_log "$name: ok ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s," \
         "$line, PCR0=$(awk '$1 == 0 {print $2}' "$WORK/$name.pcrs"))"
}

# same_pcrs A B WHAT: PCRs 0..7 of boots A and B must be equal.
same_pcrs() {
  if ! cmp -s "$WORK/$1.pcrs" "$WORK/$2.pcrs"; then
    echo "PCRs of $1 vs $2:"
    diff "$WORK/$1.pcrs" "$WORK/$2.pcrs" | sed 's/^/  /'
    vm_fail "$3"
  fi
}

REF=$(vm_ref_swtpm)
if [ -z "$REF" ]; then
  vm_log "no reference swtpm installed: skipping the comparison with it"
elif [ "$(readlink -f "$REF")" = "$(readlink -f "$VTPM_BIN")" ]; then
  vm_log "the binary under test is the reference swtpm ($REF): skipping the comparison with itself"
  REF=
fi

for dev in ${VM_TPM_DEVICES:-tpm-tis tpm-crb}; do
  state=$WORK/state-$dev
  boot_pcrs "$dev-boot1" "$VTPM_BIN" "$state" "$dev"
  [ -n "$(ls -A "$state")" ] || vm_fail "$dev: the vTPM left its state directory $state empty"

  boot_pcrs "$dev-boot2" "$VTPM_BIN" "$state" "$dev"
  same_pcrs "$dev-boot1" "$dev-boot2" "$dev: PCRs differ between two boots of the same VM"
  read -r c1 r1 _ <"$WORK/$dev-boot1.clock"
  read -r c2 r2 _ <"$WORK/$dev-boot2.clock"
  [ "$r2" -gt "$r1" ] || vm_fail "$dev: TPM resetCount did not grow across the vTPM restart ($r1 -> $r2): state not persisted?"
  [ "$c2" -ge "$c1" ] || vm_fail "$dev: TPM clock went back across the vTPM restart ($c1 -> $c2): state not persisted?"

  if [ -n "$REF" ]; then
    boot_pcrs "$dev-ref" "$REF" "$WORK/state-ref-$dev" "$dev"
    same_pcrs "$dev-boot1" "$dev-ref" "$dev: PCRs 0..7 differ from those measured into the reference swtpm ($REF)"
    vm_log "$dev: PCRs 0..7 equal the reference swtpm's"
  fi
done
vm_log "PASS"
exit 0
