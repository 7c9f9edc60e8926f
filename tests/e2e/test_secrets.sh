#!/usr/bin/env bash
# End-to-end: no plaintext TPM secret on disk or in the logs, and the enclave
# process cannot be inspected.
#
# 1. A distinctive 32-byte NV secret and a distinctive secret sealed with
#    `tpm2_create -i` (made persistent, and also left loaded in the TPM when the
#    volatile state is stored with swtpm_ioctl -v) are searched for -- raw, as
#    lowercase and as uppercase hex -- in every file of the state directory, in the
#    server's log (--log level=2) and stderr, and in the state blobs handed out by
#    swtpm_ioctl --save (CMD_GET_STATEBLOB): absent everywhere. A restart then reads
#    and unseals both, so they were stored (sealed), not lost.
#    Note: at --log level=20 the log dumps the TPM traffic, i.e. what the client
#    sends (the NV data in TPM2_NV_Write, the sealed data in TPM2_Create), exactly
#    as swtpm's does; that is a debugging aid and not what this test checks.
# 2. The enclave process (svtpm-enclave, child of svtpm) has core dumps off
#    (/proc/PID/limits: Max core file size 0), no_new_privs, and a seccomp filter
#    (Seccomp: 2; not checked when SVTPM_ENCLAVE_SECCOMP=off, the sanitizer run).
#    Non-root users cannot read its memory (/proc/PID/mem) or attach gdb. Since
#    that is true of any root process, the decisive check runs svtpm itself as
#    nobody: its enclave is then not dumpable -- its /proc files belong to root,
#    and nobody can neither open its /proc/PID/mem nor ptrace it -- while the same
#    works on a control process of nobody.
#
# svtpm-only: skipped when VTPM_BIN is not svtpm.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
e2e_require tpm2_nvdefine tpm2_nvwrite tpm2_nvread tpm2_createprimary tpm2_create tpm2_load \
  tpm2_evictcontrol tpm2_unseal swtpm_ioctl setpriv grep
st_require_svtpm

cd "$WORK" || fail "cd $WORK"
NVIDX=0x01500050 SRK=0x81000010 SEALED=0x81000011
SECCOMP_MODE=${SVTPM_ENCLAVE_SECCOMP:-kill}

randstr() { tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"; }   # randstr N

# --- the secrets ------------------------------------------------------------------------
printf '%s' "NVS$(randstr 29)" >nvsecret.bin           # 32 bytes
printf '%s' "sealed-secret:$(randstr 32)" >sealsecret.txt
assert_file_size nvsecret.bin 32 "NV secret (test setup)"
NEEDLES=()   # what must not be found: raw bytes and hex, upper and lower case
for f in nvsecret.bin sealsecret.txt; do
  NEEDLES+=("$(cat "$f")" "$(e2e_hex "$f")" "$(e2e_hex "$f" | tr 'a-f' 'A-F')")
done
# hex with separators, as in traffic dumps ("4E 56 53 ..."): the first 8 bytes
NEEDLES+=("$(head -c 8 nvsecret.bin | od -An -tx1 | sed 's/^ *//' | tr 'a-f' 'A-F')")
NEEDLES+=("$(head -c 8 nvsecret.bin | od -An -tx1 | sed 's/^ *//')")

search_secrets() {   # search_secrets WHAT PATH... : fail if any needle is in any file under PATHs
  local n hits
  for n in "${NEEDLES[@]}"; do
    hits=$(grep -rlaF -- "$n" "$@" 2>/dev/null | tr '\n' ' ')
    [ -z "$hits" ] || fail "$1: the secret ('${n:0:24}...') is in clear in: $hits"
  done
}

# (self-check of the search: it finds the secrets where they are)
mkdir -p selfcheck; { head -c 100 /dev/urandom; cat nvsecret.bin; e2e_hex sealsecret.txt; } >selfcheck/f
( search_secrets "self-check" selfcheck ) >/dev/null 2>&1 && fail "test bug: search_secrets does not find a planted secret"
rm -rf selfcheck

# --- put them into the TPM --------------------------------------------------------------
vtpm_start
note "writing the NV secret and sealing a secret (persistent, and loaded when the volatile state is stored)"
run_ok "nvdefine" tpm2_nvdefine "$NVIDX" -C o -s 32 -a "ownerread|ownerwrite"
run_ok "nvwrite secret" tpm2_nvwrite "$NVIDX" -C o -i nvsecret.bin
run_ok "createprimary" tpm2_createprimary -C o -c srk.ctx
run_ok "evictcontrol SRK" tpm2_evictcontrol -C o -c srk.ctx "$SRK"
run_ok "create sealed object" tpm2_create -C "$SRK" -i sealsecret.txt -u seal.pub -r seal.priv
run_ok "load sealed object" tpm2_load -C "$SRK" -u seal.pub -r seal.priv -c seal.ctx
run_ok "evictcontrol sealed object" tpm2_evictcontrol -C o -c seal.ctx "$SEALED"
run_ok "unseal" tpm2_unseal -c "$SEALED" -o unsealed.txt
assert_files_equal sealsecret.txt unsealed.txt "unsealed secret"
# a transient copy stays loaded (no flush) so the volatile state holds it too
timeout -k 5 "$E2E_CMD_TIMEOUT" tpm2_load -C "$SRK" -u seal.pub -r seal.priv -c seal2.ctx >/dev/null 2>&1 ||
  fail "tpm2_load of the sealed object (kept loaded) failed"
run_ok "store the volatile state (CMD_STORE_VOLATILE)" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" -v
[ -s "$VTPM_STATE/svtpm.volatilestate" ] || fail "swtpm_ioctl -v stored no svtpm.volatilestate"
# (snapshot: fetching the volatile blob below deletes the file, as swtpm does)
cp -a "$VTPM_STATE" "$WORK/state-after-store-volatile"
run_ok "get the permanent state blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --save permanent "$WORK/blob.permanent"
run_ok "get the volatile state blob" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" --save volatile "$WORK/blob.volatile"
e2e_flush_transient

# --- the enclave process (svtpm run as root) ----------------------------------------------
enclave_of() {   # enclave_of PID : sets ENCLAVE to the pid of PID's svtpm-enclave child
  ENCLAVE=$(ps -o pid=,comm= --ppid "$1" | awk '$2 == "svtpm-enclave" { print $1 }')
  [ -n "$ENCLAVE" ] && [ "$(wc -w <<<"$ENCLAVE")" = 1 ] ||
    fail "expected one svtpm-enclave child of svtpm pid $1, found '$ENCLAVE' ($(ps -o pid=,comm= --ppid "$1" | tr '\n' ' '))"
}

check_hardening() {   # check_hardening PID WHAT : core dumps off, no_new_privs, seccomp filter
  local lim
  lim=$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$1/limits")
  assert_eq "0 0" "$lim" "$2: /proc/$1/limits 'Max core file size' (soft hard)"
  assert_eq 1 "$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$1/status")" "$2: NoNewPrivs in /proc/$1/status"
  if [ "$SECCOMP_MODE" = off ]; then
    note "$2: SVTPM_ENCLAVE_SECCOMP=off (sanitizer run): the seccomp check is skipped"
  else
    assert_eq 2 "$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$1/status")" "$2: Seccomp (2 = filter) in /proc/$1/status"
  fi
}

as_nobody() { setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups "$@"; }

mem_readable() {   # mem_readable PID : nobody can open /proc/PID/mem (the ptrace access check)
  # shellcheck disable=SC2016
  as_nobody sh -c 'exec 3<"/proc/$1/mem"' _ "$1" 2>/dev/null
}

gdb_attaches() {   # gdb_attaches PID : nobody can attach gdb to PID (output in $WORK/gdb.out)
  as_nobody env HOME=/tmp timeout -k 5 30 gdb -nx -batch -p "$1" -ex 'info registers rip' >"$WORK/gdb.out" 2>&1 </dev/null
  ! grep -qiE 'ptrace: Operation not permitted|Could not attach|not permitted' "$WORK/gdb.out" &&
    grep -qi 'rip' "$WORK/gdb.out"
}

enclave_of "$VTPM_PID"
note "enclave pid $ENCLAVE (svtpm runs as root)"
check_hardening "$ENCLAVE" "enclave (root)"
mem_readable "$ENCLAVE" && fail "nobody can open /proc/$ENCLAVE/mem of the enclave"
if command -v gdb >/dev/null 2>&1; then
  gdb_attaches "$ENCLAVE" && fail "nobody attached gdb to the enclave: $(tail -n 3 "$WORK/gdb.out")"
fi

# --- the state directory and the logs ------------------------------------------------------
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"
note "searching the state directory, the log, stderr and the state blobs for the secrets"
note "(the log is at level 2; at level 20 it dumps the TPM traffic, i.e. what the client sends, as swtpm's does)"
ls "$VTPM_STATE"/svtpm.* >/dev/null 2>&1 || fail "no svtpm state files in $VTPM_STATE"
search_secrets "state directory (with the stored volatile state)" "$WORK/state-after-store-volatile"
search_secrets "state directory" "$VTPM_STATE"
search_secrets "log (level 2)" "$VTPM_LOG"
search_secrets "server stdout/stderr" "$VTPM_STDERR"
search_secrets "state blobs from swtpm_ioctl --save" "$WORK/blob.permanent" "$WORK/blob.volatile"

# they were stored: a restart reads them back
vtpm_start
run_ok "nvread after restart" tpm2_nvread "$NVIDX" -C o -s 32 -o nvread.bin
assert_files_equal nvsecret.bin nvread.bin "NV secret after a restart"
run_ok "unseal after restart" tpm2_unseal -c "$SEALED" -o unsealed2.txt
assert_files_equal sealsecret.txt unsealed2.txt "unsealed secret after a restart"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"
search_secrets "state directory (after the restart)" "$VTPM_STATE"
search_secrets "log (after the restart)" "$VTPM_LOG" "$VTPM_STDERR"

# --- svtpm run as nobody: the enclave is not dumpable -----------------------------------------
st_nobody_setup "$VTPM_BIN"
mkdir -p "$ST_NB/state"; chown "nobody:$ST_NB_GROUP" "$ST_NB/state"
VTPM_BIN=$ST_NB_BIN VTPM_STATE=$ST_NB/state VTPM_LOG=$ST_NB/vtpm.log VTPM_PIDFILE=$ST_NB/vtpm.pid
vtpm_start
enclave_of "$VTPM_PID"
NOBODY_UID=$(id -u nobody)
assert_eq "$NOBODY_UID" "$(awk '$1 == "Uid:" { print $2 }' "/proc/$ENCLAVE/status")" "uid of the enclave of svtpm run as nobody"
note "enclave pid $ENCLAVE (svtpm runs as nobody)"
check_hardening "$ENCLAVE" "enclave (nobody)"
# control: an ordinary process of nobody
setpriv --reuid=nobody --regid="$ST_NB_GROUP" --clear-groups sleep 300 &
CONTROL=$!; E2E_BG_PIDS+=("$CONTROL")
for _ in $(seq 50); do [ "$(awk '$1 == "Uid:" { print $2 }' "/proc/$CONTROL/status" 2>/dev/null)" = "$NOBODY_UID" ] && break; sleep 0.05; done
# A process that is not dumpable has its /proc/PID files owned by root.
assert_eq "$NOBODY_UID" "$(stat -c %u "/proc/$CONTROL/environ")" "owner of /proc/PID/environ of a dumpable process of nobody (control)"
assert_eq 0 "$(stat -c %u "/proc/$ENCLAVE/environ")" "owner of /proc/PID/environ of the enclave (0 = not dumpable)"
if mem_readable "$CONTROL"; then
  mem_readable "$ENCLAVE" && fail "nobody can open /proc/$ENCLAVE/mem of its own svtpm's enclave: it is dumpable"
  note "/proc/PID/mem as nobody: opens for the control process, refused for the enclave"
else
  note "nobody cannot open /proc/PID/mem of its own control process here (ptrace restricted): mem check not decisive"
fi
if command -v gdb >/dev/null 2>&1; then
  if gdb_attaches "$CONTROL"; then
    gdb_attaches "$ENCLAVE" && fail "nobody attached gdb to its own svtpm's enclave: $(tail -n 3 "$WORK/gdb.out")"
    grep -qi 'not permitted' "$WORK/gdb.out" ||
      fail "gdb -p on the enclave failed, but not with 'Operation not permitted': $(tail -n 3 "$WORK/gdb.out")"
    note "gdb -p as nobody: attaches to the control process, not to the enclave ($(grep -i 'not permitted' "$WORK/gdb.out" | head -n 1))"
  else
    note "gdb (as nobody) cannot attach to its own control process here: gdb check not decisive ($(tail -n 1 "$WORK/gdb.out"))"
  fi
else
  note "gdb not installed: the gdb attach check is skipped"
fi
kill "$CONTROL" 2>/dev/null
vtpm_stop || fail "graceful stop (nobody) failed (exit status $VTPM_EXIT)"
