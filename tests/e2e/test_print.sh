#!/usr/bin/env bash
# End-to-end: the informational command-line modes that libvirt and swtpm_setup rely
# on: --print-capabilities, --print-states, --version, --help.
. "$(dirname "$0")/lib.sh"
e2e_require python3 tpm2_nvdefine swtpm_ioctl

cd "$WORK" || fail "cd $WORK"

run_bin() {   # run_bin WHAT ARGS... : run the vTPM binary (bounded); stdout in $E2E_OUT
  local what=$1; shift
  run_ok "$what" "$VTPM_BIN" "$@"
}

json_check() {   # json_check WHAT PYTHON-EXPR-ON-d : $E2E_OUT is JSON and the expression holds
  local what=$1 expr=$2 msg
  msg=$(python3 - "$E2E_OUT" "$expr" 2>&1 <<'EOF'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        d = json.load(f)
except Exception as e:
    print("not valid JSON: %s" % e); sys.exit(1)
try:
    ok = eval(expr, {"d": d})
except Exception as e:
    print("check %r raised %r" % (expr, e)); sys.exit(1)
if not ok:
    print("check %r is false" % expr); sys.exit(1)
EOF
  ) || { echo "  output was: $(head -c 1500 "$E2E_OUT")" >&2; fail "$what: $msg"; }
}

features_are_strings='isinstance(d, dict) and isinstance(d.get("features"), list) and all(isinstance(x, str) for x in d["features"])'

# --- --print-capabilities ------------------------------------------------------
note "--print-capabilities"
run_bin "socket --tpm2 --print-capabilities" socket --tpm2 --print-capabilities
# exactly what swtpm_setup/libvirt parse: one JSON object on stdout
python3 -c 'import json,sys; json.load(sys.stdin)' <"$E2E_OUT" ||
  fail "--tpm2 --print-capabilities output is not valid JSON: $(head -c 500 "$E2E_OUT")"
json_check "--tpm2 --print-capabilities" "$features_are_strings"
json_check "--tpm2 --print-capabilities features" '"tpm-2.0" in d["features"]'
json_check "--tpm2 --print-capabilities features" '"rsa-keysize-2048" in d["features"]'
json_check "--tpm2 --print-capabilities: no duplicate features" 'len(set(d["features"])) == len(d["features"])'

# libvirt runs it without --tpm2; swtpm_setup adds --log (stdout must stay pure JSON)
run_bin "socket --print-capabilities" socket --print-capabilities
json_check "--print-capabilities (no --tpm2)" "$features_are_strings"
json_check "--print-capabilities (no --tpm2) features" '"tpm-2.0" in d["features"]'
run_bin "--print-capabilities with --log" socket --tpm2 --print-capabilities --log "file=$WORK/caps.log"
json_check "--tpm2 --print-capabilities --log file=..." '"rsa-keysize-2048" in d["features"]'

# --- --print-states ---------------------------------------------------------------
note "--print-states"
mkdir -p "$VTPM_STATE"
run_bin "--print-states on an empty directory" socket --print-states --tpmstate "dir=$VTPM_STATE" --tpm2
python3 -c 'import json,sys; json.load(sys.stdin)' <"$E2E_OUT" ||
  fail "--print-states output is not valid JSON: $(head -c 500 "$E2E_OUT")"
json_check "--print-states on an empty directory" 'isinstance(d, dict) and d.get("states") == []'

vtpm_start
run_ok "nvdefine (makes the TPM store its state)" tpm2_nvdefine 0x01500040 -C o -s 8 -a "ownerread|ownerwrite"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"

run_bin "--print-states after a run" socket --print-states --tpmstate "dir=$VTPM_STATE" --tpm2
json_check "--print-states after a run" 'isinstance(d, dict) and isinstance(d.get("states"), list)'
json_check "--print-states after a run lists permall" \
  'any(isinstance(s, dict) and s.get("name") == "permall" for s in d["states"])'
json_check "--print-states: permall has a positive size" \
  'all(isinstance(s.get("size"), int) and s["size"] > 0 for s in d["states"] if s.get("name") == "permall")'
# swtpm_setup only looks for the substring
grep -q '"permall"' "$E2E_OUT" || fail "--print-states output lacks the string \"permall\""

# --- --version, --help ---------------------------------------------------------------
note "--version / --help"
run_bin "--version" --version
[ -n "$(tr -d ' \n' <"$E2E_OUT")" ] || fail "--version printed nothing on stdout"
e2e_exec "$VTPM_BIN" socket --help; rc=$?
assert_eq 0 "$rc" "exit status of 'socket --help'"
assert_contains "$(cat "$E2E_OUT" "$E2E_ERR")" "--tpmstate" "socket --help"
exit 0
