#!/usr/bin/env bash
# Real swtpm 0.7.1 state files for the import seeds: runs Debian's
# /usr/bin/swtpm once per key setup, stores its volatile state, shuts it down
# and keeps tpm2-00.permall and tpm2-00.volatilestate.
#   gen_swtpm.sh OUTDIR
# OUTDIR/<setup>/ gets the files; OUTDIR/secrets/ the key material used:
#   plain                 no --key
#   pwd-aes256            --key pwdfile=…,mode=aes-256-cbc          (kdf pbkdf2)
#   pwd-sha512-aes128     --key pwdfile=…,kdf=sha512                (aes-128-cbc)
#   keyfile-hex-aes128    --key file=…                              (format hex)
#   keyfile-bin-aes256    --key file=…,format=binary,mode=aes-256-cbc
set -eu
out=$1
command -v swtpm >/dev/null && command -v swtpm_ioctl >/dev/null || {
  echo "gen_swtpm.sh: needs swtpm and swtpm_ioctl (apt-get install swtpm swtpm-tools)" >&2; exit 77; }
mkdir -p "$out/secrets"
sec=$out/secrets
printf 'fuzz-seed-passphrase\n' > "$sec/passphrase"
printf '00112233445566778899aabbccddeeff\n' > "$sec/key-hex-aes128"
printf '\x10\x32\x54\x76\x98\xba\xdc\xfe\x01\x23\x45\x67\x89\xab\xcd\xef\xf0\xe1\xd2\xc3\xb4\xa5\x96\x87\x78\x69\x5a\x4b\x3c\x2d\x1e\x0f' > "$sec/key-bin-aes256"
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT

one() {   # one NAME [--key ARG]
  local name=$1; shift
  local d=$run/$name
  mkdir -p "$d"
  swtpm socket --tpm2 --tpmstate dir="$d" --flags not-need-init,startup-clear \
    --ctrl type=unixio,path="$d/ctrl" --server type=unixio,path="$d/srv" \
    --pid file="$d/pid" "$@" --log file="$d/log" &
  local pid=$!
  for _ in $(seq 100); do [ -S "$d/ctrl" ] && break; sleep 0.05; done
  swtpm_ioctl --unix "$d/ctrl" -v >/dev/null      # CMD_STORE_VOLATILE
  swtpm_ioctl --unix "$d/ctrl" -s >/dev/null      # CMD_SHUTDOWN
  wait "$pid"
  mkdir -p "$out/$name"
  cp "$d/tpm2-00.permall" "$d/tpm2-00.volatilestate" "$out/$name/"
}

one plain
one pwd-aes256 --key pwdfile="$sec/passphrase",mode=aes-256-cbc
one pwd-sha512-aes128 --key pwdfile="$sec/passphrase",kdf=sha512
one keyfile-hex-aes128 --key file="$sec/key-hex-aes128"
one keyfile-bin-aes256 --key file="$sec/key-bin-aes256",format=binary,mode=aes-256-cbc
ls -l "$out"/*/
