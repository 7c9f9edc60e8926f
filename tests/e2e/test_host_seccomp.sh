#!/usr/bin/env bash
# --seccomp action=kill|log|none is honoured for the host process (swtpm's
# option): by default the host runs under a syscall filter (Seccomp: 2 in
# /proc), action=none runs it without one, a bad value is refused; the
# enclave keeps its own allowlist whatever the host's option says.
source "$(dirname "$0")/lib.sh"
case $("$VTPM_BIN" --version 2>&1) in *svtpm*) ;; *) skip "$VTPM_BIN is not svtpm";; esac

seccomp_of() { awk '/^Seccomp:/{print $2}' "/proc/$1/status"; }
enclave_of() { pgrep -P "$1" -f svtpm-enclave | head -n 1; }

note "default: the host is filtered"
vtpm_start
assert_eq 2 "$(seccomp_of "$VTPM_PID")" "host Seccomp mode by default"
run_ok "the vTPM works under the filter" tpm2_getrandom 8
vtpm_stop || fail "graceful stop failed"

note "action=none: no host filter; the enclave keeps its own"
vtpm_start --seccomp action=none
assert_eq 0 "$(seccomp_of "$VTPM_PID")" "host Seccomp mode with action=none"
enc=$(enclave_of "$VTPM_PID")
[ -n "$enc" ] || fail "no enclave process found"
if [ "${SVTPM_ENCLAVE_SECCOMP:-kill}" != off ]; then
  assert_eq 2 "$(seccomp_of "$enc")" "enclave Seccomp mode"
fi
vtpm_stop || fail "graceful stop failed"

note "a bad action is refused"
run_fails "action=bogus" "$VTPM_BIN" socket --tpm2 --tpmstate dir="$VTPM_STATE" --seccomp action=bogus \
  --ctrl type=unixio,path="$WORK/x.sock"
assert_contains "$(cat "$E2E_ERR")" "action=" "refusal message"
note "PASS"
