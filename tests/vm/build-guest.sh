#!/usr/bin/env bash
# Builds the tiny Linux guest the VM tests boot, once, cached under $BUILD/vm/:
#   $BUILD/vm/vmlinuz     Debian 12's stock kernel (apt-get download + dpkg-deb,
#                         never installed on the host)
#   $BUILD/vm/initrd.img  busybox-static + tests/vm/guest-init.sh as /init
#                         (+ TPM driver modules if the kernel has them as modules)
# A second run with nothing changed does nothing and takes milliseconds.
#
# Environment:
#   BUILD          build directory (default: build, relative to the repo top)
#   VM_KERNEL_PKG  kernel package to use (default: the cached one, else the
#                  linux-image-*-amd64 that linux-image-amd64 depends on)
#
# Exit status: 0 built/cached, 77 cannot be built on this machine (no apt
# package index, no kernel download, no busybox), anything else an error.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD;; esac
VMDIR=$BUILD/vm
INIT_SRC=$top/tests/vm/guest-init.sh

say()  { echo "build-guest: $*" >&2; }
skip() { echo "build-guest: cannot build the guest here: $*"; exit 77; }
die()  { echo "build-guest: error: $*"; exit 1; }

mkdir -p "$VMDIR"
# one build at a time (two test scripts may start together)
exec 9>"$VMDIR/.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 600 9 || die "timed out waiting for $VMDIR/.lock"
fi

for t in apt-get apt-cache dpkg-deb tar cpio gzip sha256sum; do
  command -v "$t" >/dev/null 2>&1 || skip "$t not found (scripts/setup.sh installs what is needed)"
done
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || skip "busybox not found (install busybox-static)"
# The guest needs a static busybox (nothing else is in the initramfs).
if ldd "$BUSYBOX" 2>&1 | grep -q '=>'; then skip "$BUSYBOX is not static (install busybox-static)"; fi

# ---------------------------------------------------------------- kernel ----
kpkg=${VM_KERNEL_PKG:-}
if [ -z "$kpkg" ] && [ -s "$VMDIR/kernel/PACKAGE" ] && [ -s "$VMDIR/kernel/vmlinuz" ]; then
  kpkg=$(cat "$VMDIR/kernel/PACKAGE")
fi
if [ -z "$kpkg" ]; then
  pick() { apt-cache depends linux-image-amd64 2>/dev/null \
             | sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1; }
  kpkg=$(pick || true)
  if [ -z "$kpkg" ] && [ "$(id -u)" -eq 0 ]; then
    say "no apt package index; running apt-get update"
    apt-get update -qq >/dev/null 2>&1 || true
    kpkg=$(pick || true)
  fi
  [ -n "$kpkg" ] || skip "apt-cache knows no linux-image-amd64 (run apt-get update)"
fi

if [ "$(cat "$VMDIR/kernel/PACKAGE" 2>/dev/null)" != "$kpkg" ] || [ ! -s "$VMDIR/kernel/vmlinuz" ]; then
  say "fetching kernel package $kpkg"
  rm -rf "$VMDIR/kernel" "$VMDIR/kernel.tmp" "$VMDIR/dl"
  mkdir -p "$VMDIR/dl" "$VMDIR/kernel.tmp"
  (cd "$VMDIR/dl" && apt-get download "$kpkg" >download.log 2>&1) \
    || { tail -n 5 "$VMDIR/dl/download.log" >&2; skip "apt-get download $kpkg failed"; }
  deb=$(ls "$VMDIR"/dl/*.deb)
  # Extract only what is needed (the whole package is ~400 MB of modules).
  dpkg-deb --fsys-tarfile "$deb" | tar -t >"$VMDIR/dl/contents"
  kver=$(sed -n 's#^\./boot/vmlinuz-\(.*\)$#\1#p' "$VMDIR/dl/contents" | head -n 1)
  [ -n "$kver" ] || die "$deb has no ./boot/vmlinuz-*"
  dpkg-deb --fsys-tarfile "$deb" \
    | tar -x -C "$VMDIR/kernel.tmp" "./boot/vmlinuz-$kver" "./boot/config-$kver"
  cfg=$VMDIR/kernel.tmp/boot/config-$kver

  # Which TPM pieces does the guest need, and are they built in (=y) or modules (=m)?
  #   CONFIG_TCG_TPM (tpm core, /dev/tpm0, sysfs pcr-sha256/*), CONFIG_TCG_TIS
  #   (+ CONFIG_TCG_TIS_CORE) for -device tpm-tis, CONFIG_TCG_CRB for -device tpm-crb.
  mods=()
  for sym in TCG_TPM TCG_TIS_CORE TCG_TIS TCG_CRB; do
    val=$(sed -n "s/^CONFIG_$sym=\(.*\)$/\1/p" "$cfg")
    case $val in
      y) ;;
      m) case $sym in TCG_TPM) mods+=(tpm);; TCG_TIS_CORE) mods+=(tpm_tis_core);;
                      TCG_TIS) mods+=(tpm_tis);; TCG_CRB) mods+=(tpm_crb);; esac;;
      *) die "kernel $kver lacks CONFIG_$sym (=${val:-unset}); it cannot drive QEMU's vTPM";;
    esac
  done
  for sym in ACPI DEVTMPFS BLK_DEV_INITRD SERIAL_8250_CONSOLE; do
    grep -q "^CONFIG_$sym=y" "$cfg" || die "kernel $kver lacks CONFIG_$sym=y"
  done

  # Modules: copy them and their dependencies (from each module's modinfo
  # "depends=" field; the .deb ships no modules.dep), decompressed, and record a
  # load order (dependencies first) for /init.
  mkdir -p "$VMDIR/kernel.tmp/modules"
  : >"$VMDIR/kernel.tmp/modules/order"
  declare -A done_mod=()
  add_mod() {   # add_mod NAME: copies NAME and its deps, appends to order
    local name=${1//-/_} path file dep deps
    [ -z "${done_mod[$name]:-}" ] || return 0
    done_mod[$name]=1
    path=$(grep -E "^\./(usr/)?lib/modules/$kver/.*\.ko(\.xz|\.zst|\.gz)?\$" "$VMDIR/dl/contents" \
             | awk -F/ -v n="$name" '{f=$NF; sub(/\.ko(\.xz|\.zst|\.gz)?$/,"",f); gsub(/-/,"_",f); if (f==n) print}' | head -n 1 || true)
    if [ -z "$path" ]; then
      # not a loadable module: must be built in (listed in modules.builtin)
      return 0
    fi
    dpkg-deb --fsys-tarfile "$deb" | tar -x -O "$path" >"$VMDIR/kernel.tmp/modules/raw"
    file="$VMDIR/kernel.tmp/modules/$name.ko"
    case $path in
      *.xz)  command -v xz >/dev/null 2>&1 || die "$path is xz-compressed: install xz-utils"
             xz -dc <"$VMDIR/kernel.tmp/modules/raw" >"$file";;
      *.zst) command -v zstd >/dev/null 2>&1 || die "$path is zstd-compressed: install zstd"
             zstd -dcq <"$VMDIR/kernel.tmp/modules/raw" >"$file";;
      *.gz)  gzip -dc <"$VMDIR/kernel.tmp/modules/raw" >"$file";;
      *)     mv "$VMDIR/kernel.tmp/modules/raw" "$file";;
    esac
    rm -f "$VMDIR/kernel.tmp/modules/raw"
    deps=$(tr '\0' '\n' <"$file" | sed -n 's/^depends=//p' | head -n 1)
    for dep in ${deps//,/ }; do add_mod "$dep"; done
    echo "$name.ko" >>"$VMDIR/kernel.tmp/modules/order"
  }
  for m in "${mods[@]}" ${VM_EXTRA_MODULES:-}; do add_mod "$m"; done

  mv "$VMDIR/kernel.tmp/boot/vmlinuz-$kver" "$VMDIR/kernel.tmp/vmlinuz"
  mv "$cfg" "$VMDIR/kernel.tmp/config"
  rmdir "$VMDIR/kernel.tmp/boot"
  echo "$kver" >"$VMDIR/kernel.tmp/VERSION"
  echo "$kpkg" >"$VMDIR/kernel.tmp/PACKAGE"
  mv "$VMDIR/kernel.tmp" "$VMDIR/kernel"
  rm -rf "$VMDIR/dl"
  say "kernel $kver ready (modules: $(tr '\n' ' ' <"$VMDIR/kernel/modules/order"))"
fi

# ------------------------------------------------------------- initramfs ----
stamp=$( { sha256sum "$INIT_SRC" "$BUSYBOX" "${BASH_SOURCE[0]}" | cut -d' ' -f1
           cat "$VMDIR/kernel/PACKAGE" "$VMDIR/kernel/modules/order"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VMDIR/initrd.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -s "$VMDIR/initrd.img" ] \
   || [ ! -s "$VMDIR/vmlinuz" ]; then
  root=$VMDIR/initrd.tmp
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,lib/modules}
  cp "$BUSYBOX" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  cp "$INIT_SRC" "$root/init"
  chmod 0755 "$root/init" "$root/bin/busybox"
  while read -r m; do
    [ -n "$m" ] && cp "$VMDIR/kernel/modules/$m" "$root/lib/modules/$m"
  done <"$VMDIR/kernel/modules/order"
  cp "$VMDIR/kernel/modules/order" "$root/etc/svtpm-modules"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z \
     | cpio --null -o -H newc --owner 0:0 --quiet) | gzip -1 >"$VMDIR/initrd.img.tmp"
  mv "$VMDIR/initrd.img.tmp" "$VMDIR/initrd.img"
  cp "$VMDIR/kernel/vmlinuz" "$VMDIR/vmlinuz"
  rm -rf "$root"
  echo "$stamp" >"$VMDIR/initrd.stamp"
  say "initramfs ready: $VMDIR/initrd.img ($(du -k "$VMDIR/initrd.img" | cut -f1) KiB)"
fi
exit 0
