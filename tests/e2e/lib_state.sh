# shellcheck shell=bash
# shellcheck disable=SC2034  # (variables set here are for the sourcing tests)
# Helpers for the security tests of svtpm's sealed state (test_tamper.sh,
# test_import.sh, test_secrets.sh). Sourced after lib.sh, never executed.
#
# Unlike the other e2e tests these look inside the state directory: they know
# svtpm's file name (svtpm.permall) and its layout (src/common/sealfmt.h):
#   512 KiB = slot A (offset 0) + slot B (offset 262144), each slot one record:
#   192-byte header (magic "SVTPMSL1" at 0, u16 version 8, u16 hdr_len 10,
#   u32 kind 12, u64 seq 16, vtpm_id[16] 24, key_id[32] 40, u16 key_policy 72,
#   u16 isv_svn 74, u16 isv_prod_id 76, reserved 78, cpu_svn[16] 80,
#   signer[32] 96, iv[12] 128, u32 payload_len 140, tenant[32] 144,
#   u32 bind_gen 176, reserved 180..192; all
#   big-endian), then the ciphertext, then a 16-byte GCM tag. After each write
#   the superseded record's tag is zeroed (retired).
#
# Globals used by st_expect_refusal (set them around the call):
#   ST_DIR       state directory to start on (default $VTPM_STATE)
#   ST_BIN       binary to start (default $VTPM_BIN; $ST_SVTPM for svtpm-only options)
#   ST_RDIR      where the attempt's log/pid files go (default $WORK)
#   ST_REFUSE_TIMEOUT  seconds a refusing start may take at most (default 10)
#   ST_STDERR_NULL=1   the server's stdin/stdout/stderr are /dev/null (as under
#                the --daemon option or a service manager); only its log speaks

ST_SVTPM=$(dirname "$VTPM_BIN")/svtpm
ST_PERMALL=svtpm.permall
SEAL_SLOT_SIZE=262144
SEAL_FILE_SIZE=524288
SEAL_HDR_LEN=192
SEAL_TAG_LEN=16
ST_REFUSE_TIMEOUT=${ST_REFUSE_TIMEOUT:-10}

st_require_svtpm() {   # skip unless the binary under test is svtpm (these tests check its own state)
  [ -x "$ST_SVTPM" ] && [ -x "$(dirname "$VTPM_BIN")/svtpm-enclave" ] ||
    skip "VTPM_BIN=$VTPM_BIN is not svtpm (no $ST_SVTPM): $E2E_NAME checks svtpm's sealed state"
  "$ST_SVTPM" --version 2>/dev/null | grep '^svtpm ' >/dev/null ||
    skip "$ST_SVTPM --version does not identify svtpm"
}

# ---------------------------------------------------------------------------
# soft failures: a loop over many cases reports every kind of failure (the first
# few of each kind in full) instead of stopping at the first one.

declare -A ST_FAILS=() ST_FAIL_LABELS=()
ST_NFAIL=0
ST_FAIL_KINDS=()
ST_FAIL_SHOW=${ST_FAIL_SHOW:-5}

st_bad() {   # st_bad KIND MESSAGE : record a failed check (see st_finish); MESSAGE starts with the case's label
  local kind=$1; shift
  ST_NFAIL=$((ST_NFAIL + 1))
  if [ -z "${ST_FAILS[$kind]:-}" ]; then ST_FAILS[$kind]=0; ST_FAIL_LABELS[$kind]=; ST_FAIL_KINDS+=("$kind"); fi
  ST_FAILS[$kind]=$((ST_FAILS[$kind] + 1))
  [ "${ST_FAILS[$kind]}" -le 12 ] && ST_FAIL_LABELS[$kind]+="${ST_FAIL_LABELS[$kind]:+ | }${*%%:*}"
  if [ "${ST_FAILS[$kind]}" -le "$ST_FAIL_SHOW" ]; then
    printf '[%s] CHECK FAILED (%s): %s\n' "$E2E_NAME" "$kind" "$*" >&2
  elif [ "${ST_FAILS[$kind]}" -eq $((ST_FAIL_SHOW + 1)) ]; then
    printf '[%s] (further "%s" failures are only counted)\n' "$E2E_NAME" "$kind" >&2
  fi
}

st_finish() {   # fail the test if any st_bad was recorded, with a per-kind summary
  local k sum="" first
  [ "$ST_NFAIL" -eq 0 ] && return 0
  echo "[$E2E_NAME] summary of failed checks:" >&2
  for k in "${ST_FAIL_KINDS[@]}"; do
    printf '[%s]   %s: %sx: %s%s\n' "$E2E_NAME" "$k" "${ST_FAILS[$k]}" "${ST_FAIL_LABELS[$k]}" \
      "$([ "${ST_FAILS[$k]}" -gt 12 ] && echo ' | ...')" >&2
    # (the runner shows the last line: name up to 3 cases of each kind there)
    first=$(awk -F ' [|] ' '{ for (i = 1; i <= NF && i <= 3; i++) printf "%s%s", (i > 1 ? " | " : ""), $i }' <<<"${ST_FAIL_LABELS[$k]}")
    sum+="${sum:+; }$k: ${ST_FAILS[$k]}x, e.g. $first"
  done
  fail "$ST_NFAIL failed checks ($sum)"
}

# ---------------------------------------------------------------------------
# bytes of a file

st_u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n'; }                  # st_u8 FILE OFF
st_hexat() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }         # st_hexat FILE OFF LEN
st_be() { local h; h=$(st_hexat "$1" "$2" "$3"); echo $((16#${h:-0})); }   # st_be FILE OFF LEN (<= 7 bytes safe)

st_put_u8() {   # st_put_u8 FILE OFF VALUE : overwrite one byte in place
  # shellcheck disable=SC2059
  printf "\\$(printf '%03o' "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

st_flip() {   # st_flip FILE OFF [MASK] : xor one byte with MASK (default 0x01)
  local v; v=$(st_u8 "$1" "$2")
  [ -n "$v" ] || fail "st_flip: $1 has no byte at offset $2"
  st_put_u8 "$1" "$2" $(( v ^ ${3:-1} ))
}

st_all_zero() {   # st_all_zero FILE OFF LEN : true if those bytes are all zero
  [ -z "$(st_hexat "$1" "$2" "$3" | tr -d 0)" ]
}

st_copy_range() {   # st_copy_range SRC SRC_OFF DST DST_OFF LEN : in place, DST keeps its size
  dd if="$1" of="$3" bs=4096 iflag=skip_bytes,count_bytes oflag=seek_bytes \
     skip="$2" seek="$4" count="$5" conv=notrunc status=none || fail "copy of $5 bytes from $1 to $3 failed"
}

# st_slots FILE : find the current record. Sets, for slot index 0 (A) / 1 (B):
#   ST_MAGIC[i] (1/0), ST_SEQ[i], ST_PLEN[i], ST_TAGZERO[i] (1: retired/never written)
#   ST_CUR (current slot index), ST_OLD (the other), ST_CUR_OFF, ST_OLD_OFF,
#   ST_CUR_TAG (absolute offset of the current record's tag)
st_slots() {
  local f=$1 i off plen
  ST_MAGIC=(0 0) ST_SEQ=(0 0) ST_PLEN=(0 0) ST_TAGZERO=(1 1)
  for i in 0 1; do
    off=$((i * SEAL_SLOT_SIZE))
    [ "$(head -c $((off + 8)) "$f" | tail -c 8)" = SVTPMSL1 ] || continue
    ST_MAGIC[i]=1
    ST_SEQ[i]=$(st_be "$f" $((off + 16)) 8)
    plen=$(st_be "$f" $((off + 140)) 4)
    ST_PLEN[i]=$plen
    if [ "$plen" -le $((SEAL_SLOT_SIZE - SEAL_HDR_LEN - SEAL_TAG_LEN)) ] &&
       ! st_all_zero "$f" $((off + SEAL_HDR_LEN + plen)) "$SEAL_TAG_LEN"; then
      ST_TAGZERO[i]=0
    fi
  done
  ST_CUR=-1
  for i in 0 1; do
    [ "${ST_MAGIC[i]}" = 1 ] && [ "${ST_TAGZERO[i]}" = 0 ] || continue
    if [ "$ST_CUR" -lt 0 ] || [ "${ST_SEQ[i]}" -gt "${ST_SEQ[ST_CUR]}" ]; then ST_CUR=$i; fi
  done
  [ "$ST_CUR" -ge 0 ] || fail "st_slots: $f holds no record with a magic and a non-zero tag"
  ST_OLD=$((1 - ST_CUR))
  ST_CUR_OFF=$((ST_CUR * SEAL_SLOT_SIZE))
  ST_OLD_OFF=$((ST_OLD * SEAL_SLOT_SIZE))
  ST_CUR_TAG=$((ST_CUR_OFF + SEAL_HDR_LEN + ST_PLEN[ST_CUR]))
}

st_slot_name() { [ "$1" = 0 ] && echo A || echo B; }

uuid_hex() { printf '%s' "$1" | tr -d '-' | tr 'A-F' 'a-f'; }   # uuid_hex UUID

st_new_uuid() {   # a random RFC 4122 version-4 UUID
  local h; h=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s-%s-4%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" $(( (16#${h:16:1} & 3) | 8 )) "${h:17:3}" "${h:20:12}"
}

# ---------------------------------------------------------------------------
# "untouched": what a refused start must not change

st_fingerprint() {   # st_fingerprint PATH : type, size, mode, owner, inode, mtime (ns), content
  local p=$1 s
  s=$(stat -c '%F|size=%s|mode=%a|owner=%u:%g|inode=%i|mtime=%y' -- "$p" 2>/dev/null) || { echo absent; return 0; }
  case $s in
    regular*)        s+="|sha256=$(sha256sum <"$p" | cut -c1-64)";;
    'symbolic link'*) s+="|target=$(readlink -- "$p")";;
    directory*)      s+="|entries=$(ls -lA --time-style=full-iso -- "$p" | tr '\n' ';')";;
  esac
  printf '%s\n' "$s"
}

# st_listing DIR : the entries of a state directory, except .lock (a start creates it,
# as swtpm's does; it holds no state)
st_listing() { find "$1" -mindepth 1 -maxdepth 1 ! -name .lock -printf '%f\n' | LC_ALL=C sort | tr '\n' ' '; }

# ---------------------------------------------------------------------------
# a start that must be refused

st_unwork() {   # filter: replace the work directory's path by <work> (its name holds the test's)
  local line
  while IFS= read -r line; do printf '%s\n' "${line//"$WORK"/<work>}"; done
}

ST_TIMES_N=0 ST_TIMES_SUM=0 ST_TIMES_MAX=0 ST_TIMES_MAX_LABEL=

st_time_report() {   # prints count, mean and max duration of the refused starts so far
  [ "$ST_TIMES_N" -gt 0 ] || return 0
  note "$ST_TIMES_N refused starts: mean $((ST_TIMES_SUM / ST_TIMES_N)) ms, max $ST_TIMES_MAX ms ($ST_TIMES_MAX_LABEL)"
}

# st_expect_refusal LABEL REASON_ERE [EXTRA ARGS...]
# Starts the binary as `socket ... --flags not-need-init,startup-clear` (it powers the
# TPM on, so it opens the sealed state at once) on $ST_DIR, with its data and control
# channels on Unix sockets in $ST_RDIR (no TCP port can be taken meanwhile), and checks, recording
# failures with st_bad (the test continues):
#   * it exits by itself, non-zero, never reaching "ready", without a crash
#     (signal, sanitizer report, enclave death);
#   * one line of its stderr or log names svtpm.permall and matches REASON_ERE
#     (extended regex, case-insensitive);
#   * svtpm.permall is untouched (content, size, mode, owner, inode, mtime) and no
#     file appeared in or vanished from the state directory;
#   * no process of it is left behind.
# Sets ST_LAST_RC, ST_LAST_MS and ST_LAST_OUT (file with stderr + log).
st_expect_refusal() {
  local label=$1 reason=$2; shift 2
  local dir=${ST_DIR:-$VTPM_STATE} bin=${ST_BIN:-$VTPM_BIN} rdir=${ST_RDIR:-$WORK}
  local file fp0 fp1 ls0 ls1 pid rc t0 t1 ms now deadline state=running out sink
  file=$dir/$ST_PERMALL
  local rlog=$rdir/refuse.log rpid=$rdir/refuse.pid rerr=$WORK/refuse.err
  ST_LAST_OUT=$WORK/refuse.all
  fp0=$(st_fingerprint "$file"); ls0=$(st_listing "$dir")
  : >"$rlog"; : >"$rerr"; rm -f "$rpid"
  [ "$rdir" = "$WORK" ] || chown --reference="$rdir" "$rlog"   # (a server run as another user)
  sink=$rerr; [ "${ST_STDERR_NULL:-0}" = 1 ] && sink=/dev/null
  rm -f "$rdir/refuse.sock" "$rdir/refuse.ctrl"
  t0=$(date +%s%N)
  setsid "$bin" socket --tpm2 \
    --tpmstate "dir=$dir" \
    --server "type=unixio,path=$rdir/refuse.sock" \
    --ctrl "type=unixio,path=$rdir/refuse.ctrl" \
    --flags not-need-init,startup-clear \
    --log "file=$rlog,level=2" \
    --pid "file=$rpid" \
    "$@" </dev/null >"$sink" 2>&1 &
  pid=$!
  E2E_SERVER_PIDS+=("$pid"); E2E_GROUPS+=("$pid")
  deadline=$(( t0 + ST_REFUSE_TIMEOUT * 1000000000 ))
  while e2e_alive "$pid"; do
    # (the pid file is written before the TPM starts; "ready" is logged after)
    if grep -q ' ready$' "$rlog" 2>/dev/null; then state=accepted; break; fi
    now=$(date +%s%N)
    if [ "$now" -ge "$deadline" ]; then state=hung; break; fi
    sleep 0.005
  done
  if [ "$state" != running ]; then
    { kill -KILL -- "-$pid"; kill -KILL "$pid"; } 2>/dev/null
    e2e_wait_gone "$pid" 10
  fi
  { wait "$pid"; } 2>/dev/null; rc=$?
  t1=$(date +%s%N)
  e2e_forget_server "$pid"
  ms=$(( (t1 - t0) / 1000000 ))
  ST_LAST_RC=$rc ST_LAST_MS=$ms
  cat "$rerr" "$rlog" >"$ST_LAST_OUT" 2>/dev/null
  if ! e2e_wait_group_empty "$pid" 5; then
    st_bad "processes left behind" "$label: $(e2e_group_members "$pid" | tr '\n' ' ')"
    for out in $(e2e_group_members "$pid"); do e2e_ours "$out" && kill -KILL "$out" 2>/dev/null; done
  fi
  case $state in
    accepted) st_bad "accepted" "$label: the server ACCEPTED the state (logged 'ready'); killed it";;
    hung)     st_bad "hung" "$label: the server neither refused nor started within ${ST_REFUSE_TIMEOUT}s; killed it";;
    *)
      ST_TIMES_N=$((ST_TIMES_N + 1)); ST_TIMES_SUM=$((ST_TIMES_SUM + ms))
      if [ "$ms" -gt "$ST_TIMES_MAX" ]; then ST_TIMES_MAX=$ms; ST_TIMES_MAX_LABEL=$label; fi
      if [ "$rc" -eq 0 ]; then
        st_bad "exit status 0" "$label: exited 0 although it could not open the state"
      elif [ "$rc" -ge 128 ]; then
        st_bad "killed by a signal" "$label: exit status $rc (signal $((rc - 128)))"
      fi;;
  esac
  if grep -Eq 'died with signal|AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault' "$ST_LAST_OUT"; then
    st_bad "crash while refusing" "$label: $(grep -E 'died with signal|Sanitizer|runtime error:|Segmentation' "$ST_LAST_OUT" | head -n 2 | tr '\n' ' ')"
  fi
  # (the reason is matched with $WORK cut out of the lines: its name holds the test's)
  # (no grep -q after a pipe: with pipefail its early exit would fail the writer)
  if ! grep -F "$ST_PERMALL" "$ST_LAST_OUT" | st_unwork | grep -Ei -- "$reason" >/dev/null; then
    st_bad "no message naming $ST_PERMALL and the reason" \
      "$label: rc=$rc; no line names $ST_PERMALL and matches /$reason/; output: $(grep -v -e 'TEE platform' -e 'started, pid' "$ST_LAST_OUT" | sed 's/^[0-9TZ:.-]* //' | head -n 6 | tr '\n' '|')"
  fi
  fp1=$(st_fingerprint "$file"); ls1=$(st_listing "$dir")
  [ "$fp0" = "$fp1" ] || st_bad "state file modified" "$label: $file before: $fp0 after: $fp1"
  [ "$ls0" = "$ls1" ] || st_bad "state directory changed" "$label: entries before: $ls0 after: $ls1"
  [ "$E2E_VERBOSE" = 1 ] && note "$label: refused in ${ms} ms, rc=$rc: $(grep -F "$ST_PERMALL" "$ST_LAST_OUT" | tail -n 1)"
  return 0
}

# ---------------------------------------------------------------------------
# running svtpm as an unprivileged user (nobody)

# st_nobody_setup BIN : creates $ST_NB (owned by nobody) with a copy of the platform
# key and $ST_NB_BIN, a wrapper that runs BIN as nobody with that key copy.
# $WORK is made traversable (711) for nobody. Call it after a first start of svtpm
# (which creates the platform key).
st_nobody_setup() {
  e2e_require setpriv
  id nobody >/dev/null 2>&1 || skip "no user 'nobody' here"
  [ -f "$SVTPM_PLATFORM_KEY" ] || fail "st_nobody_setup: no platform key $SVTPM_PLATFORM_KEY yet"
  ST_NB_GROUP=$(id -gn nobody)
  ST_NB=$WORK/nobody
  ST_NB_BIN=$ST_NB/run-as-nobody
  ST_NOBODY=(setpriv --reuid=nobody --regid="$ST_NB_GROUP" --clear-groups)
  chmod 711 "$WORK"
  mkdir -p "$ST_NB"
  cp "$SVTPM_PLATFORM_KEY" "$ST_NB/platform.key"
  cat >"$ST_NB_BIN" <<EOF2
#!/bin/sh
SVTPM_PLATFORM_KEY='$ST_NB/platform.key' exec ${ST_NOBODY[*]} '$1' "\$@"
EOF2
  chown -R "nobody:$ST_NB_GROUP" "$ST_NB"
  chown root:root "$ST_NB_BIN"
  chmod 755 "$ST_NB_BIN"
}
