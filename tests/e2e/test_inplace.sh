#!/usr/bin/env bash
# svtpm started in place of swtpm on a directory that holds swtpm state:
# without the operator's say-so it must refuse (never manufacture a new TPM
# under the VM), naming `svtpm import`; with --import-swtpm (here through
# SVTPM_IMPORT_SWTPM=1, as a service environment would set it) it seals the
# swtpm state and the VM keeps its TPM: same EK, same NV data.
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/swtpm ] || skip "the reference /usr/bin/swtpm is not installed"
case $("$VTPM_BIN" --version 2>&1) in *svtpm*) ;; *) skip "$VTPM_BIN is not svtpm";; esac

note "swtpm creates the VM's TPM"
REAL=$VTPM_BIN
VTPM_BIN=/usr/bin/swtpm
vtpm_start
run_ok "define NV" tpm2_nvdefine 0x1500030 -C o -s 16 -a "ownerread|ownerwrite"
printf 'made-by-swtpm-16' >"$WORK/nv.in"
run_ok "write NV" tpm2_nvwrite 0x1500030 -C o -i "$WORK/nv.in"
run_ok "EK" tpm2_createprimary -C e -c "$WORK/ek.ctx"
run_ok "EK public" tpm2_readpublic -c "$WORK/ek.ctx" -o "$WORK/ek-swtpm.pub"
vtpm_stop || fail "swtpm did not stop"
VTPM_BIN=$REAL

note "svtpm on the same directory, without --import-swtpm: refused"
before=$(cat "$VTPM_STATE"/* | sha256sum)
"$VTPM_BIN" socket --tpm2 --tpmstate dir="$VTPM_STATE" --ctrl type=unixio,path="$WORK/c.sock" \
  --flags not-need-init,startup-clear >"$WORK/refused.out" 2>&1 && fail "svtpm started over swtpm state"
grep -q "svtpm import" "$WORK/refused.out" || { cat "$WORK/refused.out"; fail "the refusal does not say how to import"; }
assert_eq "$before" "$(cat "$VTPM_STATE"/* | sha256sum)" "state directory after the refusal"
[ ! -e "$VTPM_STATE/svtpm.permall" ] || fail "a new TPM was manufactured"

note "with SVTPM_IMPORT_SWTPM=1: imported, same TPM"
SVTPM_IMPORT_SWTPM=1 vtpm_start
run_ok "read NV" tpm2_nvread 0x1500030 -C o -s 16 -o "$WORK/nv.out"
# (after an answered command: the sockets listen before the import is done)
grep -q "imported the swtpm state" "$VTPM_LOG" || fail "no import logged"
assert_files_equal "$WORK/nv.in" "$WORK/nv.out" "NV data after the switch"
run_ok "EK" tpm2_createprimary -C e -c "$WORK/ek.ctx"
run_ok "EK public" tpm2_readpublic -c "$WORK/ek.ctx" -o "$WORK/ek-svtpm.pub"
assert_files_equal "$WORK/ek-swtpm.pub" "$WORK/ek-svtpm.pub" "EK after the switch"
vtpm_stop || fail "svtpm did not stop"
note "PASS"
