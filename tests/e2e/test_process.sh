#!/usr/bin/env bash
# The process contract operators and libvirt rely on: --daemon returns only
# once the vTPM answers (and fails with the child's error), --pid file=/fd=
# hold the pid without a newline and disappear at a clean exit, --log fd=
# logs there, SIGTERM shuts down cleanly (socket and pid file removed, exit 0),
# --ctrl ...,terminate exits when the control client leaves, --runas drops
# privileges (the enclave too).
source "$(dirname "$0")/lib.sh"
case $("$VTPM_BIN" --version 2>&1) in *svtpm*) ;; *) skip "$VTPM_BIN is not svtpm";; esac
mkdir -p "$VTPM_STATE"
ctrl="$WORK/ctrl.sock"
base=(socket --tpm2 --tpmstate "dir=$VTPM_STATE" --flags not-need-init,startup-clear)

note "--daemon returns once ready; --pid file= holds the pid"
"$VTPM_BIN" "${base[@]}" --daemon --ctrl "type=unixio,path=$ctrl" --pid "file=$WORK/pid" \
  --log "file=$WORK/d.log,level=2" || fail "--daemon returned $?"
[ -S "$ctrl" ] || fail "control socket missing when --daemon returned"
pid=$(cat "$WORK/pid")
assert_match '^[0-9]+$' "$pid" "pid file content (no newline)"
kill -0 "$pid" || fail "daemon $pid not running"
E2E_BG_PIDS+=("$pid")
run_ok "GET_CAPABILITY over the daemon's socket" swtpm_ioctl --unix "$ctrl" -c
note "SIGTERM: clean exit, socket and pid file removed"
kill -TERM "$pid"
for _ in $(seq 100); do [ -e "$WORK/pid" ] || [ -S "$ctrl" ] || break; sleep 0.05; done
[ ! -e "$WORK/pid" ] || fail "pid file left after SIGTERM"
[ ! -e "$ctrl" ] || fail "control socket left after SIGTERM"
grep -q "signal 15: shutting down" "$WORK/d.log" || fail "no clean shutdown in the log"

note "--daemon with a broken start fails with the child's status"
run_fails "daemon on a missing state dir" "$VTPM_BIN" socket --tpm2 --daemon \
  --tpmstate "dir=$WORK/no/such/dir" --ctrl "type=unixio,path=$WORK/c2.sock" --flags not-need-init

note "--pid fd= and --log fd="
: >"$WORK/pid2"
( exec 7<>"$WORK/pid2" 8>>"$WORK/fd.log"; exec setsid "$VTPM_BIN" "${base[@]}" \
    --ctrl "type=unixio,path=$ctrl,terminate" --pid fd=7 --log fd=8,level=2 ) &
spid=$!
E2E_BG_PIDS+=("$spid")
# (the "ready" line may follow the socket and the pid by a moment)
for _ in $(seq 100); do
  [ -S "$ctrl" ] && [ -s "$WORK/pid2" ] && grep -q "ready" "$WORK/fd.log" && break; sleep 0.05
done
assert_eq "$spid" "$(cat "$WORK/pid2")" "pid written to --pid fd="
grep -q "ready" "$WORK/fd.log" || fail "nothing logged to --log fd="
note "--ctrl ...,terminate: exits when the control client leaves"
run_ok "one control command" swtpm_ioctl --unix "$ctrl" -c
for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$spid" 2>/dev/null && fail "still running after its control client left"
wait "$spid"; rc=$?
assert_eq 0 "$rc" "exit status after terminate"

note "-t: the process ends when its TCP data client leaves (as swtpm)"
e2e_pick_ports || fail "no free port"
setsid "$VTPM_BIN" "${base[@]}" --server "type=tcp,port=$VTPM_PORT" --ctrl "type=tcp,port=$VTPM_CTRL_PORT" -t &
tpid=$!
E2E_BG_PIDS+=("$tpid")
for _ in $(seq 100); do e2e_port_open "$VTPM_PORT" && break; sleep 0.05; done
# the probe above was a client too: -t ends the process when it leaves
for _ in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$tpid" 2>/dev/null && fail "-t: still running after its data client left"
wait "$tpid"; assert_eq 0 "$?" "exit status with -t"
run_fails "lock=false is refused" "$VTPM_BIN" socket --tpm2 --tpmstate "dir=$VTPM_STATE,lock=false" \
  --ctrl "type=unixio,path=$WORK/l.sock"

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  note "--runas nobody: host and enclave drop to nobody"
  chmod 711 "$WORK"   # nobody must reach its own directory inside
  rdir="$WORK/runas"; mkdir -p "$rdir/state"; chown -R nobody "$rdir"
  cp "$SVTPM_PLATFORM_KEY" "$rdir/pk" 2>/dev/null || true
  [ -f "$rdir/pk" ] && chown nobody "$rdir/pk"
  SVTPM_PLATFORM_KEY="$rdir/pk" setsid "$VTPM_BIN" socket --tpm2 --tpmstate "dir=$rdir/state" \
    --ctrl "type=unixio,path=$rdir/c.sock" --flags not-need-init --runas nobody \
    --log "file=$rdir/log,level=2" &
  rpid=$!
  E2E_BG_PIDS+=("$rpid")
  for _ in $(seq 100); do [ -S "$rdir/c.sock" ] && break; sleep 0.05; done
  [ -S "$rdir/c.sock" ] || { cat "$rdir/log" 2>/dev/null; fail "--runas nobody did not start"; }
  sleep 0.2
  assert_eq "$(id -u nobody)" "$(awk '/^Uid:/{print $2}' "/proc/$rpid/status")" "host uid"
  enc=$(pgrep -P "$rpid" -f svtpm-enclave | head -n 1)
  [ -n "$enc" ] || fail "no enclave process"
  assert_eq "$(id -u nobody)" "$(awk '/^Uid:/{print $2}' "/proc/$enc/status")" "enclave uid"
  run_ok "shutdown" swtpm_ioctl --unix "$rdir/c.sock" -s
fi
note "PASS"
