#!/usr/bin/env bash
# Installs everything svtpm needs on a fresh Debian 12 machine, from Debian's
# packages only. Idempotent: a second run installs nothing and is quick.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang llvm libclang-rt-14-dev
  libtpms-dev libssl-dev libcmocka-dev libtss2-dev
  swtpm swtpm-tools tpm2-tools
  qemu-system-x86 qemu-utils busybox-static cpio xz-utils
  procps psmisc util-linux iproute2 socat xxd python3 python3-cryptography faketime
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: dependencies present"
