#!/usr/bin/env bash
# End-to-end: the tenant's tool (svtpm-tenant): key, tenant id, a binding
# manifest for two images and the build's enclave signer, tamper detection,
# restore authorisations. No vTPM is started: this is the tenant's side.
. "$(dirname "$0")/lib.sh"
e2e_require sha256sum dd

TENANT=$SVTPM_TOP/$BUILD/svtpm-tenant
SIG=$SVTPM_TOP/$BUILD/svtpm-enclave.sig
[ -x "$TENANT" ] || skip "$TENANT is not built (make all)"
[ -f "$SIG" ] || skip "$SIG is not built (make all)"
cd "$WORK" || fail "cd $WORK"

VTPM_ID=5f0c2b7e-114a-4390-8d3e-6125a00bc477
field() {   # field "KEY:" : the first word after "KEY:" on show's line for it
  awk -v k="$1" '{ s = $0; sub(/^ +/, "", s) }
    index(s, k) == 1 { s = substr(s, length(k) + 1); sub(/^ +/, "", s); split(s, w, " "); print w[1]; exit }' "$E2E_OUT"
}

# --- keygen / id ------------------------------------------------------------------
note "keygen and id"
run_ok "keygen" "$TENANT" keygen --out key.pem
keygen_id=$(cat "$E2E_OUT")
assert_match '^[0-9a-f]{64}$' "$keygen_id" "keygen prints the tenant id"
assert_eq 600 "$(stat -c %a key.pem)" "mode of the key file"
cp key.pem key.orig
run_fails "keygen over an existing key" "$TENANT" keygen --out key.pem
assert_contains "$(cat "$E2E_ERR")" "refusing to overwrite" "keygen over an existing key"
assert_files_equal key.orig key.pem "the existing key after a refused keygen"
run_ok "id" "$TENANT" id --key key.pem
assert_eq "$keygen_id" "$(cat "$E2E_OUT")" "id of the key keygen made"
# the id is SHA-256 of the raw 32-byte public key (the last 32 bytes of its DER)
if command -v openssl >/dev/null 2>&1; then
  openssl pkey -in key.pem -pubout -outform DER 2>/dev/null | tail -c 32 >pub.raw
  assert_eq "$keygen_id" "$(sha256_hex pub.raw)" "tenant id = SHA-256 of the raw public key"
fi

# --- bind / show ------------------------------------------------------------------
note "bind two images to the build's enclave signer"
head -c 300000 /dev/urandom >kernel.img
printf 'console=ttyS0 root=/dev/vda\n' >cmdline.img
run_ok "bind" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" --image kernel.img --image cmdline.img \
  --enclave-sigstruct "$SIG" --policy snapshot --generation 3 --created 1700000000 --out manifest.bin
assert_eq 644 "$(stat -c %a manifest.bin)" "mode of the manifest"
# fixed part 76 + 2 images + 1 enclave entry + signature
assert_file_size manifest.bin $((76 + 2 * 32 + 40 + 64)) "manifest size"
run_ok "show the manifest" "$TENANT" show manifest.bin
assert_eq valid "$(field signature:)" "signature of a fresh manifest"
assert_eq "$VTPM_ID" "$(field "vtpm id:")" "vtpm id shown"
assert_eq "$keygen_id" "$(field "tenant id:")" "tenant id shown"
assert_eq 3 "$(field generation:)" "generation shown"
assert_eq snapshot "$(field policy:)" "policy shown"
assert_eq 1700000000 "$(field created:)" "created shown"
assert_eq 2 "$(field images:)" "image count"
assert_eq "$(sha256_hex kernel.img)" "$(field 'image[0]:')" "digest of the first image"
assert_eq "$(sha256_hex cmdline.img)" "$(field 'image[1]:')" "digest of the second image"
assert_eq free "$(field resume:)" "resume policy by default, without a time authority"
run_ok "bind again (for its warning)" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --out m.free
assert_match "warning: resume policy free" "$(cat "$E2E_ERR")" "an implicit free policy is warned about"
run_ok "bind --resume free" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --resume free --out m.free
[ ! -s "$E2E_ERR" ] || fail "an explicit --resume free was warned about: $(cat "$E2E_ERR")"
run_ok "show the manifest again" "$TENANT" show manifest.bin
# the enclave entry: MRSIGNER = SHA-256 of the SIGSTRUCT's signer key (bytes 48..79),
# its product id (u16 at 10) and SVN (u16 at 12) as the minimum
dd if="$SIG" of=signer.raw bs=1 skip=48 count=32 2>/dev/null
u16_at() { od -An -j "$1" -N2 -tu1 "$SIG" | awk '{ print $1 * 256 + $2 }'; }
assert_eq mrsigner "$(field "enclave[0]:")" "kind of the enclave entry from the SIGSTRUCT"
assert_contains "$(cat "$E2E_OUT")" "mrsigner $(sha256_hex signer.raw) prod-id $(u16_at 10) min-svn $(u16_at 12)" \
  "enclave entry from the SIGSTRUCT (signer, product id and SVN of the build)"

note "a flipped byte makes the signature INVALID"
for off in 20 100 $(( $(wc -c <manifest.bin) - 1 )); do
  cp manifest.bin tampered.bin
  byte=$(od -An -j "$off" -N1 -tu1 tampered.bin | tr -d ' ')
  printf %b "\\0$(printf %03o $(( byte ^ 1 )))" | dd of=tampered.bin bs=1 seek="$off" conv=notrunc 2>/dev/null
  assert_files_differ manifest.bin tampered.bin "tampered copy (offset $off)"
  e2e_exec "$TENANT" show tampered.bin; rc=$?
  assert_eq 1 "$rc" "exit status of show on a manifest with byte $off flipped"
  assert_eq INVALID "$(field signature:)" "signature of a manifest with byte $off flipped"
done
run_fails "bind without an enclave entry" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --policy strict --out none.bin
[ ! -e none.bin ] || fail "a refused bind left none.bin behind"


note "a time authority pinned, resumes charged"
TIMEAUTH=$(dirname "$VTPM_BIN")/svtpm-timeauth
run_ok "time authority key" "$TIMEAUTH" keygen --out ta.pem
ta_id=$(head -n 1 "$E2E_OUT")
run_ok "its public key" "$TIMEAUTH" pubkey --key ta.pem --out ta.pub
run_ok "bind with --time-authority" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --resume charge --time-authority ta.pub --out m.ta
assert_file_size m.ta $((76 + 40 + 32 + 64)) "manifest size with a time authority"
run_ok "show it" "$TENANT" show m.ta
assert_eq "$ta_id" "$(field 'time authority:')" "the authority's id"
assert_eq charge "$(field resume:)" "resume policy"
assert_eq valid "$(field signature:)" "signature"
head -c 31 ta.pub >short.pub
run_fails "a 31-byte time authority key" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --time-authority short.pub --out m.short
[ ! -e m.short ] || fail "a manifest was written for a bad time authority key"
run_fails "--resume neither charge, budget nor free" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --resume sometimes --out m.bad
run_fails "--resume budget without a time authority" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --resume budget --out m.bad
assert_match "needs --time-authority" "$(cat "$E2E_ERR")" "the refusal says why"
run_ok "bind --resume budget" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --resume budget --time-authority ta.pub --out m.budget
run_ok "show it" "$TENANT" show m.budget
assert_eq budget "$(field resume:)" "resume policy budget"
run_ok "bind with --time-authority, no --resume" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --time-authority ta.pub --out m.tadef
[ ! -s "$E2E_ERR" ] || fail "the default budget was warned about: $(cat "$E2E_ERR")"
run_ok "show it" "$TENANT" show m.tadef
assert_eq budget "$(field resume:)" "resume policy by default, with a time authority"
run_ok "bind with --time-authority --resume free" "$TENANT" bind --key key.pem --vtpm-id "$VTPM_ID" \
  --enclave-sigstruct "$SIG" --policy strict --time-authority ta.pub --resume free --out m.tafree
run_ok "show it" "$TENANT" show m.tafree
assert_eq free "$(field resume:)" "an explicit free policy with a time authority"

# --- authorize-restore --------------------------------------------------------------
note "restore authorisations"
run_ok "authorize-restore 9 -> 5" "$TENANT" authorize-restore --key key.pem --vtpm-id "$VTPM_ID" \
  --from 9 --to 5 --out restore.bin
assert_file_size restore.bin 148 "restore authorisation size"
run_ok "show the restore authorisation" "$TENANT" show restore.bin
assert_eq valid "$(field signature:)" "signature of the restore authorisation"
assert_eq 9 "$(field "from version:")" "from version shown"
assert_eq 5 "$(field "to version:")" "to version shown"
run_fails "authorize-restore 5 -> 9" "$TENANT" authorize-restore --key key.pem --vtpm-id "$VTPM_ID" \
  --from 5 --to 9 --out restore2.bin
[ ! -e restore2.bin ] || fail "a refused authorize-restore left restore2.bin behind"
# documents and keys are written through a temp file: none may be left over
leftover=$(ls -- *.XXXXXX *.bin.?????? *.pem.?????? 2>/dev/null)
assert_eq "" "$leftover" "temp files left in the work directory"

# --- usage ---------------------------------------------------------------------------
e2e_exec "$TENANT" frobnicate; rc=$?
assert_eq 2 "$rc" "exit status of an unknown subcommand"
e2e_exec "$TENANT" --help; rc=$?
assert_eq 0 "$rc" "exit status of --help"
assert_contains "$(cat "$E2E_OUT")" "authorize-restore" "--help"
exit 0
