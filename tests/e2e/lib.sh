# shellcheck shell=bash
# Shared helpers for the end-to-end tests (tests/e2e/test_*.sh).
#
# Sourced, never executed. Sourcing it:
#   * checks the prerequisites (the vTPM binary, tpm2-tools, swtpm_ioctl, ...) and
#     skips the test (exit 77, reason on the last line) when something is missing;
#   * creates a private work directory $WORK (removed at exit unless KEEP=1);
#   * exports SVTPM_PLATFORM_KEY=$WORK/platform.key and SVTPM_COUNTERS=$WORK/counters
#     (the counter store of bound vTPMs; same paths for every start
#     within one test; svtpm uses it, swtpm ignores it);
#   * installs a trap that always kills every process the test started and, on
#     failure, prints the tail of the vTPM log and the failure reason last.
#
# Environment:
#   VTPM_BIN            swtpm-compatible binary under test (default $SVTPM_TOP/$BUILD/swtpm)
#   KEEP=1              keep $WORK after the test (its path is printed)
#   E2E_CMD_TIMEOUT     bound for one client command, seconds (default 60)
#   E2E_START_TIMEOUT   bound for the server to answer after start (default 30)
#   E2E_STOP_TIMEOUT    bound for a graceful stop (default 30)
#   E2E_KILL            what vtpm_kill9 kills: "group" (default: every process of
#                       the vTPM, i.e. a crash of the whole thing) or "pid" (the main
#                       process only; its helpers must then go away on their own)
#   E2E_VERBOSE=1       echo the output of every successful command
#   E2E_START_ARGS      extra options for every vtpm_start (split on spaces; e.g. a
#                       binding manifest, see test_crash_bound.sh)
#   E2E_FLAGS           vtpm_start's --flags (default not-need-init,startup-clear;
#                       not-need-init alone starts as QEMU would, without TPM2_Startup)
#
# Conventions for tests:
#   * Run client commands through run_ok / run_fails (bounded by a timeout, output
#     kept in $E2E_OUT / $E2E_ERR, tpm2_* commands followed by a flush of transient
#     objects because there is no resource manager between the tools and the TPM).
#   * Never call run_ok, fail or the vtpm_* helpers inside $(...): their exit would
#     only leave the subshell. Read "$E2E_OUT" afterwards instead.
#   * Do not depend on file names inside the state directory (svtpm has its own).

set -u
set -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SVTPM_TOP=${SVTPM_TOP:-$(cd "$E2E_DIR/../.." && pwd)}
BUILD=${BUILD:-build}
VTPM_BIN=${VTPM_BIN:-$SVTPM_TOP/$BUILD/swtpm}
E2E_NAME=$(basename "$0" .sh)
E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
E2E_START_TIMEOUT=${E2E_START_TIMEOUT:-30}
E2E_STOP_TIMEOUT=${E2E_STOP_TIMEOUT:-30}
E2E_KILL=${E2E_KILL:-group}
E2E_VERBOSE=${E2E_VERBOSE:-0}
KEEP=${KEEP:-0}

E2E_T0=$(date +%s.%N)
E2E_FAIL_MSG=
E2E_SERVER_PIDS=()   # server processes started (each the leader of its own session/group)
E2E_BG_PIDS=()       # other background helpers started by the test
E2E_GROUPS=()        # every process group a server was started in (swept at exit)
E2E_START_COUNT=0
VTPM_PID=
VTPM_PORT=
VTPM_CTRL_PORT=
VTPM_EXIT=
WORK=

# ---------------------------------------------------------------------------
# messages, failing, skipping

note() { printf '[%s] %s\n' "$E2E_NAME" "$*"; }

fail() {
  E2E_FAIL_MSG="$*"
  printf '[%s] FAIL: %s\n' "$E2E_NAME" "$*" >&2
  exit 1
}

skip() {
  # The runner shows the last output line as the reason: print nothing after it.
  printf '%s\n' "$*"
  exit 77
}

# ---------------------------------------------------------------------------
# prerequisites

e2e_require() {   # e2e_require CMD... : skip unless every command exists
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "missing tool '$c' (needed by $E2E_NAME)"
  done
}

[ -x "$VTPM_BIN" ] && [ ! -d "$VTPM_BIN" ] ||
  skip "VTPM_BIN=$VTPM_BIN is not an executable (build it, or set VTPM_BIN=/usr/bin/swtpm)"
e2e_require timeout setsid ps mktemp od cmp

# ---------------------------------------------------------------------------
# work directory and the always-on cleanup trap

WORK=$(mktemp -d "${TMPDIR:-/tmp}/svtpm-e2e-$E2E_NAME.XXXXXX") || { echo "mktemp failed" >&2; exit 1; }
VTPM_STATE=$WORK/state
VTPM_LOG=$WORK/vtpm.log          # the server's --log file (appended across restarts)
VTPM_STDERR=$WORK/vtpm.stderr    # the server's stdout/stderr (appended across restarts)
VTPM_PIDFILE=$WORK/vtpm.pid
E2E_OUT=$WORK/cmd.out
E2E_ERR=$WORK/cmd.err
export SVTPM_PLATFORM_KEY=$WORK/platform.key
export SVTPM_COUNTERS=$WORK/counters   # bound vTPMs' counter store (--counters)
# Never let a user's TCTI setting leak into a test before a server is started.
export TPM2TOOLS_TCTI=none

e2e_descendants() {   # e2e_descendants PID : all descendant pids (not PID itself)
  local root=$1
  ps -e -o pid=,ppid= 2>/dev/null | awk -v root="$root" '
    { parent[$1] = $2; pids[++n] = $1 }
    END {
      want[root] = 1; changed = 1
      while (changed) {
        changed = 0
        for (i = 1; i <= n; i++) { p = pids[i]
          if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 } }
      }
      for (p in want) if (p != root) print p
    }'
}

e2e_group_members() {   # e2e_group_members PGID : live pids in that process group
  ps -e -o pid=,pgid=,stat= 2>/dev/null | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

e2e_ours() {   # e2e_ours PID : PID was started by this test (inherited our environment or names $WORK)
  # (pid_max may be small: never kill a recycled pid just because it is in an old group)
  grep -qzxF "SVTPM_PLATFORM_KEY=$SVTPM_PLATFORM_KEY" "/proc/$1/environ" 2>/dev/null ||
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$WORK"
}

e2e_alive() {   # e2e_alive PID : true if PID exists and is not a zombie
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}

e2e_wait_gone() {   # e2e_wait_gone PID SECONDS : wait (bounded) until PID has exited
  local pid=$1 n=$(( $2 * 20 ))
  while e2e_alive "$pid"; do
    n=$((n - 1)); [ "$n" -gt 0 ] || return 1
    sleep 0.05
  done
  return 0
}

e2e_kill_tree() {   # e2e_kill_tree SIGNAL PID : signal PID and all its descendants
  local sig=$1 pid=$2 d
  for d in $(e2e_descendants "$pid"); do kill "-$sig" "$d" 2>/dev/null; done
  kill "-$sig" "$pid" 2>/dev/null
  return 0
}

e2e_forget_server() {   # drop PID from the list of servers to clean up
  local pid=$1 p keep=()
  for p in "${E2E_SERVER_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  E2E_SERVER_PIDS=("${keep[@]}")
}

e2e_print_logs() {
  if [ -s "$VTPM_LOG" ]; then
    echo "---- last lines of the vTPM log ($VTPM_LOG) ----"
    tail -n 40 "$VTPM_LOG"
  fi
  if [ -s "$VTPM_STDERR" ]; then
    echo "---- last lines of the vTPM stdout/stderr ($VTPM_STDERR) ----"
    tail -n 20 "$VTPM_STDERR"
  fi
}

e2e_cleanup() {
  local rc=$? p m
  trap - EXIT INT TERM HUP
  set +e
  {   # (stderr muted: bash reports "Killed" for every reaped job)
    for p in "${E2E_BG_PIDS[@]}"; do e2e_kill_tree KILL "$p"; done
    for p in "${E2E_SERVER_PIDS[@]}"; do
      kill -KILL -- "-$p"
      e2e_kill_tree KILL "$p"
    done
    # leftovers of servers already stopped or killed (helpers that outlived them)
    for p in "${E2E_GROUPS[@]}"; do
      for m in $(e2e_group_members "$p"); do e2e_ours "$m" && kill -KILL "$m"; done
    done
    for p in "${E2E_BG_PIDS[@]}" "${E2E_SERVER_PIDS[@]}"; do wait "$p"; done
  } 2>/dev/null
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    e2e_print_logs
    [ "$KEEP" = 1 ] && echo "[$E2E_NAME] kept work directory $WORK"
    # The runner shows the last lines: end with the reason.
    echo "[$E2E_NAME] FAILED (rc=$rc): ${E2E_FAIL_MSG:-see output above}"
  elif [ "$rc" -eq 0 ]; then
    [ "$KEEP" = 1 ] && echo "[$E2E_NAME] kept work directory $WORK"
    echo "[$E2E_NAME] passed in $(awk -v a="$E2E_T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
  fi
  [ "$KEEP" = 1 ] || rm -rf "$WORK"
  exit "$rc"
}
trap e2e_cleanup EXIT
trap 'E2E_FAIL_MSG="interrupted (SIGINT)"; exit 130' INT
trap 'E2E_FAIL_MSG="terminated (SIGTERM)"; exit 143' TERM
trap 'E2E_FAIL_MSG="hangup (SIGHUP)"; exit 129' HUP

# ---------------------------------------------------------------------------
# running client commands (bounded, output captured, content asserted by callers)

e2e_show_cmd_output() {
  if [ -s "$E2E_ERR" ]; then echo "  stderr:"; tail -n 15 "$E2E_ERR" | sed 's/^/    /'; fi
  if [ -s "$E2E_OUT" ]; then echo "  stdout:"; head -c 2000 "$E2E_OUT" | tail -n 15 | sed 's/^/    /'; fi
}

e2e_flush_transient() {
  # No resource manager: objects loaded by one tool stay loaded in the TPM (3 slots).
  timeout -k 5 "$E2E_CMD_TIMEOUT" tpm2_flushcontext -t >/dev/null 2>&1
  return 0
}

e2e_exec() {   # e2e_exec CMD... : run bounded, stdout -> $E2E_OUT, stderr -> $E2E_ERR
  local rc
  timeout -k 5 "$E2E_CMD_TIMEOUT" "$@" >"$E2E_OUT" 2>"$E2E_ERR" </dev/null
  rc=$?
  case $1 in tpm2_flushcontext) ;; tpm2_*) e2e_flush_transient;; esac
  return "$rc"
}

run_ok() {   # run_ok WHAT CMD... : CMD must exit 0; its stdout is then in $E2E_OUT
  local what=$1 rc; shift
  e2e_exec "$@"; rc=$?
  if [ "$rc" -ne 0 ]; then
    { echo "[$E2E_NAME] command failed (rc=$rc$([ "$rc" -eq 124 ] && echo ", timed out after ${E2E_CMD_TIMEOUT}s")): $*"
      e2e_show_cmd_output; } >&2
    fail "$what: command exited $rc: $1"
  fi
  [ "$E2E_VERBOSE" = 1 ] && { echo "\$ $*"; cat "$E2E_OUT"; }
  return 0
}

run_fails() {   # run_fails WHAT CMD... : CMD must exit non-zero (a timeout is not accepted)
  local what=$1 rc; shift
  e2e_exec "$@"; rc=$?
  if [ "$rc" -eq 0 ]; then
    { echo "[$E2E_NAME] command unexpectedly succeeded: $*"; e2e_show_cmd_output; } >&2
    fail "$what: command should have failed: $1"
  fi
  if [ "$rc" -ge 124 ] && [ "$rc" -le 137 ]; then
    { echo "[$E2E_NAME] command hung or was killed (rc=$rc): $*"; e2e_show_cmd_output; } >&2
    fail "$what: command did not fail cleanly (rc=$rc): $1"
  fi
  return 0
}

# ---------------------------------------------------------------------------
# assertions (each prints what it compared when it fails)

assert_eq() {   # assert_eq EXPECTED ACTUAL WHAT
  [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_ne() {   # assert_ne UNEXPECTED ACTUAL WHAT
  [ "$1" != "$2" ] || fail "$3: got '$2', which must differ"
}

assert_match() {   # assert_match ERE STRING WHAT
  [[ $2 =~ $1 ]] || fail "$3: '$2' does not match /$1/"
}

assert_contains() {   # assert_contains HAYSTACK NEEDLE WHAT
  case $1 in
    *"$2"*) ;;
    *) printf '%s\n' "$1" | head -n 30 | sed 's/^/    | /' >&2
       fail "$3: output (above) does not contain '$2'";;
  esac
}

assert_file_size() {   # assert_file_size FILE BYTES WHAT
  local n
  [ -f "$1" ] || fail "$3: file $1 does not exist"
  n=$(wc -c <"$1" | tr -d ' ')
  [ "$n" = "$2" ] || fail "$3: $1 has $n bytes, expected $2"
}

e2e_hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }   # e2e_hex FILE : lowercase hex, one line

assert_files_equal() {   # assert_files_equal EXPECTED ACTUAL WHAT
  [ -f "$1" ] || fail "$3: file $1 does not exist"
  [ -f "$2" ] || fail "$3: file $2 does not exist"
  cmp -s "$1" "$2" ||
    fail "$3: contents differ: expected $(e2e_hex "$1" | head -c 128) got $(e2e_hex "$2" | head -c 128)"
}

assert_files_differ() {   # assert_files_differ A B WHAT
  cmp -s "$1" "$2" && fail "$3: $1 and $2 are identical ($(e2e_hex "$1" | head -c 64)...)"
  return 0
}

# ---------------------------------------------------------------------------
# the server under test

e2e_rand16() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

e2e_pick_ports() {   # sets VTPM_PORT (even) and VTPM_CTRL_PORT=VTPM_PORT+1, both unused now
  local used='' p
  # Every local TCP port in use in any state (listeners, connections, TIME_WAIT).
  # Stay below the ephemeral range (32768+) so outgoing connections don't collide.
  command -v ss >/dev/null 2>&1 && used=$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
  for _ in $(seq 1 500); do
    p=$(( 20000 + ($(e2e_rand16) % 6000) * 2 ))
    if ! grep -qx -e "$p" -e "$((p + 1))" <<<"$used"; then
      VTPM_PORT=$p; VTPM_CTRL_PORT=$((p + 1)); return 0
    fi
  done
  return 1
}

e2e_port_open() {   # e2e_port_open PORT : a TCP connect to 127.0.0.1:PORT succeeds (bounded)
  timeout -k 1 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

vtpm_start() {   # vtpm_start [EXTRA ARGS...] : start the server on $VTPM_STATE, wait until it answers
  local log_before err_before deadline rc
  mkdir -p "$VTPM_STATE"
  [ -z "$VTPM_PID" ] || fail "vtpm_start: a server (pid $VTPM_PID) is already running"
  for _ in 1 2 3 4 5; do
    e2e_pick_ports || fail "could not find a free TCP port pair"
    E2E_START_COUNT=$((E2E_START_COUNT + 1))
    log_before=$( [ -f "$VTPM_LOG" ] && wc -c <"$VTPM_LOG" || echo 0)
    err_before=$( [ -f "$VTPM_STDERR" ] && wc -c <"$VTPM_STDERR" || echo 0)
    echo "==== start #$E2E_START_COUNT: ports $VTPM_PORT/$VTPM_CTRL_PORT ====" >>"$VTPM_STDERR"
    # setsid: the server leads its own process group, so a crash can take all of it.
    setsid "$VTPM_BIN" socket --tpm2 \
      --tpmstate "dir=$VTPM_STATE" \
      --server "type=tcp,port=$VTPM_PORT" \
      --ctrl "type=tcp,port=$VTPM_CTRL_PORT" \
      --flags "${E2E_FLAGS:-not-need-init,startup-clear}" \
      --log "file=$VTPM_LOG,level=2" \
      --pid "file=$VTPM_PIDFILE" \
      "$@" ${E2E_START_ARGS:-} </dev/null >>"$VTPM_STDERR" 2>&1 &
    VTPM_PID=$!
    E2E_SERVER_PIDS+=("$VTPM_PID")
    E2E_GROUPS+=("$VTPM_PID")
    deadline=$(( $(date +%s) + E2E_START_TIMEOUT ))
    while :; do
      if ! e2e_alive "$VTPM_PID"; then
        { wait "$VTPM_PID"; } 2>/dev/null; rc=$?
        e2e_forget_server "$VTPM_PID"; VTPM_PID=
        if { tail -c +"$((err_before + 1))" "$VTPM_STDERR"; tail -c +"$((log_before + 1))" "$VTPM_LOG" 2>/dev/null; } |
             grep -qi -e 'address already in use' -e 'EADDRINUSE'; then
          note "port $VTPM_PORT/$VTPM_CTRL_PORT was taken meanwhile; retrying with other ports"
          continue 2
        fi
        fail "the vTPM exited during start-up (rc=$rc, start #$E2E_START_COUNT)"
      fi
      if e2e_port_open "$VTPM_PORT" && e2e_port_open "$VTPM_CTRL_PORT"; then
        export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$VTPM_PORT"
        return 0
      fi
      if [ "$(date +%s)" -ge "$deadline" ]; then
        fail "the vTPM (pid $VTPM_PID) did not answer on ports $VTPM_PORT/$VTPM_CTRL_PORT within ${E2E_START_TIMEOUT}s"
      fi
      sleep 0.1
    done
  done
  fail "could not start the vTPM: ports kept being taken"
}

e2e_reap_server() {   # e2e_reap_server PID : collect the exit status into VTPM_EXIT
  { wait "$1"; } 2>/dev/null; VTPM_EXIT=$?
  e2e_forget_server "$1"
  [ "$VTPM_PID" = "$1" ] && VTPM_PID=
  export TPM2TOOLS_TCTI=none
  return 0
}

e2e_wait_group_empty() {   # e2e_wait_group_empty PGID SECONDS
  local n=$(( $2 * 20 ))
  while [ -n "$(e2e_group_members "$1")" ]; do
    n=$((n - 1)); [ "$n" -gt 0 ] || return 1
    sleep 0.05
  done
  return 0
}

vtpm_stop() {
  # Graceful stop: CMD_SHUTDOWN over the control channel (what libvirt does), then,
  # bounded, SIGTERM and SIGKILL. Returns 0 only if the CMD_SHUTDOWN path worked, the
  # process exited with status 0 and left no helper processes behind; the exit status
  # is in VTPM_EXIT either way.
  local pid=$VTPM_PID ok=0 rc
  [ -n "$pid" ] || return 0
  timeout -k 5 "$E2E_STOP_TIMEOUT" swtpm_ioctl --tcp "127.0.0.1:$VTPM_CTRL_PORT" -s >"$WORK/stop.out" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ]; then
    note "swtpm_ioctl -s failed (rc=$rc): $(tr '\n' ' ' <"$WORK/stop.out")"; ok=1
  fi
  if ! e2e_wait_gone "$pid" "$E2E_STOP_TIMEOUT"; then
    note "vTPM pid $pid still running ${E2E_STOP_TIMEOUT}s after CMD_SHUTDOWN; sending SIGTERM"; ok=1
    { kill -TERM "$pid"; e2e_wait_gone "$pid" 10; } 2>/dev/null ||
    {
      note "vTPM pid $pid ignored SIGTERM for 10s; sending SIGKILL"
      { kill -KILL -- "-$pid"; kill -KILL "$pid"; e2e_wait_gone "$pid" 10; } 2>/dev/null ||
        note "vTPM pid $pid survived SIGKILL?"
    }
  fi
  e2e_reap_server "$pid"
  if [ "$VTPM_EXIT" -ne 0 ]; then note "vTPM exited with status $VTPM_EXIT"; ok=1; fi
  if ! e2e_wait_group_empty "$pid" 10; then
    note "vTPM left processes behind: $(e2e_group_members "$pid" | tr '\n' ' ')"; ok=1
    for rc in $(e2e_group_members "$pid"); do e2e_ours "$rc" && kill -KILL "$rc" 2>/dev/null; done
  fi
  return "$ok"
}

vtpm_kill9() {
  # Crash: SIGKILL the whole process group (E2E_KILL=group) or the main process
  # only (E2E_KILL=pid). Waits, bounded, until everything is gone.
  local pid=$VTPM_PID
  [ -n "$pid" ] || fail "vtpm_kill9: no server running"
  {   # (stderr muted: bash would report "Killed" when it reaps the job)
    if [ "$E2E_KILL" = pid ]; then
      kill -KILL "$pid"
    else
      kill -KILL -- "-$pid" || kill -KILL "$pid"
    fi
    e2e_wait_gone "$pid" 30
  } 2>/dev/null || fail "vTPM pid $pid still alive 30s after SIGKILL"
  e2e_reap_server "$pid"
  if ! e2e_wait_group_empty "$pid" 20; then
    fail "processes of the killed vTPM are still running 20s later: $(e2e_group_members "$pid" | tr '\n' ' ')"
  fi
  return 0
}

vtpm_restart() { vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"; vtpm_start "$@"; }

# ---------------------------------------------------------------------------
# small TPM helpers

pcr_value() {   # pcr_value BANK INDEX : sets PCR_HEX (lowercase hex, no 0x)
  run_ok "tpm2_pcrread $1:$2" tpm2_pcrread "$1:$2"
  PCR_HEX=$(awk -v i="$2" '$1 == i || $1 == i":" { v = $NF } END { print v }' "$E2E_OUT" | sed 's/^0x//' | tr 'A-F' 'a-f')
  [ -n "$PCR_HEX" ] || { cat "$E2E_OUT" >&2; fail "could not parse PCR $1:$2 from tpm2_pcrread output"; }
}

out_field() {   # out_field KEY : the "value:" under a top-level "KEY:" in $E2E_OUT (tpm2-tools YAML)
  awk -v k="$1:" '$0 == k { f = 1; next } f && /^[^ ]/ { exit } f && $1 == "value:" { sub(/^ *value: */, ""); print; exit }' "$E2E_OUT"
}

sha256_hex() { sha256sum "$@" | awk '{ print $1 }'; }   # sha256_hex [FILE]
hex_to_file() { printf '%s' "$1" | xxd -r -p >"$2"; }     # hex_to_file HEX FILE
