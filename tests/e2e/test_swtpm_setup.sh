#!/usr/bin/env bash
# libvirt's provisioning path: Debian's real swtpm_setup, finding the binary
# under test as `swtpm` in PATH, creates the EKs, the EK and platform
# certificates and the PCR banks exactly as libvirt asks it to. Then the vTPM
# starts on that state and the EK certificate in NV 0x01c00002 must certify the
# persistent EK at 0x81010001; a second swtpm_setup --not-overwrite must leave
# the state alone (it sees "permall" in --print-states).
source "$(dirname "$0")/lib.sh"
command -v swtpm_setup >/dev/null || skip "swtpm_setup (swtpm-tools) is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"

bindir="$WORK/bin"
mkdir -p "$bindir"
ln -s "$VTPM_BIN" "$bindir/swtpm"      # swtpm_setup runs `swtpm socket ...` from PATH
note "swtpm_setup as libvirt runs it, with $VTPM_BIN as swtpm"
setup() {
  PATH="$bindir:$PATH" timeout 120 swtpm_setup --tpm2 --tpm-state "$VTPM_STATE" \
    --vmid "e2e:8a1c4a2e-0d8a-4b37-9f35-7ad3a2b9e001" --logfile "$WORK/setup.log" \
    --createek --create-ek-cert --create-platform-cert --lock-nvram --not-overwrite \
    --config /etc/swtpm_setup.conf >"$WORK/setup.out" 2>&1
}
mkdir -p "$VTPM_STATE"
setup || { cat "$WORK/setup.log" "$WORK/setup.out"; fail "swtpm_setup failed"; }
grep -q "Successfully authored TPM state" "$WORK/setup.log" || fail "swtpm_setup did not finish"
sum1=$(cat "$VTPM_STATE"/* | sha256sum)

note "the state is there for swtpm_setup's next run, which must not touch it"
run_ok "print-states" "$VTPM_BIN" socket --tpm2 --print-states --tpmstate dir="$VTPM_STATE"
assert_contains "$(cat "$E2E_OUT")" '"permall"' "--print-states after provisioning"
setup || fail "second swtpm_setup --not-overwrite failed"
assert_eq "$sum1" "$(cat "$VTPM_STATE"/* | sha256sum)" "state after swtpm_setup --not-overwrite"

note "start the vTPM on the provisioned state"
vtpm_start
run_ok "read the EK certificate from NV 0x01c00002" tpm2_nvread 0x01c00002 -C o -o "$WORK/ek.der"
openssl x509 -inform DER -in "$WORK/ek.der" -noout -text >"$WORK/ek.txt" 2>&1 || fail "EK certificate is not X.509"
grep -q "e2e:8a1c4a2e" "$WORK/ek.txt" || grep -q "8a1c4a2e" "$WORK/ek.txt" || note "(the certificate does not name the vmid)"
openssl x509 -inform DER -in "$WORK/ek.der" -noout -pubkey >"$WORK/ek-cert.pem"
run_ok "read the persistent EK 0x81010001" tpm2_readpublic -c 0x81010001 -f pem -o "$WORK/ek-tpm.pem"
assert_eq "$(openssl pkey -pubin -in "$WORK/ek-cert.pem" -outform DER | sha256sum)" \
          "$(openssl pkey -pubin -in "$WORK/ek-tpm.pem" -outform DER | sha256sum)" \
          "public key in the EK certificate vs the TPM's persistent EK"
run_ok "ECC EK 0x81010016 exists" tpm2_readpublic -c 0x81010016
run_ok "platform certificate in NV 0x01c08000" tpm2_nvread 0x01c08000 -C o -o "$WORK/platform.der"
openssl x509 -inform DER -in "$WORK/platform.der" -noout >/dev/null 2>&1 || \
  openssl asn1parse -inform DER -in "$WORK/platform.der" >/dev/null || fail "platform certificate is not DER"
run_ok "only the sha256 PCR bank is active" tpm2_getcap pcrs
assert_match "sha256: \[ 0, 1, 2" "$(tr -d '\n' <"$E2E_OUT" | tr -s ' ')" "active sha256 bank"
vtpm_stop || fail "graceful stop failed"
note "PASS"
