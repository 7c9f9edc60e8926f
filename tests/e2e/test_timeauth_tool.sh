#!/usr/bin/env bash
# End-to-end: the time authority's tool (svtpm-timeauth): key, authority id,
# raw public key, a time token over a given nonce and time, its check by
# `show --pubkey` (also by OpenSSL on its own), tamper detection, a wrong
# key, usage errors. No vTPM is started: this is the authority's side.
. "$(dirname "$0")/lib.sh"
e2e_require sha256sum dd xxd

TA=$SVTPM_TOP/$BUILD/svtpm-timeauth
[ -x "$TA" ] || skip "$TA is not built (make all)"
cd "$WORK" || fail "cd $WORK"

field() {   # field "KEY:" : the first word after "KEY:" on show's line for it
  awk -v k="$1" '{ s = $0; sub(/^ +/, "", s) }
    index(s, k) == 1 { s = substr(s, length(k) + 1); sub(/^ +/, "", s); split(s, w, " "); print w[1]; exit }' "$E2E_OUT"
}
flip_byte() {   # flip_byte FILE OFFSET : xor the byte at OFFSET with 1
  local byte
  byte=$(od -An -j "$2" -N1 -tu1 "$1" | tr -d ' ')
  printf %b "\\0$(printf %03o $(( byte ^ 1 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
exit_status() {   # exit_status EXPECTED WHAT CMD... : CMD must exit with EXPECTED
  local want=$1 what=$2 rc; shift 2
  e2e_exec "$@"; rc=$?
  [ "$rc" = "$want" ] || { e2e_show_cmd_output >&2; fail "$what: exit status $rc, expected $want"; }
}

NONCE=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
TIME_MS=1700000000123

# --- keygen / id / pubkey -------------------------------------------------------------
note "keygen, id and pubkey"
run_ok "keygen" "$TA" keygen --out auth.pem
auth_id=$(cat "$E2E_OUT")
assert_match '^[0-9a-f]{64}$' "$auth_id" "keygen prints the authority id"
assert_eq 600 "$(stat -c %a auth.pem)" "mode of the key file"
cp auth.pem auth.orig
run_fails "keygen over an existing key" "$TA" keygen --out auth.pem
assert_contains "$(cat "$E2E_ERR")" "refusing to overwrite" "keygen over an existing key"
assert_files_equal auth.orig auth.pem "the existing key after a refused keygen"
run_ok "id" "$TA" id --key auth.pem
assert_eq "$auth_id" "$(cat "$E2E_OUT")" "id of the key keygen made"
run_ok "pubkey" "$TA" pubkey --key auth.pem --out auth.pub
assert_file_size auth.pub 32 "raw public key"
assert_eq "$auth_id" "$(sha256_hex auth.pub)" "authority id = SHA-256 of the raw public key"
# and the raw key is the key's own (the last 32 bytes of its DER SubjectPublicKeyInfo)
if command -v openssl >/dev/null 2>&1; then
  openssl pkey -in auth.pem -pubout -outform DER 2>/dev/null | tail -c 32 >pub.openssl
  assert_files_equal pub.openssl auth.pub "pubkey = OpenSSL's raw public key of auth.pem"
fi

# --- sign / show --------------------------------------------------------------------
note "sign a nonce at a given time, check it"
run_ok "sign" "$TA" sign --key auth.pem --nonce "$NONCE" --time-ms "$TIME_MS" --accuracy-ms 250 --out token.bin
assert_file_size token.bin 156 "time token size"
assert_eq 644 "$(stat -c %a token.bin)" "mode of the token"
# the layout, byte for byte (docs/formats.md "Time token")
expect_hex=$(printf 'SVTPMTT1' | od -An -v -tx1 | tr -d ' \n')00010000${NONCE}$(printf '%016x%08x%08x' "$TIME_MS" 250 0)$auth_id
assert_eq "$expect_hex" "$(head -c 92 token.bin | od -An -v -tx1 | tr -d ' \n')" "signed part of the token"
# signing is deterministic (Ed25519): the same inputs give the same token
run_ok "sign again" "$TA" sign --key auth.pem --nonce "$NONCE" --time-ms "$TIME_MS" --accuracy-ms 250 --out token2.bin
assert_files_equal token.bin token2.bin "a second token over the same inputs"
if command -v openssl >/dev/null 2>&1; then
  head -c 92 token.bin >body.bin
  tail -c 64 token.bin >sig.bin
  openssl pkey -in auth.pem -pubout -out auth.pub.pem 2>/dev/null || fail "openssl pkey -pubout"
  openssl pkeyutl -verify -pubin -inkey auth.pub.pem -rawin -in body.bin -sigfile sig.bin >/dev/null 2>&1 ||
    fail "OpenSSL does not verify the token's signature over bytes 0..91"
fi

run_ok "show without --pubkey" "$TA" show token.bin
assert_eq "$NONCE" "$(field nonce:)" "nonce shown"
assert_eq "$TIME_MS" "$(field "time ms:")" "time shown"
assert_contains "$(cat "$E2E_OUT")" "2023-11-14T22:13:20.123Z" "time shown as UTC"
assert_eq 250 "$(field "accuracy ms:")" "accuracy shown"
assert_eq "$auth_id" "$(field "authority id:")" "authority id shown"
assert_eq not "$(field signature:)" "signature without --pubkey"
run_ok "show --pubkey" "$TA" show token.bin --pubkey auth.pub
assert_eq matches "$(field authority:)" "authority with the right key"
assert_eq valid "$(field signature:)" "signature with the right key"

note "default time: now, accuracy 0"
before=$(( $(date +%s) * 1000 ))
run_ok "sign at the current time" "$TA" sign --key auth.pem --nonce "$NONCE" --out now.bin
after=$(( ($(date +%s) + 1) * 1000 ))
run_ok "show the current-time token" "$TA" show now.bin --pubkey auth.pub
now_ms=$(field "time ms:")
[ "$now_ms" -ge "$before" ] && [ "$now_ms" -le "$after" ] ||
  fail "default --time-ms $now_ms is not the current time ($before..$after)"
assert_eq 0 "$(field "accuracy ms:")" "default accuracy"
assert_eq valid "$(field signature:)" "signature of the current-time token"

# --- tampering ----------------------------------------------------------------------
note "a flipped byte fails show's check"
# nonce, time, accuracy, authority id, first and last signature byte
for off in 12 51 55 60 92 155; do
  cp token.bin tampered.bin
  flip_byte tampered.bin "$off"
  assert_files_differ token.bin tampered.bin "tampered copy (offset $off)"
  exit_status 1 "show --pubkey on a token with byte $off flipped" "$TA" show tampered.bin --pubkey auth.pub
  assert_eq INVALID "$(field signature:)" "signature of a token with byte $off flipped"
done
# in the header, a flipped byte is no longer a time token at all
for off in 0 9 11 59; do
  cp token.bin tampered.bin
  flip_byte tampered.bin "$off"
  exit_status 1 "show on a token with header byte $off flipped" "$TA" show tampered.bin --pubkey auth.pub
  assert_contains "$(cat "$E2E_ERR")" "not a valid time token" "show on a token with header byte $off flipped"
done
head -c 155 token.bin >short.bin
exit_status 1 "show on a truncated token" "$TA" show short.bin --pubkey auth.pub
{ cat token.bin; printf '\0'; } >long.bin
exit_status 1 "show on a token with a trailing byte" "$TA" show long.bin --pubkey auth.pub

# --- another authority ----------------------------------------------------------------
note "a wrong key fails"
run_ok "keygen (other authority)" "$TA" keygen --out other.pem
other_id=$(cat "$E2E_OUT")
assert_ne "$auth_id" "$other_id" "two keys' authority ids"
run_ok "pubkey (other authority)" "$TA" pubkey --key other.pem --out other.pub
exit_status 1 "show --pubkey with another authority's key" "$TA" show token.bin --pubkey other.pub
assert_eq MISMATCH "$(field authority:)" "authority with another key"
assert_eq INVALID "$(field signature:)" "signature with another key"
# a token signed by the other key but naming the first authority: the id is signed too
run_ok "sign with the other key" "$TA" sign --key other.pem --nonce "$NONCE" --time-ms "$TIME_MS" \
  --accuracy-ms 250 --out other.bin
cp other.bin forged.bin
printf '%s' "$auth_id" | xxd -r -p | dd of=forged.bin bs=1 seek=60 conv=notrunc 2>/dev/null
exit_status 1 "show a token naming the authority, signed by another key" "$TA" show forged.bin --pubkey auth.pub
assert_eq matches "$(field authority:)" "authority id copied into a forged token"
assert_eq INVALID "$(field signature:)" "signature of a forged token"
head -c 31 auth.pub >short.pub
exit_status 1 "show --pubkey with a 31-byte key" "$TA" show token.bin --pubkey short.pub
exit_status 1 "sign with a key file that is not a key" "$TA" sign --key auth.pub --nonce "$NONCE" --out x.bin
[ ! -e x.bin ] || fail "a refused sign left x.bin behind"
exit_status 1 "id of a missing key" "$TA" id --key missing.pem

# documents and keys are written through a temp file: none may be left over
leftover=$(ls -- *.bin.?????? *.pem.?????? *.pub.?????? 2>/dev/null)
assert_eq "" "$leftover" "temp files left in the work directory"

# --- usage ----------------------------------------------------------------------------
note "bad arguments exit 2"
exit_status 2 "no command" "$TA"
exit_status 2 "unknown command" "$TA" frobnicate
exit_status 2 "keygen without --out" "$TA" keygen
exit_status 2 "id without --key" "$TA" id
exit_status 2 "pubkey without --out" "$TA" pubkey --key auth.pem
exit_status 2 "sign without --nonce" "$TA" sign --key auth.pem --out x.bin
exit_status 2 "sign without --out" "$TA" sign --key auth.pem --nonce "$NONCE"
exit_status 2 "sign with a short nonce" "$TA" sign --key auth.pem --nonce 0011 --out x.bin
exit_status 2 "sign with a 33-byte nonce" "$TA" sign --key auth.pem --nonce "${NONCE}00" --out x.bin
exit_status 2 "sign with a non-hex nonce" "$TA" sign --key auth.pem --nonce "${NONCE%??}zz" --out x.bin
exit_status 2 "sign at time 0" "$TA" sign --key auth.pem --nonce "$NONCE" --time-ms 0 --out x.bin
exit_status 2 "sign at a negative time" "$TA" sign --key auth.pem --nonce "$NONCE" --time-ms -5 --out x.bin
exit_status 2 "sign at a time past 2^64" "$TA" sign --key auth.pem --nonce "$NONCE" --time-ms 18446744073709551616 --out x.bin
exit_status 2 "sign with accuracy past 2^32" "$TA" sign --key auth.pem --nonce "$NONCE" --accuracy-ms 4294967296 --out x.bin
exit_status 2 "sign with --nonce twice" "$TA" sign --key auth.pem --nonce "$NONCE" --nonce "$NONCE" --out x.bin
exit_status 2 "an option of another command" "$TA" sign --key auth.pem --nonce "$NONCE" --pubkey auth.pub --out x.bin
exit_status 2 "an option without its value" "$TA" sign --key auth.pem --out x.bin --nonce
exit_status 2 "show without a file" "$TA" show --pubkey auth.pub
exit_status 2 "show with two files" "$TA" show token.bin now.bin
[ ! -e x.bin ] || fail "a usage error left x.bin behind"
exit_status 0 "--help" "$TA" --help
assert_contains "$(cat "$E2E_OUT")" "sign --key KEY.pem --nonce HEX64" "--help"
exit_status 0 "sign --help" "$TA" sign --help
exit 0
