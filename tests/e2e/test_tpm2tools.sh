#!/usr/bin/env bash
# End-to-end: drive the vTPM with the real tpm2-tools through the swtpm TCTI and
# check the content of every answer (values computed independently where possible).
. "$(dirname "$0")/lib.sh"
e2e_require tpm2_pcrread tpm2_send swtpm_ioctl openssl sha256sum xxd awk

cd "$WORK" || fail "cd $WORK"
vtpm_start

# --- server process basics ----------------------------------------------------
note "pid file"
[ -s "$VTPM_PIDFILE" ] || fail "pid file $VTPM_PIDFILE missing or empty"
assert_eq "$VTPM_PID" "$(tr -d ' \n' <"$VTPM_PIDFILE")" "pid file content"

# --- the server sent TPM2_Startup itself ---------------------------------------
note "startup state"
# A second TPM2_Startup(SU_CLEAR) must be refused with TPM_RC_INITIALIZE (0x100):
# proof that the TPM is already started without any client having sent Startup.
printf '\x80\x01\x00\x00\x00\x0c\x00\x00\x01\x44\x00\x00' >startup.bin
run_ok "raw TPM2_Startup" bash -c 'tpm2_send <startup.bin | od -An -v -tx1 | tr -d " \n"'
assert_eq "80010000000a00000100" "$(cat "$E2E_OUT")" "response to a second TPM2_Startup(CLEAR)"
run_ok "getcap properties-variable" tpm2_getcap properties-variable
startup_clear=$(awk '/^TPM2_PT_STARTUP_CLEAR:/ { f = 1; next } f && /^[^ ]/ { f = 0 } f' "$E2E_OUT")
for bit in phEnable shEnable ehEnable phEnableNV; do
  assert_match "$bit: +1" "$(tr -s ' ' <<<"$startup_clear" | tr '\n' ';')" "TPM2_PT_STARTUP_CLEAR.$bit after Startup(CLEAR)"
done

# --- getcap properties-fixed: a TPM 2.0 -----------------------------------------
note "getcap properties-fixed"
run_ok "getcap properties-fixed" tpm2_getcap properties-fixed
fam=$(awk '/^TPM2_PT_FAMILY_INDICATOR:/ { f = 1; next } f && /raw:/ { print $2; exit }' "$E2E_OUT")
famv=$(awk '/^TPM2_PT_FAMILY_INDICATOR:/ { f = 1; next } f && /value:/ { print $2; exit }' "$E2E_OUT")
assert_eq "0x322E3000" "$fam" "TPM2_PT_FAMILY_INDICATOR raw"
assert_eq '"2.0"' "$famv" "TPM2_PT_FAMILY_INDICATOR value"
grep -q '^TPM2_PT_REVISION:' "$E2E_OUT" || fail "properties-fixed lacks TPM2_PT_REVISION"
grep -q '^TPM2_PT_MANUFACTURER:' "$E2E_OUT" || fail "properties-fixed lacks TPM2_PT_MANUFACTURER"

# --- PCRs ------------------------------------------------------------------------
note "pcrread"
zero32=$(printf '%064d' 0)
pcr_value sha256 0;  assert_eq "$zero32" "$PCR_HEX" "sha256 PCR 0 after Startup(CLEAR) at locality 0"
pcr_value sha256 16; assert_eq "$zero32" "$PCR_HEX" "sha256 PCR 16 after Startup(CLEAR)"
pcr_value sha256 17; assert_eq "$(printf 'f%.0s' $(seq 64))" "$PCR_HEX" "sha256 PCR 17 (DRTM, reset value all ones)"
run_ok "getcap pcrs" tpm2_getcap pcrs
grep -q 'sha256: \[.*\b16\b' "$E2E_OUT" || { cat "$E2E_OUT" >&2; fail "sha256 bank with PCR 16 is not allocated"; }

note "pcrextend"
old=$zero32
head -c 32 /dev/urandom >ext1.bin
d1=$(e2e_hex ext1.bin)
run_ok "pcrextend 16" tpm2_pcrextend "16:sha256=$d1"
hex_to_file "$old$d1" concat.bin
expect=$(sha256_hex concat.bin)
expect_ossl=$(openssl dgst -sha256 -r concat.bin | awk '{ print $1 }')
assert_eq "$expect" "$expect_ossl" "sha256sum vs openssl (test self-check)"
pcr_value sha256 16; assert_eq "$expect" "$PCR_HEX" "PCR 16 after one extend = SHA256(old || digest)"
old=$PCR_HEX
# second extend chains on the new value
d2=$(printf 'second extend' | sha256_hex)
run_ok "pcrextend 16 again" tpm2_pcrextend "16:sha256=$d2"
hex_to_file "$old$d2" concat.bin
pcr_value sha256 16; assert_eq "$(sha256_hex concat.bin)" "$PCR_HEX" "PCR 16 after a second extend"
old=$PCR_HEX
# pcrevent hashes a file and extends every bank with it
printf 'an event log entry\n' >event.txt
run_ok "pcrevent 16" tpm2_pcrevent 16 event.txt
hex_to_file "$old$(sha256_hex event.txt)" concat.bin
pcr_value sha256 16; assert_eq "$(sha256_hex concat.bin)" "$PCR_HEX" "PCR 16 after pcrevent"
pcr_value sha256 15; assert_eq "$zero32" "$PCR_HEX" "PCR 15 untouched by extends of PCR 16"
run_ok "pcrreset 16" tpm2_pcrreset 16
pcr_value sha256 16; assert_eq "$zero32" "$PCR_HEX" "PCR 16 after pcrreset"

# --- getrandom ----------------------------------------------------------------
note "getrandom"
run_ok "getrandom 32" tpm2_getrandom -o r1.bin 32
assert_file_size r1.bin 32 "tpm2_getrandom 32"
run_ok "getrandom 32 again" tpm2_getrandom -o r2.bin 32
assert_file_size r2.bin 32 "tpm2_getrandom 32 (second)"
assert_files_differ r1.bin r2.bin "two tpm2_getrandom results"
assert_ne "$zero32" "$(e2e_hex r1.bin)" "random bytes all zero"
run_ok "getrandom --hex 16" tpm2_getrandom --hex 16
assert_match '^[0-9a-f]{32}$' "$(tr -d '\n' <"$E2E_OUT")" "tpm2_getrandom --hex 16 output"
# 16 draws of 16 bytes: all distinct, and no byte value constant across all draws
: >draws.txt
for i in $(seq 16); do run_ok "getrandom draw $i" tpm2_getrandom --hex 16; tr -d '\n' <"$E2E_OUT" >>draws.txt; echo >>draws.txt; done
assert_eq 16 "$(sort -u draws.txt | grep -c .)" "distinct values among 16 getrandom draws"

# --- sign / verify: RSA and ECC -------------------------------------------------
printf 'message to be signed %s\n' "$(date +%s%N)" >msg.txt
printf 'a different message\n' >other.txt
for alg in rsa ecc; do
  note "sign/verify ($alg)"
  case $alg in rsa) keyalg=rsa2048;; ecc) keyalg=ecc256;; esac
  run_ok "createprimary $alg" tpm2_createprimary -C o -g sha256 -G "$alg" -c "prim_$alg.ctx"
  assert_eq "$alg" "$(out_field type)" "createprimary $alg: type"
  assert_eq "sha256" "$(out_field name-alg)" "createprimary $alg: name-alg"
  assert_contains "$(out_field attributes)" "restricted|decrypt" "createprimary $alg: attributes of a storage key"
  run_ok "create $alg key" tpm2_create -C "prim_$alg.ctx" -G "$keyalg" -u "k_$alg.pub" -r "k_$alg.priv"
  assert_eq "$alg" "$(out_field type)" "tpm2_create $alg: type"
  assert_contains "$(out_field attributes)" "sign" "tpm2_create $alg: attributes of a signing key"
  [ -s "k_$alg.pub" ] && [ -s "k_$alg.priv" ] || fail "tpm2_create $alg wrote no key blobs"
  run_ok "load $alg key" tpm2_load -C "prim_$alg.ctx" -u "k_$alg.pub" -r "k_$alg.priv" -c "k_$alg.ctx"
  assert_match '^name: 000b[0-9a-f]{64}$' "$(grep '^name:' "$E2E_OUT")" "tpm2_load $alg name"
  run_ok "readpublic $alg" tpm2_readpublic -c "k_$alg.ctx" -f pem -o "k_$alg.pem"
  case $alg in
    rsa) assert_contains "$(cat "$E2E_OUT")" "rsa: " "readpublic of the RSA key"
         openssl pkey -pubin -in "k_$alg.pem" -noout -text 2>&1 | grep -q '2048 bit' || fail "RSA public key is not 2048 bit";;
    ecc) assert_contains "$(cat "$E2E_OUT")" "NIST p256" "readpublic of the ECC key";;
  esac
  run_ok "sign $alg (tss)" tpm2_sign -c "k_$alg.ctx" -g sha256 -o "sig_$alg.tss" msg.txt
  run_ok "sign $alg (plain)" tpm2_sign -c "k_$alg.ctx" -g sha256 -f plain -o "sig_$alg.plain" msg.txt
  [ "$alg" = rsa ] && assert_file_size "sig_$alg.plain" 256 "RSA-2048 signature"
  run_ok "verifysignature $alg" tpm2_verifysignature -c "k_$alg.ctx" -g sha256 -m msg.txt -s "sig_$alg.tss" -t "ticket_$alg.bin"
  [ -s "ticket_$alg.bin" ] || fail "verifysignature $alg produced no ticket"
  run_fails "verifysignature $alg, wrong message" tpm2_verifysignature -c "k_$alg.ctx" -g sha256 -m other.txt -s "sig_$alg.tss"
  grep -qi -e '0x2DB' -e 'signature is not valid' "$E2E_ERR" ||
    { cat "$E2E_ERR" >&2; fail "verifysignature $alg with a wrong message: expected TPM_RC_SIGNATURE"; }
  # independent check of the signature with OpenSSL and the exported public key
  out=$(openssl dgst -sha256 -verify "k_$alg.pem" -signature "sig_$alg.plain" msg.txt 2>&1)
  assert_eq "Verified OK" "$out" "OpenSSL verification of the $alg signature"
  out=$(openssl dgst -sha256 -verify "k_$alg.pem" -signature "sig_$alg.plain" other.txt 2>&1)
  assert_ne "Verified OK" "$out" "OpenSSL verification of the $alg signature over another message"
done
# the RSA key (RSASSA-PKCS1-v1_5) is deterministic: same message, same signature
run_ok "sign rsa again" tpm2_sign -c k_rsa.ctx -g sha256 -f plain -o sig_rsa2.plain msg.txt
assert_files_equal sig_rsa.plain sig_rsa2.plain "RSASSA signature repeated over the same message"

# --- NV define / write / read -------------------------------------------------------
note "nv round trip"
nvidx=0x01500016
head -c 64 /dev/urandom >nv.bin
run_ok "nvdefine" tpm2_nvdefine "$nvidx" -C o -s 64 -a "ownerread|ownerwrite|authread|authwrite"
run_ok "nvreadpublic" tpm2_nvreadpublic "$nvidx"
assert_contains "$(cat "$E2E_OUT")" "size: 64" "nvreadpublic of the new index"
run_ok "nvwrite" tpm2_nvwrite "$nvidx" -C o -i nv.bin
run_ok "nvread" tpm2_nvread "$nvidx" -C o -s 64 -o nvout.bin
assert_files_equal nv.bin nvout.bin "NV index content after write"
printf 'PATCHED!' >patch.bin
run_ok "nvwrite at offset" tpm2_nvwrite "$nvidx" -C o -i patch.bin --offset 10
{ head -c 10 nv.bin; cat patch.bin; tail -c +19 nv.bin; } >nv_expect.bin
run_ok "nvread after partial write" tpm2_nvread "$nvidx" -C o -s 64 -o nvout2.bin
assert_files_equal nv_expect.bin nvout2.bin "NV content after an 8-byte write at offset 10"
run_ok "nvread slice" tpm2_nvread "$nvidx" -C o -s 8 --offset 10 -o slice.bin
assert_files_equal patch.bin slice.bin "8-byte NV read at offset 10"
run_ok "getcap handles-nv-index" tpm2_getcap handles-nv-index
grep -qix -e "- $nvidx" -e "- $(printf '0x%x' "$nvidx")" "$E2E_OUT" ||
  { cat "$E2E_OUT" >&2; fail "index $nvidx not listed by getcap handles-nv-index"; }
run_ok "nvundefine" tpm2_nvundefine "$nvidx" -C o
run_fails "nvread after undefine" tpm2_nvread "$nvidx" -C o -s 64

# --- seal / unseal ----------------------------------------------------------------
note "seal/unseal"
run_ok "createprimary (storage)" tpm2_createprimary -C o -c seal_prim.ctx
printf 'the secret: %s' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >secret.txt
run_ok "create sealed object" tpm2_create -C seal_prim.ctx -i secret.txt -u seal.pub -r seal.priv
run_ok "load sealed object" tpm2_load -C seal_prim.ctx -u seal.pub -r seal.priv -c seal.ctx
run_ok "unseal" tpm2_unseal -c seal.ctx -o unsealed.txt
assert_files_equal secret.txt unsealed.txt "unsealed data"
# with an authorization value: right password unseals, a wrong one is refused
run_ok "create sealed object with auth" tpm2_create -C seal_prim.ctx -p pw-e2e -i secret.txt -u seal2.pub -r seal2.priv
run_ok "load sealed object with auth" tpm2_load -C seal_prim.ctx -u seal2.pub -r seal2.priv -c seal2.ctx
run_ok "unseal with password" tpm2_unseal -c seal2.ctx -p pw-e2e -o unsealed2.txt
assert_files_equal secret.txt unsealed2.txt "data unsealed with the right password"
run_fails "unseal with wrong password" tpm2_unseal -c seal2.ctx -p wrong -o unsealed3.txt
grep -qi -e 'auth' -e '0x98e' -e '0x9a2' "$E2E_ERR" ||
  { cat "$E2E_ERR" >&2; fail "unseal with a wrong password: expected an authorization failure"; }

# --- EncryptDecrypt with AES ----------------------------------------------------------
note "encryptdecrypt (AES)"
head -c 16 /dev/urandom >aes.key
head -c 16 /dev/urandom >iv.bin
head -c 100 /dev/urandom >plain.bin
# a key imported from known bytes: the TPM's ciphertext must equal OpenSSL's
run_ok "import AES-128 key" tpm2_import -C seal_prim.ctx -G aes -i aes.key -u aes.pub -r aes.priv
run_ok "load AES-128 key" tpm2_load -C seal_prim.ctx -u aes.pub -r aes.priv -c aes.ctx
run_ok "encrypt" tpm2_encryptdecrypt -c aes.ctx -t iv.bin -o enc.bin plain.bin
assert_file_size enc.bin 100 "AES-CFB ciphertext"
assert_files_differ plain.bin enc.bin "ciphertext vs plaintext"
openssl enc -aes-128-cfb -K "$(e2e_hex aes.key)" -iv "$(e2e_hex iv.bin)" -in plain.bin -out enc_ossl.bin ||
  fail "openssl enc failed"
assert_files_equal enc_ossl.bin enc.bin "TPM AES-128-CFB ciphertext vs OpenSSL"
run_ok "decrypt" tpm2_encryptdecrypt -d -c aes.ctx -t iv.bin -o dec.bin enc.bin
assert_files_equal plain.bin dec.bin "AES-128 decrypt(encrypt(x))"
# a key generated inside the TPM
run_ok "create AES-256 key" tpm2_create -C seal_prim.ctx -G aes256cfb -u aes256.pub -r aes256.priv
run_ok "load AES-256 key" tpm2_load -C seal_prim.ctx -u aes256.pub -r aes256.priv -c aes256.ctx
run_ok "encrypt (AES-256)" tpm2_encryptdecrypt -c aes256.ctx -t iv.bin -o enc256.bin plain.bin
assert_files_differ plain.bin enc256.bin "AES-256 ciphertext vs plaintext"
assert_files_differ enc.bin enc256.bin "ciphertexts under two different keys"
run_ok "decrypt (AES-256)" tpm2_encryptdecrypt -d -c aes256.ctx -t iv.bin -o dec256.bin enc256.bin
assert_files_equal plain.bin dec256.bin "AES-256 decrypt(encrypt(x))"

# --- nothing left loaded, then a clean stop ----------------------------------------------
run_ok "getcap handles-transient" tpm2_getcap handles-transient
assert_eq "" "$(tr -d ' \n' <"$E2E_OUT")" "transient handles left after the flushes"
note "graceful stop"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"
[ -e "$VTPM_PIDFILE" ] && fail "pid file $VTPM_PIDFILE still exists after a clean exit"
exit 0
