#!/bin/busybox sh
# /init of the svtpm test guest (copied into the initramfs by build-guest.sh).
# Runs under busybox only. The mode comes from the kernel command line:
#   svtpm.mode=probe    print SVTPM-PROBE-OK and power off (accelerator probe)
#   svtpm.mode=pcrs     print TPM version, driver and SHA-256 PCRs 0..7, power off
#   svtpm.mode=migrate  loop forever: PCR_Extend(16) + PCR_Read(16) on /dev/tpm0
# Every line the host parses starts with "SVTPM-" and ends with " end", so a
# line cut short (VM stopped mid-line) is recognisable.

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

off() {
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 5
}

mode=
for w in $(cat /proc/cmdline); do
  case $w in svtpm.mode=*) mode=${w#svtpm.mode=};; esac
done
echo "SVTPM-INIT mode=$mode kernel=$(uname -r) end"

# TPM drivers built as modules (none with Debian 12's kernel): build-guest.sh
# lists them in dependency order.
if [ -s /etc/svtpm-modules ]; then
  while read -r m; do
    insmod "/lib/modules/$m" || echo "SVTPM-ERROR insmod $m failed end"
  done </etc/svtpm-modules
fi

if [ "$mode" = probe ]; then
  echo "SVTPM-PROBE-OK end"
  off
fi

# The driver probes synchronously at boot; wait a little anyway (modules, slow TCG).
n=0
while [ ! -e /sys/class/tpm/tpm0/tpm_version_major ] && [ $n -lt 100 ]; do
  usleep 100000; n=$((n+1))
done
if [ ! -e /sys/class/tpm/tpm0 ]; then
  echo "SVTPM-ERROR no /sys/class/tpm/tpm0 end"
  dmesg | grep -i tpm
  off
fi

# /dev/tpm0: one write() per command, the response by one read() on the same fd.
tpm() {
  dd if="$1" bs=4096 count=1 2>/dev/null >&3
  dd bs=4096 count=1 2>/dev/null <&3 | hexdump -v -e '/1 "%02x"'
}
hex() { echo "$1" | xxd -r -p >"$2"; }

drv=$(basename "$(readlink /sys/class/tpm/tpm0/device/driver)")
echo "SVTPM-TPM version_major=$(cat /sys/class/tpm/tpm0/tpm_version_major) driver=$drv end"

case $mode in
pcrs)
  for i in 0 1 2 3 4 5 6 7; do
    v=$(cat /sys/class/tpm/tpm0/pcr-sha256/$i 2>/dev/null)
    echo "SVTPM-PCR sha256 $i ${v:-MISSING} end"
  done
  # TPM2_ReadClock: clock and resetCount live in the TPM's NV state, so they
  # show whether the state survived a restart of the vTPM.
  hex 80010000000a00000181 /tmp/clock.bin
  exec 3<>/dev/tpm0 || echo "SVTPM-ERROR cannot open /dev/tpm0 end"
  r=$(tpm /tmp/clock.bin)
  exec 3<&-
  # header 10 bytes, time 8, clock 8, resetCount 4, restartCount 4, safe 1
  echo "SVTPM-CLOCK rc=$(echo "$r" | cut -c13-20) clock=$(echo "$r" | cut -c37-52)" \
       "reset=$(echo "$r" | cut -c53-60) restart=$(echo "$r" | cut -c61-68) safe=$(echo "$r" | cut -c69-70) end"
  dmesg | grep -i tpm | sed 's/^/SVTPM-DMESG /'
  echo "SVTPM-DONE end"
  off
  ;;
migrate)
  # TPM2_PCR_Extend(PCR16, TPM_RS_PW empty auth, SHA-256 digest D)
  D=5356545054204d4947524154494f4e20544553542050435231362045585400ff
  hex "80020000004100000182000000100000000940000009000000000000000001000b$D" /tmp/extend.bin
  # TPM2_PCR_Read(SHA-256, PCR16)
  hex 8001000000140000017e00000001000b03000001 /tmp/read.bin
  exec 3<>/dev/tpm0 || { echo "SVTPM-ERROR cannot open /dev/tpm0 end"; off; }
  i=0
  while :; do
    i=$((i+1))
    r1=$(tpm /tmp/extend.bin)
    r2=$(tpm /tmp/read.bin)
    # response: tag(4 hex) size(8) rc(8) ...; PCR_Read: updateCounter at hex 20,
    # digest (32 bytes) at byte 30 = hex 61..124.
    rc1=$(echo "$r1" | cut -c13-20)
    rc2=$(echo "$r2" | cut -c13-20)
    upd=$(echo "$r2" | cut -c21-28)
    pcr=$(echo "$r2" | cut -c61-124)
    echo "SVTPM-MIG iter=$i extend_rc=${rc1:-none} read_rc=${rc2:-none} update=${upd:-none} pcr16=${pcr:-none} end"
    usleep 500000
  done
  ;;
*)
  echo "SVTPM-ERROR unknown mode '$mode' end"
  off
  ;;
esac
