#!/usr/bin/env bash
# The main job, end to end: start svtpm (enclave and all) on a fresh state
# directory, use it with the real tpm2-tools, restart it and show the state
# survived, then stop it. Prints what it does; exits non-zero on any failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
SVTPM="$top/$BUILD/svtpm"
work=$(mktemp -d /tmp/svtpm-demo.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export SVTPM_PLATFORM_KEY="$work/platform.key"
port=$(( 20000 + RANDOM % 10000 ))
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"

start() {
  "$SVTPM" socket --tpm2 --tpmstate dir="$work/state" \
    --server type=tcp,port=$port --ctrl type=tcp,port=$((port + 1)) \
    --flags not-need-init,startup-clear --log file="$work/svtpm.log",level=2 &
  pid=$!
  for _ in $(seq 100); do tpm2_getrandom 1 >/dev/null 2>&1 && return; sleep 0.05; done
  cat "$work/svtpm.log"; exit 1
}
stop() { swtpm_ioctl --tcp 127.0.0.1:$((port + 1)) -s; wait "$pid"; pid=; }
say() { printf '\n== %s\n' "$*"; }
# No resource manager sits between the tools and the TPM (as with swtpm), so
# transient objects are flushed after each tool.
t() { "$@"; tpm2_flushcontext -t; }

mkdir -p "$work/state"
say "start svtpm on a fresh state directory"
start
grep -E "TEE platform|powered on" "$work/svtpm.log" | sed 's/^/   log: /'
say "random bytes from the TPM";        tpm2_getrandom --hex 16; echo
say "extend PCR 16 and read it";        tpm2_pcrextend 16:sha256=$(printf 'svtpm' | sha256sum | cut -d' ' -f1)
tpm2_pcrread sha256:16
say "create a signing key, sign, verify"
t tpm2_createprimary -Q -C o -c "$work/primary.ctx"
t tpm2_create -Q -C "$work/primary.ctx" -G rsa2048 -u "$work/key.pub" -r "$work/key.priv"
t tpm2_load -Q -C "$work/primary.ctx" -u "$work/key.pub" -r "$work/key.priv" -c "$work/key.ctx"
echo "hello from svtpm" > "$work/msg"
t tpm2_sign -Q -c "$work/key.ctx" -g sha256 -o "$work/sig" "$work/msg"
t tpm2_verifysignature -Q -c "$work/key.ctx" -g sha256 -m "$work/msg" -s "$work/sig"
echo "signature verifies"
say "store a secret in NV index 0x1500016"
tpm2_nvdefine -Q 0x1500016 -C o -s 32 -a "ownerread|ownerwrite"
echo -n "kept across restarts, sealed" | tpm2_nvwrite -Q 0x1500016 -C o -i -
say "restart svtpm"
stop; start
say "read it back after the restart"; tpm2_nvread 0x1500016 -C o -s 28; echo
say "the state directory holds only sealed, authenticated files"
ls -l "$work/state"
if grep -qa "kept across restarts" "$work/state"/*; then echo "PLAINTEXT FOUND"; exit 1; fi
echo "no plaintext of the NV secret on disk"
stop
say "done"
