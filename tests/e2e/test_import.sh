#!/usr/bin/env bash
# End-to-end: `svtpm import` moves an existing swtpm state into sealed svtpm state.
#
# For each kind of swtpm state -- plain, encrypted with --key pwdfile=F,mode=aes-256-cbc
# and encrypted with --key file=K,format=hex (AES-128) -- Debian's swtpm creates a
# persistent SRK, a persistent ECC signing key and an NV index holding random data.
# After `svtpm import --from SRC --tpmstate dir=DST [--key ...]`, svtpm started on DST
# has the same persistent keys (TPM2B_PUBLIC byte for byte), the same NV data and
# the same owner seed (a re-created primary key is the same), and a signature made
# by svtpm with the persistent key verifies (OpenSSL) against the public key
# exported from swtpm. The source directory is byte-for-byte unchanged.
# Refusals: a wrong key or no key for an encrypted state (clear message, nothing
# left in DST), a second import into a directory that already holds svtpm state
# (refused, that state untouched), an import while swtpm runs on the source.
#
# svtpm-only: skipped when VTPM_BIN is not svtpm or Debian's swtpm is missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
SWTPM=${SWTPM:-/usr/bin/swtpm}
e2e_require tpm2_createprimary tpm2_create tpm2_load tpm2_evictcontrol tpm2_readpublic tpm2_sign \
  tpm2_nvdefine tpm2_nvwrite tpm2_nvread tpm2_getcap swtpm_ioctl openssl sha256sum find
st_require_svtpm
[ -x "$SWTPM" ] || skip "no reference swtpm at $SWTPM (set SWTPM=)"
if ! "$SWTPM" --version 2>/dev/null | grep 'TPM emulator' >/dev/null || "$SWTPM" --version | grep svtpm >/dev/null; then
  skip "$SWTPM is not the reference swtpm"
fi

cd "$WORK" || fail "cd $WORK"
SRK=0x81000001 SIGNER=0x81000002 NVIDX=0x01500040

DEF_BIN=$VTPM_BIN DEF_STATE=$VTPM_STATE
with_server() { VTPM_BIN=${1:-$DEF_BIN} VTPM_STATE=${2:-$DEF_STATE}; }   # with_server [BIN DIR]

tree_fp() {   # tree_fp DIR : every entry's type, size, mode, mtime (ns), inode and sha256
  local f
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r f; do
     printf '%s ' "$f"; st_fingerprint "$f"; done)
}

no_state_left() {   # no_state_left DIR WHAT : DIR holds nothing but (possibly) .lock
  local left
  left=$(find "$1" -mindepth 1 ! -name .lock | tr '\n' ' ')
  [ -z "$left" ] || fail "$2: left behind in $1: $left"
}

contains_hex() {   # contains_hex FILE BYTESFILE : FILE contains BYTESFILE's bytes
  # (no grep -q: with pipefail its early exit would fail the pipeline)
  e2e_hex "$1" | grep -F "$(e2e_hex "$2")" >/dev/null
}

import_ok() {   # import_ok WHAT ARGS... : svtpm import must succeed
  run_ok "$1" "$ST_SVTPM" import "${@:2}"
  assert_contains "$(cat "$E2E_OUT")" "imported" "svtpm import output ($1)"
}

import_refused() {   # import_refused WHAT MESSAGE_ERE ARGS... : must fail with a matching message
  run_fails "$1" "$ST_SVTPM" import "${@:3}"
  st_unwork <"$E2E_ERR" | grep -Ei -- "$2" >/dev/null ||
    { e2e_show_cmd_output >&2; fail "$1: the error does not say /$2/"; }
  note "$1: refused: $(st_unwork <"$E2E_ERR" | grep -Ei -- "$2" | tail -n 1 | sed 's/^[0-9TZ:.-]* //')"
}

one_variant() {   # one_variant NAME [--key OPTION] : the whole check for one kind of swtpm state
  local name=$1; shift
  local key=("$@") src=$WORK/swtpm-$name dst=$WORK/svtpm-$name enc=0 fp0 fp1 out
  [ "$#" -gt 0 ] && enc=1
  mkdir -p "$src" "$dst"
  note "[$name] creating state with $SWTPM ${key[*]}"

  # --- the swtpm state --------------------------------------------------------------------
  with_server "$SWTPM" "$src"
  vtpm_start "${key[@]}"
  run_ok "[$name] createprimary SRK" tpm2_createprimary -C o -g sha256 -G rsa -c srk.ctx
  run_ok "[$name] evictcontrol SRK" tpm2_evictcontrol -C o -c srk.ctx "$SRK"
  run_ok "[$name] create signing key" tpm2_create -C "$SRK" -G ecc256 -g sha256 -u sig.pub -r sig.priv
  run_ok "[$name] load signing key" tpm2_load -C "$SRK" -u sig.pub -r sig.priv -c sig.ctx
  run_ok "[$name] evictcontrol signer" tpm2_evictcontrol -C o -c sig.ctx "$SIGNER"
  run_ok "[$name] readpublic signer" tpm2_readpublic -c "$SIGNER" -o "$name-signer-sw.tss"
  run_ok "[$name] readpublic signer (PEM)" tpm2_readpublic -c "$SIGNER" -f pem -o "$name-signer-sw.pem"
  run_ok "[$name] readpublic SRK" tpm2_readpublic -c "$SRK" -o "$name-srk-sw.tss"
  run_ok "[$name] createprimary ECC (owner seed)" tpm2_createprimary -C o -g sha256 -G ecc -c eprim.ctx
  run_ok "[$name] readpublic ECC primary" tpm2_readpublic -c eprim.ctx -o "$name-eprim-sw.tss"
  head -c 64 /dev/urandom >"$name-nv.bin"
  run_ok "[$name] nvdefine" tpm2_nvdefine "$NVIDX" -C o -s 64 -a "ownerread|ownerwrite"
  run_ok "[$name] nvwrite" tpm2_nvwrite "$NVIDX" -C o -i "$name-nv.bin"
  vtpm_stop || fail "[$name] graceful stop of swtpm failed (exit status $VTPM_EXIT)"
  with_server
  [ -s "$src/tpm2-00.permall" ] || fail "[$name] swtpm wrote no $src/tpm2-00.permall"
  if [ "$enc" = 1 ]; then
    ! contains_hex "$src/tpm2-00.permall" "$name-nv.bin" ||
      fail "[$name] the NV data is visible in swtpm's file: the state is not encrypted (test setup)"
  else
    contains_hex "$src/tpm2-00.permall" "$name-nv.bin" ||
      fail "[$name] the NV data is not visible in swtpm's plain file (test self-check)"
  fi
  fp0=$(tree_fp "$src")

  # --- refusals first: nothing may be left in the destination ---------------------------------
  if [ "$enc" = 1 ]; then
    import_refused "[$name] import without the key" 'key|encrypt' --from "$src" --tpmstate "dir=$dst"
    no_state_left "$dst" "[$name] refused import without the key"
    import_refused "[$name] import with a wrong key" 'wrong key|authenticat|decrypt|key' \
      --from "$src" --tpmstate "dir=$dst" --key "$WRONG_KEY_OPT"
    no_state_left "$dst" "[$name] refused import with a wrong key"
  fi
  # swtpm running on the source holds its lock: no import of a state in use
  with_server "$SWTPM" "$src"
  vtpm_start "${key[@]}"
  import_refused "[$name] import while swtpm runs on the source" 'lock|in use|another|busy' \
    --from "$src" --tpmstate "dir=$dst" "${key[@]}"
  no_state_left "$dst" "[$name] refused import while swtpm runs"
  vtpm_stop || fail "[$name] graceful stop of swtpm failed (exit status $VTPM_EXIT)"
  with_server
  fp0=$(tree_fp "$src")   # (swtpm itself rewrote its state when it ran)

  # --- the import -------------------------------------------------------------------------
  import_ok "[$name] svtpm import" --from "$src" --tpmstate "dir=$dst" "${key[@]}"
  fp1=$(tree_fp "$src")
  [ "$fp0" = "$fp1" ] || fail "[$name] svtpm import changed the source directory: before: $fp0 after: $fp1"
  assert_file_size "$dst/$ST_PERMALL" "$SEAL_FILE_SIZE" "[$name] imported $ST_PERMALL"
  out=$(find "$dst" -mindepth 1 -name 'tpm2-*' | tr '\n' ' ')
  [ -z "$out" ] || fail "[$name] swtpm files in the svtpm state directory: $out"
  ! contains_hex "$dst/$ST_PERMALL" "$name-nv.bin" || fail "[$name] the NV data is in clear in $dst/$ST_PERMALL"

  # a second import into a directory that already holds svtpm state
  fp1=$(st_fingerprint "$dst/$ST_PERMALL")
  import_refused "[$name] second import into the same directory" 'already|exist|refus' \
    --from "$src" --tpmstate "dir=$dst" "${key[@]}"
  assert_eq "$fp1" "$(st_fingerprint "$dst/$ST_PERMALL")" "[$name] svtpm state after a refused second import"

  # --- svtpm on the imported state ---------------------------------------------------------
  with_server "$DEF_BIN" "$dst"
  vtpm_start
  run_ok "[$name] readpublic signer (svtpm)" tpm2_readpublic -c "$SIGNER" -o "$name-signer-sv.tss"
  assert_files_equal "$name-signer-sw.tss" "$name-signer-sv.tss" "[$name] persistent signing key's public area"
  run_ok "[$name] readpublic SRK (svtpm)" tpm2_readpublic -c "$SRK" -o "$name-srk-sv.tss"
  assert_files_equal "$name-srk-sw.tss" "$name-srk-sv.tss" "[$name] persistent SRK's public area"
  run_ok "[$name] nvread (svtpm)" tpm2_nvread "$NVIDX" -C o -s 64 -o "$name-nv-sv.bin"
  assert_files_equal "$name-nv.bin" "$name-nv-sv.bin" "[$name] NV data"
  run_ok "[$name] createprimary ECC (svtpm)" tpm2_createprimary -C o -g sha256 -G ecc -c eprim.ctx
  run_ok "[$name] readpublic ECC primary (svtpm)" tpm2_readpublic -c eprim.ctx -o "$name-eprim-sv.tss"
  assert_files_equal "$name-eprim-sw.tss" "$name-eprim-sv.tss" "[$name] primary key from the owner seed"
  printf 'signed by svtpm with a key born in swtpm (%s) %s\n' "$name" "$(date +%s%N)" >"$name-msg.txt"
  run_ok "[$name] sign with the imported key" tpm2_sign -c "$SIGNER" -g sha256 -f plain -o "$name-sig.der" "$name-msg.txt"
  out=$(openssl dgst -sha256 -verify "$name-signer-sw.pem" -signature "$name-sig.der" "$name-msg.txt" 2>&1)
  assert_eq "Verified OK" "$out" "[$name] OpenSSL verification against swtpm's exported public key"
  printf 'tampered' >>"$name-msg.txt"
  out=$(openssl dgst -sha256 -verify "$name-signer-sw.pem" -signature "$name-sig.der" "$name-msg.txt" 2>&1)
  assert_ne "Verified OK" "$out" "[$name] OpenSSL verification of a changed message (test self-check)"
  vtpm_stop || fail "[$name] graceful stop of svtpm failed (exit status $VTPM_EXIT)"
  with_server
  [ "$fp0" = "$(tree_fp "$src")" ] || fail "[$name] the source directory changed after svtpm used the imported state"
}

# --- plain ----------------------------------------------------------------------------------
one_variant plain

# --- password, AES-256-CBC (swtpm's default key derivation for pwdfile: PBKDF2) ---------------
printf 'correct horse battery staple %s' "$(e2e_rand16)" >pw.txt
printf 'not the password' >wrongpw.txt
WRONG_KEY_OPT="pwdfile=$WORK/wrongpw.txt,mode=aes-256-cbc"
one_variant pwd256 --key "pwdfile=$WORK/pw.txt,mode=aes-256-cbc"

# --- raw AES-128 key, hex in a file ---------------------------------------------------------------
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >key128.hex
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >wrongkey128.hex
WRONG_KEY_OPT="file=$WORK/wrongkey128.hex,format=hex"
one_variant hex128 --key "file=$WORK/key128.hex,format=hex"
