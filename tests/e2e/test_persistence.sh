#!/usr/bin/env bash
# End-to-end: TPM state survives a graceful restart (persistent keys, NV data, the
# owner seed) and an acknowledged write survives a kill -9 of the server.
. "$(dirname "$0")/lib.sh"
e2e_require tpm2_evictcontrol swtpm_ioctl openssl xxd

cd "$WORK" || fail "cd $WORK"
SRK=0x81000001      # persistent storage primary (RSA)
SIGNER=0x81000002   # persistent ECC signing key (child of the SRK)
NVIDX=0x01500020

readpub() {   # readpub HANDLE OUTBASE : PEM + TPM2B_PUBLIC of a persistent object
  run_ok "readpublic $1" tpm2_readpublic -c "$1" -f pem -o "$2.pem"
  grep '^name:' "$E2E_OUT" >"$2.name"
  [ -s "$2.name" ] || fail "readpublic $1: no name in the output"
  run_ok "readpublic $1 (tss)" tpm2_readpublic -c "$1" -o "$2.tss"
}

persistent_handles() {   # sets HANDLES to the space-separated persistent handles (lowercase)
  run_ok "getcap handles-persistent" tpm2_getcap handles-persistent
  HANDLES=$(sed -n 's/^- *//p' "$E2E_OUT" | tr 'A-F' 'a-f' | tr '\n' ' ')
}

# --- round 1: create everything ---------------------------------------------------
vtpm_start
note "creating a persistent SRK, a persistent ECC signing key and an NV index"
run_ok "createprimary" tpm2_createprimary -C o -g sha256 -G rsa -c srk.ctx
run_ok "evictcontrol SRK" tpm2_evictcontrol -C o -c srk.ctx "$SRK"
assert_contains "$(cat "$E2E_OUT")" "persistent-handle: $SRK" "evictcontrol output"
run_ok "create signing key" tpm2_create -C "$SRK" -G ecc256 -g sha256 -u sig.pub -r sig.priv
run_ok "load signing key" tpm2_load -C "$SRK" -u sig.pub -r sig.priv -c sig.ctx
run_ok "evictcontrol signer" tpm2_evictcontrol -C o -c sig.ctx "$SIGNER"
readpub "$SRK" srk1
readpub "$SIGNER" signer1
# the owner primary key is derived from the owner seed: recreating it gives the same key
run_ok "createprimary (again)" tpm2_createprimary -C o -g sha256 -G ecc -c eccprim.ctx
run_ok "readpublic transient ECC primary" tpm2_readpublic -c eccprim.ctx -f pem -o eccprim1.pem

head -c 48 /dev/urandom >nv1.bin
run_ok "nvdefine" tpm2_nvdefine "$NVIDX" -C o -s 48 -a "ownerread|ownerwrite"
run_ok "nvwrite" tpm2_nvwrite "$NVIDX" -C o -i nv1.bin
run_ok "nvread" tpm2_nvread "$NVIDX" -C o -s 48 -o nvcheck.bin
assert_files_equal nv1.bin nvcheck.bin "NV content before the restart"
run_ok "pcrextend 16" tpm2_pcrextend "16:sha256=$(printf x | sha256_hex)"

persistent_handles
assert_contains "$HANDLES" "$SRK" "persistent handles before restart"
assert_contains "$HANDLES" "$SIGNER" "persistent handles before restart"

note "graceful stop"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"
[ -n "$(ls -A "$VTPM_STATE")" ] || fail "state directory $VTPM_STATE is empty after a graceful stop"

# --- round 2: a new server process on the same state -------------------------------
note "restart on the same state directory"
vtpm_start
persistent_handles
assert_contains "$HANDLES" "$SRK" "persistent handles after restart"
assert_contains "$HANDLES" "$SIGNER" "persistent handles after restart"
readpub "$SRK" srk2
readpub "$SIGNER" signer2
assert_files_equal srk1.tss srk2.tss "SRK public area after restart"
assert_files_equal srk1.pem srk2.pem "SRK public key after restart"
assert_eq "$(cat srk1.name)" "$(cat srk2.name)" "SRK name after restart"
assert_files_equal signer1.tss signer2.tss "signing key public area after restart"
assert_eq "$(cat signer1.name)" "$(cat signer2.name)" "signing key name after restart"

# the private part came back too: a signature made now verifies under the old public key
printf 'signed after a restart %s\n' "$(date +%s%N)" >msg.txt
run_ok "sign with the persistent key" tpm2_sign -c "$SIGNER" -g sha256 -f plain -o msg.sig msg.txt
assert_eq "Verified OK" "$(openssl dgst -sha256 -verify signer1.pem -signature msg.sig msg.txt 2>&1)" \
  "signature by the persistent key, checked with the public key saved before the restart"

run_ok "nvread after restart" tpm2_nvread "$NVIDX" -C o -s 48 -o nv_after.bin
assert_files_equal nv1.bin nv_after.bin "NV content after a graceful restart"
run_ok "nvreadpublic after restart" tpm2_nvreadpublic "$NVIDX"
assert_contains "$(cat "$E2E_OUT")" "size: 48" "NV index size after restart"

run_ok "createprimary after restart" tpm2_createprimary -C o -g sha256 -G ecc -c eccprim2.ctx
run_ok "readpublic recreated ECC primary" tpm2_readpublic -c eccprim2.ctx -f pem -o eccprim2.pem
assert_files_equal eccprim1.pem eccprim2.pem "owner-hierarchy primary recreated after restart (owner seed kept)"

# PCRs are not persistent: Startup(CLEAR) by the new server reset PCR 16
pcr_value sha256 16
assert_eq "$(printf '%064d' 0)" "$PCR_HEX" "PCR 16 after a restart with Startup(CLEAR)"

# --- round 3: kill -9 right after acknowledged changes --------------------------------
note "kill -9 right after acknowledged writes"
head -c 48 /dev/urandom >nv2.bin
NVIDX2=0x01500021
head -c 16 /dev/urandom >nv3.bin
run_ok "nvwrite new data" tpm2_nvwrite "$NVIDX" -C o -i nv2.bin
run_ok "nvdefine a second index" tpm2_nvdefine "$NVIDX2" -C o -s 16 -a "ownerread|ownerwrite"
run_ok "nvwrite second index" tpm2_nvwrite "$NVIDX2" -C o -i nv3.bin
run_ok "evictcontrol: remove the signing key" tpm2_evictcontrol -C o -c "$SIGNER"
vtpm_kill9
note "killed with SIGKILL (exit status $VTPM_EXIT); restarting"
vtpm_start
run_ok "nvread after kill -9" tpm2_nvread "$NVIDX" -C o -s 48 -o nv_after2.bin
assert_files_equal nv2.bin nv_after2.bin "NV write acknowledged before kill -9"
run_ok "nvread second index after kill -9" tpm2_nvread "$NVIDX2" -C o -s 16 -o nv_after3.bin
assert_files_equal nv3.bin nv_after3.bin "NV index defined and written before kill -9"
persistent_handles
assert_contains "$HANDLES" "$SRK" "SRK after kill -9"
case " $HANDLES " in *" $SIGNER "*) fail "evicted key $SIGNER is back after kill -9 (handles: $HANDLES)";; esac
readpub "$SRK" srk3
assert_files_equal srk1.tss srk3.tss "SRK public area after kill -9"

# one more crash, immediately after the restart, with no commands in between
vtpm_kill9
vtpm_start
run_ok "nvread after a second kill -9" tpm2_nvread "$NVIDX" -C o -s 48 -o nv_after4.bin
assert_files_equal nv2.bin nv_after4.bin "NV content after kill -9 of an idle server"

note "graceful stop"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"
exit 0
