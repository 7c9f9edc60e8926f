#!/usr/bin/env bash
# bench/run.sh — svtpm vs. the reference swtpm, side by side in ONE run.
#
#   bash bench/run.sh            (or: make bench)
#
# Starts both servers as
#   <bin> socket --tpm2 --tpmstate dir=D --server type=tcp,port=P
#         --ctrl type=tcp,port=P+1 --flags not-need-init,startup-clear
# on free 127.0.0.1 ports, then
#   1. TPM commands: ROUNDS rounds of build/bench/svtpm-bench, alternating the
#      order per round (AB, BA, AB, ...).  Within a round, one svtpm-bench talks to
#      both servers and interleaves them per iteration (A,B,B,A,A,B...), so drifting
#      machine noise hits both alike (BENCH_INTERLEAVE=0: one svtpm-bench per server
#      instead, A then B).  Median of all samples pooled over the rounds.
#   2. Memory: RSS and PSS summed over all processes of each running instance
#      (main process + all descendants, e.g. svtpm's enclave process).
#   3. Extension point: svtpm-only rows from bench/extra-*.sh (see below).
#   4. Launch time: LAUNCHES fresh starts of each server on its now EXISTING state
#      directory, process start -> first answered TPM2_GetRandom (svtpm-launch).
# svtpm-compare then computes, per row, the medians, the ratio svtpm/swtpm, its 95%
# bootstrap interval and the per-round range; run.sh prints the table (operation,
# swtpm, svtpm, ratio, CI, target, verdict, note) and writes it as markdown to
# $BUILD/bench/results.md.  Raw samples (svtpm-bench output) go to $BUILD/bench/raw/.
#
# Environment (all optional):
#   BUILD=build  SWTPM_BIN=$(command -v swtpm)  SVTPM_BIN=$BUILD/svtpm
#   BENCH_ROUNDS=3       rounds per server
#   BENCH_ITERS=500      timed iterations of fast commands, per round
#   BENCH_KEYGEN=50      timed iterations of RSA-2048 key generation, per round
#   BENCH_WARMUP=20      untimed warm-up iterations per command, per round
#   BENCH_LAUNCHES=20    launches per server (back-to-back pairs, order alternating)
#   BENCH_OPS=a,b,...    only these commands (svtpm-bench -o)
#   BENCH_INTERLEAVE=1   0 = whole rounds per server instead of per-iteration interleaving
#   BENCH_PIN=1          0 = no CPU pinning (default: client on one CPU, servers on another)
#   BENCH_TMPDIR=$BUILD/bench   where the scratch dir (state dirs, platform key) goes
#   BENCH_EXTRA="cmd1 cmd2"  more extension commands besides bench/extra-*.sh
#   BENCH_BOUND=1        run svtpm bound (issue 4): a tenant manifest (policy strict,
#                        one 1 MiB image, measured at start), a counter store in the
#                        scratch dir, so every state update also writes the store
#   BENCH_TIME_AUTHORITY=1  (implies BENCH_BOUND=1; issue 5) the manifest also pins a
#                        time authority: a new key, `svtpm-timeauth serve` on a free
#                        127.0.0.1 port for the whole run (pinned with the servers,
#                        stopped at exit), svtpm started with --time-authority
#                        tcp=127.0.0.1:PORT.  Every time-sensitive command (PolicySigned,
#                        PolicySecret, PolicyTicket, PolicyCounterTimer, any command with
#                        a policy session) then fetches a fresh signed token first
#                        (loopback TCP + Ed25519 sign + verify): the PolicyCounterTimer
#                        and PolicyUnseal rows measure that, the other rows should not
#                        change.  E.g. BENCH_TIME_AUTHORITY=1 BENCH_OPS=PolicyCounterTimer,GetRandom
#   BENCH_TARGET_CMD=1.05 BENCH_TARGET_NV=1.00 BENCH_TARGET_LAUNCH= BENCH_TARGET_MEM=
#                        ratio targets (empty = report only)
#
# ---- EXTENSION POINT (svtpm-only rows) -------------------------------------------
# Every executable bench/extra-*.sh (sorted by name), and every command listed in
# $BENCH_EXTRA, is run once after the command benchmark, while both instances are
# still running, with a timeout of $BENCH_EXTRA_TIMEOUT (default 120) seconds.
# Lines it prints to stdout of the form
#     ROW <name>|<value>|<unit>|<target>
# are appended to the table as svtpm-only rows (other stdout lines are shown as
# log).  Its environment:
#   BUILD SWTPM_BIN SVTPM_BIN SVTPM_PLATFORM_KEY BENCH_TMP (scratch dir, removed after)
#   SVTPM_BENCH_PORT SVTPM_BENCH_PID SVTPM_BENCH_STATE   the running svtpm instance
#   SWTPM_BENCH_PORT SWTPM_BENCH_PID SWTPM_BENCH_STATE   the running swtpm instance
#   BENCH_CPU_CLIENT BENCH_CPU_SERVER   the CPUs used for pinning (empty: unpinned)
# It runs in the repository root.  (control port = data port + 1; the state dirs are in use by those instances —
# copy one before opening it elsewhere).
# ------------------------------------------------------------------------------------
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=${BUILD:-build}
ROUNDS=${BENCH_ROUNDS:-3}
ITERS=${BENCH_ITERS:-500}
KEYGEN=${BENCH_KEYGEN:-50}
WARMUP=${BENCH_WARMUP:-20}
LAUNCHES=${BENCH_LAUNCHES:-20}
OPS_FILTER=${BENCH_OPS:-}
INTERLEAVE=${BENCH_INTERLEAVE:-1}
PIN=${BENCH_PIN:-1}
TARGET_CMD=${BENCH_TARGET_CMD:-1.05}
TARGET_NV=${BENCH_TARGET_NV:-1.00}
TARGET_LAUNCH=${BENCH_TARGET_LAUNCH:-}
TARGET_MEM=${BENCH_TARGET_MEM:-}
EXTRA_TIMEOUT=${BENCH_EXTRA_TIMEOUT:-120}

abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

SWTPM_BIN=${SWTPM_BIN:-$(command -v swtpm || true)}
SVTPM_BIN=${SVTPM_BIN:-$BUILD/svtpm}
if [ -z "$SWTPM_BIN" ] || [ ! -x "$SWTPM_BIN" ]; then echo "bench: swtpm not found (set SWTPM_BIN)" >&2; exit 2; fi
[ -x "$SVTPM_BIN" ] || { echo "bench: $SVTPM_BIN not found or not executable (build it, or set SVTPM_BIN)" >&2; exit 2; }
SWTPM_BIN=$(abspath "$SWTPM_BIN")
SVTPM_BIN=$(abspath "$SVTPM_BIN")

OUT=$(abspath "$BUILD/bench")
BENCH=$OUT/svtpm-bench
LAUNCH=$OUT/svtpm-launch
CMPBIN=$OUT/svtpm-compare
# Normally built by `make bench` (bench/bench.mk); build standalone otherwise.
if [ ! -x "$BENCH" ] || [ ! -x "$LAUNCH" ] || [ ! -x "$CMPBIN" ] || [ bench/svtpm-bench.c -nt "$BENCH" ] || [ bench/bench_ops.c -nt "$BENCH" ] || [ bench/bench_ops.h -nt "$BENCH" ] ||
   [ bench/svtpm-launch.c -nt "$LAUNCH" ] || [ bench/svtpm-compare.c -nt "$CMPBIN" ]; then
  make -s -f bench/bench.mk BUILD="$BUILD" bench-build
fi
mkdir -p "$OUT"
rm -rf "$OUT/raw"
mkdir -p "$OUT/raw"

# State directories live on the build tree's file system by default (not /tmp,
# which may be tmpfs), so NV_Write measures writes to a real disk.
TMPBASE=${BENCH_TMPDIR:-$OUT}
mkdir -p "$TMPBASE"
TMP=$(mktemp -d "$TMPBASE/run.XXXXXX")
chmod 700 "$TMP"
export SVTPM_PLATFORM_KEY=$TMP/platform.key   # svtpm needs it; swtpm ignores it
BOUND_ARGS=""
TIME_AUTH=${BENCH_TIME_AUTHORITY:-0}
[ "$TIME_AUTH" != 1 ] || export BENCH_BOUND=1   # also for the extension scripts
TA_ARGS=()   # extra arguments of `svtpm-tenant bind`
if [ "$TIME_AUTH" = 1 ]; then
  TIMEAUTH=$(dirname "$SVTPM_BIN")/svtpm-timeauth
  [ -x "$TIMEAUTH" ] || { echo "bench: $TIMEAUTH not found (make all)" >&2; exit 2; }
  mkdir -p "$TMP/ta"
  "$TIMEAUTH" keygen --out "$TMP/ta/ta.pem" >/dev/null &&
  "$TIMEAUTH" pubkey --key "$TMP/ta/ta.pem" --out "$TMP/ta/ta.pub" >/dev/null ||
    { echo "bench: cannot make a time authority key" >&2; exit 2; }
  TA_ARGS=(--time-authority "$TMP/ta/ta.pub")
fi
if [ "${BENCH_BOUND:-0}" = 1 ]; then
  TENANT=$(dirname "$SVTPM_BIN")/svtpm-tenant
  mkdir -p "$TMP/bound/counters"
  head -c 1048576 /dev/urandom >"$TMP/bound/image"
  "$TENANT" keygen --out "$TMP/bound/t.key" >/dev/null &&
  "$TENANT" bind --key "$TMP/bound/t.key" --vtpm-id "$(cat /proc/sys/kernel/random/uuid)" \
    --image "$TMP/bound/image" --enclave-sigstruct "$(dirname "$SVTPM_BIN")/svtpm-enclave.sig" \
    --policy strict "${TA_ARGS[@]}" --out "$TMP/bound/m" >/dev/null || { echo "bench: cannot make a binding" >&2; exit 2; }
  BOUND_ARGS="--binding manifest=$TMP/bound/m --vm-image $TMP/bound/image --counters dir=$TMP/bound/counters"
fi

# CPU pinning: with >= 2 CPUs the client runs on one CPU and both servers (with
# all their processes, e.g. svtpm's enclave) on another, so both get the same
# placement relative to the client; unpinned, the scheduler's placement alone
# shifts a server's latency by 10-20% on a small machine.
PIN_CLIENT=(); PIN_SERVER=(); PIN_LAUNCH=(); PIN_DESC="off"; CPU_CLIENT=""; CPU_SERVER=""
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then
  mapfile -t CPUS < <(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status | tr ',' '\n' |
    awk -F- '{ if (NF==2) for (i=$1;i<=$2;i++) print i; else print $1 }')
  if [ "${#CPUS[@]}" -ge 2 ]; then
    PIN_CLIENT=(taskset -c "${CPUS[0]}"); PIN_SERVER=(taskset -c "${CPUS[1]}")
    PIN_DESC="client cpu ${CPUS[0]}, servers cpu ${CPUS[1]}"
    PIN_LAUNCH=(-c "${CPUS[1]}")
    CPU_CLIENT=${CPUS[0]}; CPU_SERVER=${CPUS[1]}
  fi
fi

NAMES=(swtpm svtpm)
declare -A BIN=([swtpm]=$SWTPM_BIN [svtpm]=$SVTPM_BIN)
declare -A PID PORT STATE

TA_PID=""
cleanup() {
  local n
  for n in "${NAMES[@]}"; do
    if [ -n "${PID[$n]:-}" ]; then stop_server "$n"; fi
  done
  stop_authority
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "$*" >&2; }

# ---- ports ----------------------------------------------------------------------
USED_PORTS=" "
port_busy() { [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]; }
pick_port_pair() {  # prints P with P and P+1 free (and not handed out before)
  local p i
  for i in $(seq 200); do
    # below the kernel's ephemeral range (32768-60999 here), whose outgoing
    # connections could take the port between this check and the bind
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12700 ))
    case "$USED_PORTS" in *" $p "*|*" $((p+1)) "*) continue ;; esac
    port_busy "$p" || port_busy "$((p+1))" || { USED_PORTS+="$p $((p+1)) "; echo "$p"; return 0; }
  done
  echo "bench: no free port pair" >&2; return 1
}

server_args() {  # name port statedir
  echo socket --tpm2 --tpmstate "dir=$3" --server "type=tcp,port=$2" --ctrl "type=tcp,port=$(($2+1))" \
       --flags not-need-init,startup-clear
  [ "$1" != svtpm ] || echo "$BOUND_ARGS"
}

# All processes of an instance: the main pid and its descendants, recursively.
proc_tree() {
  local p=$1 c
  [ -d "/proc/$p" ] || return 0
  echo "$p"
  # shellcheck disable=SC2013
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do proc_tree "$c"; done
}

start_server() {  # name
  local n=$1 p
  p=$(pick_port_pair)
  PORT[$n]=$p
  STATE[$n]=$TMP/state-$n
  mkdir -p "${STATE[$n]}"
  # setsid: the server leads its own process group, so stop_server can end it and
  # everything it started by that id.
  # shellcheck disable=SC2046
  setsid "${PIN_SERVER[@]}" "${BIN[$n]}" $(server_args "$n" "$p" "${STATE[$n]}") >"$TMP/$n.log" 2>&1 &
  PID[$n]=$!
  local i
  for i in $(seq 500); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 0; fi
    kill -0 "${PID[$n]}" 2>/dev/null || break
    sleep 0.02
  done
  log "bench: $n did not come up on port $p; its log:"; tail -n 20 "$TMP/$n.log" >&2 || true
  return 1
}

# A process is alive if it exists and is not a zombie; its identity is pid plus
# start time, so a recycled pid is never mistaken for it.
proc_state() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1,20; }
alive() { local st; st=$(proc_state "$1") && [ -n "$st" ] && [ "${st%% *}" != Z ]; }

stop_server() {  # name: SIGTERM to the main process (as libvirt does), then whatever
  local n=$1 pid=${PID[$1]:-} i p st   # is left of its process group / tree
  [ -n "$pid" ] || return 0
  local -A start=()
  for p in $(proc_tree "$pid"); do st=$(proc_state "$p") && start[$p]=${st#* }; done
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 150); do alive "$pid" || break; sleep 0.02; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # leftovers in its process group (setsid made it the leader)
  if kill -0 -- "-$pid" 2>/dev/null; then
    for i in $(seq 25); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.02; done
    kill -TERM -- "-$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.02; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  # leftovers of its tree that left the group (same pid AND start time only)
  for p in "${!start[@]}"; do
    st=$(proc_state "$p") || continue
    if [ "${st#* }" = "${start[$p]}" ] && [ "${st%% *}" != Z ]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  PID[$n]=
}

# ---- time authority (BENCH_TIME_AUTHORITY=1) ---------------------------------------
# `svtpm-timeauth serve` on a free loopback port, pinned with the servers: it stands
# in for a remote authority, and its signing is part of what svtpm waits for.
start_authority() {
  local i
  TA_PORT=$(pick_port_pair) || return 1
  "${PIN_SERVER[@]}" "$TIMEAUTH" serve --key "$TMP/ta/ta.pem" --port "$TA_PORT" >"$TMP/ta.log" 2>&1 &
  TA_PID=$!
  for i in $(seq 250); do
    kill -0 "$TA_PID" 2>/dev/null || break
    if [ -n "$(ss -Hltn "( sport = :$TA_PORT )" 2>/dev/null)" ]; then
      BOUND_ARGS+=" --time-authority tcp=127.0.0.1:$TA_PORT"
      return 0
    fi
    sleep 0.02
  done
  log "bench: the time authority did not come up on port $TA_PORT; its log:"; tail -n 20 "$TMP/ta.log" >&2 || true
  return 1
}
stop_authority() {  # only the process started above, by its pid
  [ -n "$TA_PID" ] || return 0
  kill -TERM "$TA_PID" 2>/dev/null || true
  wait "$TA_PID" 2>/dev/null || true
  TA_PID=""
}

median() {  # numbers on stdin -> median (NA if none); $1 = printf format
  sort -g | awk -v fmt="${1:-%.1f}\n" '{a[NR]=$1} END { if (NR==0) { print "NA"; exit }
    if (NR%2) printf fmt, a[(NR+1)/2]; else printf fmt, (a[NR/2]+a[NR/2+1])/2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="NA"||b=="NA"||a+0==0) print "NA"; else printf "%.3f\n", b/a }'; }

# ---- machine ------------------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MACHINE="nproc=$(nproc), cpu=${cpu:-unknown}, kernel=$(uname -r), load=$(cut -d' ' -f1-3 /proc/loadavg), state fs=$(stat -f -c %T "$TMP")"
SWTPM_VER=$("$SWTPM_BIN" --version 2>/dev/null | head -n1 || true)
echo "== svtpm benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $MACHINE"
echo "swtpm:   $SWTPM_BIN (${SWTPM_VER:-version unknown})"
BOUND_DESC=${BOUND_ARGS:+bound: policy strict, counter store, 1 MiB image}
[ "$TIME_AUTH" != 1 ] || BOUND_DESC+=", time authority (svtpm-timeauth serve, loopback)"
echo "svtpm:   $SVTPM_BIN${BOUND_DESC:+ ($BOUND_DESC)}"
echo "config:  pinning: $PIN_DESC; rounds=$ROUNDS interleave=$INTERLEAVE iters=$ITERS keygen=$KEYGEN warmup=$WARMUP launches=$LAUNCHES${OPS_FILTER:+ ops=$OPS_FILTER}"
echo

T_START=$(date +%s)

# ---- 1. TPM commands ----------------------------------------------------------------
if [ "$TIME_AUTH" = 1 ]; then
  start_authority || exit 1
  log "time authority: pid $TA_PID port $TA_PORT"
fi
for n in "${NAMES[@]}"; do start_server "$n" || exit 1; done
log "servers: swtpm pid ${PID[swtpm]} port ${PORT[swtpm]}, svtpm pid ${PID[svtpm]} port ${PORT[svtpm]}"

BENCH_FAIL=0
run_bench() {  # outfile server...   (several servers: interleaved per iteration)
  local out=$1 n rc=0 t0 args=()
  shift
  for n in "$@"; do
    if ! kill -0 "${PID[$n]}" 2>/dev/null; then
      log "bench: $n (pid ${PID[$n]}) is gone; its log:"; tail -n 20 "$TMP/$n.log" >&2 || true
      exit 1
    fi
    args+=(-S "$n=${PORT[$n]}")
  done
  t0=$(date +%s.%N)
  timeout 900 "${PIN_CLIENT[@]}" "$BENCH" "${args[@]}" -n "$ITERS" -k "$KEYGEN" -w "$WARMUP" -s "$r" \
    ${OPS_FILTER:+-o "$OPS_FILTER"} >"$out" || rc=$?
  log "  $* $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f s", b-a}')"
  grep '^FAIL' "$out" | sed 's/^/  /' >&2 || true
  if [ "$rc" -ne 0 ]; then
    log "  svtpm-bench exited $rc"
    BENCH_FAIL=1
    [ "$rc" -eq 1 ] || exit 1
  fi
}
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order=(swtpm svtpm); else order=(svtpm swtpm); fi
  log "round $r/$ROUNDS (${order[*]})"
  if [ "$INTERLEAVE" = 1 ]; then
    run_bench "$OUT/raw/round$r.txt" "${order[@]}"
  else
    for n in "${order[@]}"; do run_bench "$OUT/raw/round$r.$n.txt" "$n"; done
  fi
done

# ---- 2. memory ------------------------------------------------------------------------
declare -A RSS PSS NPROC
for n in "${NAMES[@]}"; do
  rss=0; pss=0; np=0
  for p in $(proc_tree "${PID[$n]}"); do
    read -r a b < <(awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r+0, p+0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo "0 0")
    rss=$((rss + a)); pss=$((pss + b)); np=$((np + 1))
  done
  RSS[$n]=$rss; PSS[$n]=$pss; NPROC[$n]=$np
done

# ---- 3. extension point: svtpm-only rows ------------------------------------------
EXTRA_ROWS=()
extras=()
for f in bench/extra-*.sh; do [ -x "$f" ] && extras+=("$f"); done
if [ -n "${BENCH_EXTRA:-}" ]; then read -r -a more <<<"$BENCH_EXTRA"; extras+=("${more[@]}"); fi
for x in "${extras[@]}"; do
  log "extra: $x"
  rc=0
  # shellcheck disable=SC2086  # BENCH_EXTRA entries may carry arguments
  xout=$(BUILD="$BUILD" SWTPM_BIN="$SWTPM_BIN" SVTPM_BIN="$SVTPM_BIN" BENCH_TMP="$TMP" \
         SVTPM_BENCH_PORT="${PORT[svtpm]}" SVTPM_BENCH_PID="${PID[svtpm]}" SVTPM_BENCH_STATE="${STATE[svtpm]}" \
         SWTPM_BENCH_PORT="${PORT[swtpm]}" SWTPM_BENCH_PID="${PID[swtpm]}" SWTPM_BENCH_STATE="${STATE[swtpm]}" \
         BENCH_CPU_CLIENT="$CPU_CLIENT" BENCH_CPU_SERVER="$CPU_SERVER" \
         timeout "$EXTRA_TIMEOUT" $x) || rc=$?
  while IFS= read -r line; do
    case "$line" in
      "ROW "*) EXTRA_ROWS+=("${line#ROW }") ;;
      "") ;;
      *) log "  $line" ;;
    esac
  done <<<"$xout"
  [ "$rc" -eq 0 ] || { log "  $x exited $rc"; EXTRA_ROWS+=("$(basename "$x") FAILED (exit $rc)|NA||"); }
done

for n in "${NAMES[@]}"; do stop_server "$n"; done

# ---- 4. launch time on the existing state directories --------------------------------
# Back-to-back pairs (order alternating), so the ratio can be taken per pair.
declare -A LSAMP=([swtpm]="" [svtpm]="")
for i in $(seq "$LAUNCHES"); do
  if [ $((i % 2)) -eq 1 ]; then order=(swtpm svtpm); else order=(svtpm swtpm); fi
  declare -A got=()
  for n in "${order[@]}"; do
    p=$(pick_port_pair)
    # shellcheck disable=SC2046
    res=$("${PIN_CLIENT[@]}" "$LAUNCH" -p "$p" -t 30000 "${PIN_LAUNCH[@]}" -- "${BIN[$n]}" $(server_args "$n" "$p" "${STATE[$n]}") \
          2>>"$TMP/$n.launch.log" </dev/null) || true
    echo "$i $n $res" >>"$TMP/launch.log"
    case "$res" in LAUNCH\ *) got[$n]=$(awk '{print $2}' <<<"$res") ;; *) log "launch $n: ${res:-no output}" ;; esac
  done
  # keep only complete pairs
  if [ -n "${got[swtpm]:-}" ] && [ -n "${got[svtpm]:-}" ]; then
    for n in "${NAMES[@]}"; do LSAMP[$n]+="${LSAMP[$n]:+,}${got[$n]}"; done
  fi
done
{
  echo "# svtpm-bench launch seed=0 (samples: us from process start to first answered TPM2_GetRandom)"
  for n in "${NAMES[@]}"; do
    [ -z "${LSAMP[$n]}" ] || echo "OP $n Launch $(tr ',' '\n' <<<"${LSAMP[$n]}" | wc -l) - - - - ${LSAMP[$n]}"
  done
} >"$OUT/raw/launch.txt"

for n in "${NAMES[@]}"; do
  cp "$TMP/$n.log" "$OUT/raw/$n.server.log" 2>/dev/null || true
  cp "$TMP/$n.launch.log" "$OUT/raw/$n.launch.log" 2>/dev/null || true
done
cp "$TMP/launch.log" "$OUT/raw/launch.log" 2>/dev/null || true
T_TOTAL=$(( $(date +%s) - T_START ))

# ---- table -------------------------------------------------------------------------
# svtpm-compare: medians, ratio svtpm/swtpm, 95% bootstrap interval, per-round range.
#   paired  = median over back-to-back pairs of svtpm_i/swtpm_i (interleaved commands,
#             launches): cancels machine noise slower than one iteration;
#   medians = ratio of pooled medians (RSA key generation: random work per call).
# verdict: ok = ratio <= target; OVER = even the interval's low end is above the
# target; unclear = ratio above the target but within the measurement noise.
verdict() {  # ratio ci_lo target
  local r=$1 lo=$2 t=$3
  [ -n "$t" ] || { echo ""; return; }
  [[ "$r" =~ ^[0-9.]+$ ]] || { echo "n/a"; return; }
  awk -v r="$r" -v lo="$lo" -v t="$t" 'BEGIN {
    if (r <= t + 1e-9) print "ok"; else if (lo != "" && lo+0 > t) print "OVER"; else print "unclear" }'
}
CMP=$("$CMPBIN" swtpm svtpm "$OUT"/raw/round*.txt "$OUT/raw/launch.txt")
echo "$CMP" >"$OUT/raw/compare.txt"
OPS=(CreatePrimary Create Load Sign VerifySignature RSA_Encrypt RSA_Decrypt EncryptDecrypt2
     Seal Unseal PCR_Read PCR_Extend GetRandom NV_Write PolicyCounterTimer PolicyUnseal)
ROWS=()   # name|swtpm|svtpm|ratio|95% CI|target|verdict|note
row_from_cmp() {  # op label target scale(divisor) extra-note
  local op=$1 label=$2 tgt=$3 div=$4 note=$5 line f a b fa fb
  line=$(awk -v op="$op" '$1=="CMP" && $2==op' <<<"$CMP")
  a=NA; b=NA
  for f in "$OUT"/raw/round*.txt "$OUT/raw/launch.txt"; do
    fa=$(grep -h "^FAIL swtpm $op " "$f" | head -n1 || true); [ -z "$fa" ] || a=FAIL
    fb=$(grep -h "^FAIL svtpm $op " "$f" | head -n1 || true); [ -z "$fb" ] || b=FAIL
  done
  if [ -z "$line" ]; then
    [ "$a$b" != NANA ] || return 0
    ROWS+=("$label|$a|$b|NA||${tgt:+≤$tgt}|$(verdict NA "" "$tgt")|$note")
    return 0
  fi
  # CMP op nA nB medA medB ratio lo hi method rlo rhi rounds
  read -r _ _ na nb ma mb r lo hi how rlo rhi nr <<<"$line"
  ma=$(awk -v x="$ma" -v d="$div" 'BEGIN { printf (d==1 ? "%.1f" : "%.2f"), x/d }')
  mb=$(awk -v x="$mb" -v d="$div" 'BEGIN { printf (d==1 ? "%.1f" : "%.2f"), x/d }')
  [ "$a" != FAIL ] || ma=FAIL; [ "$b" != FAIL ] || mb=FAIL
  local per=""; [ "$nr" -gt 1 ] && per=", per round $rlo-$rhi"
  ROWS+=("$label|$ma|$mb|$r|$lo-$hi|${tgt:+≤$tgt}|$(verdict "$r" "$lo" "$tgt")|n=$na/$nb, $how$per${note:+, $note}")
}
for op in "${OPS[@]}"; do
  [ "$op" = NV_Write ] && tgt=$TARGET_NV || tgt=$TARGET_CMD
  row_from_cmp "$op" "$op (µs)" "$tgt" 1 ""
done
row_from_cmp Launch "launch, existing state (ms)" "$TARGET_LAUNCH" 1000 "start -> first answered GetRandom"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f\n", k/1024 }'; }
r=$(ratio "${RSS[swtpm]}" "${RSS[svtpm]}")
ROWS+=("memory RSS, all processes (MiB)|$(mib "${RSS[swtpm]}")|$(mib "${RSS[svtpm]}")|$r||${TARGET_MEM:+≤$TARGET_MEM}|$(verdict "$r" "" "$TARGET_MEM")|processes ${NPROC[swtpm]}/${NPROC[svtpm]}, after the benchmark")
r=$(ratio "${PSS[swtpm]}" "${PSS[svtpm]}")
ROWS+=("memory PSS, all processes (MiB)|$(mib "${PSS[swtpm]}")|$(mib "${PSS[svtpm]}")|$r||${TARGET_MEM:+≤$TARGET_MEM}|$(verdict "$r" "" "$TARGET_MEM")|shared pages split between sharers")
for x in "${EXTRA_ROWS[@]}"; do
  IFS='|' read -r xn xv xu xt <<<"$x"
  ROWS+=("$xn${xu:+ ($xu)}|-|$xv|-||$xt||svtpm only")
done

HDR="operation|swtpm|svtpm|ratio svtpm/swtpm|95% CI|target|verdict|note"
echo
{ echo "$HDR"; printf '%s\n' "${ROWS[@]}"; } | sed 's/µs/us/g; s/≤/<=/g' | awk -F'|' '
  { for (i=1;i<=NF;i++) { c[NR,i]=$i; l=length($i); if (l>w[i]) w[i]=l } n=NR; if (NF>nf) nf=NF }
  END { for (r=1;r<=n;r++) { s=""; for (i=1;i<=nf;i++) s=s sprintf("%-" w[i]+2 "s", c[r,i]); sub(/ +$/,"",s); print s
        if (r==1) { s=""; for (i=1;i<=nf;i++) { d=""; for (k=0;k<w[i];k++) d=d "-"; s=s d "  " } sub(/ +$/,"",s); print s } } }'
echo
echo "total benchmark time: ${T_TOTAL}s; raw samples: $OUT/raw/"

{
  echo "# svtpm vs swtpm benchmark"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $MACHINE"
  echo "- swtpm: \`$SWTPM_BIN\` (${SWTPM_VER:-version unknown}); svtpm: \`$SVTPM_BIN\`${BOUND_DESC:+ ($BOUND_DESC)}"
  echo "- config: pinning: $PIN_DESC; rounds=$ROUNDS (alternating order), interleave=$INTERLEAVE, iters=$ITERS, keygen=$KEYGEN, warmup=$WARMUP per round; launches=$LAUNCHES; total ${T_TOTAL}s"
  echo "- TPM commands: ESAPI over the swtpm TCTI (one TCP connection per command), each Esys call timed end to end; with interleave=1 one client drives both servers, alternating per iteration (AB, BA, ...)."
  echo "- swtpm/svtpm: median of all samples pooled over the rounds. Ratio \"paired\": median over all back-to-back pairs of svtpm_i/swtpm_i (cancels machine noise slower than one iteration); \"medians\": ratio of the pooled medians (RSA key generation, whose cost is random per call). 95% CI: percentile bootstrap of that ratio. \"per round\": the same ratio for each round alone."
  echo "- verdict: ok = ratio within target; OVER = even the low end of the 95% CI is above the target; unclear = above the target but within the noise."
  echo
  echo "| ${HDR//|/ | } |"
  echo "|---|---:|---:|---:|---|---|---|---|"
  for row in "${ROWS[@]}"; do echo "| ${row//|/ | } |"; done
} >"$OUT/results.md"
echo "markdown: $OUT/results.md"
[ "$BENCH_FAIL" -eq 0 ] || { echo "bench: some operations failed (see FAIL above)" >&2; exit 1; }
