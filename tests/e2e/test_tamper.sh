#!/usr/bin/env bash
# End-to-end: a tampered, truncated, foreign or unreadable sealed state file is
# refused. For each damage, `svtpm socket ... --flags not-need-init,startup-clear`
# (which powers the TPM on, so opens the state at start) must exit non-zero by
# itself, say on stderr or in its log which file (svtpm.permall) and why, and leave
# the file byte-for-byte untouched (sha256, size, mode, owner, inode, mtime) with no
# file added to or removed from the state directory.
#
# Cases: a one-bit flip at EVERY byte of the current record's header (192 bytes),
# a sample of ciphertext bytes, every tag byte; truncation at 0, 100, 160, 262144,
# 262304, 524287 bytes, a longer file, an empty file, zeros, random bytes of the
# right size; a directory, a symlink or a FIFO in its place, a file its user cannot
# read; another vTPM's file and records copied between two vTPMs' files
# (--vtpm-id). Damage to the retired (non-current) slot is harmless by design:
# the state still opens with its latest content. At the end the restored original
# still starts and holds its NV data.
#
# svtpm-only: skipped when VTPM_BIN is not svtpm.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_state.sh"
e2e_require tpm2_nvdefine tpm2_nvwrite tpm2_nvread swtpm_ioctl sha256sum stat dd truncate mkfifo
st_require_svtpm

cd "$WORK" || fail "cd $WORK"
NVIDX=0x01500030
P=$VTPM_STATE/$ST_PERMALL

# What a refusal must give as the reason (case-insensitive, on a line naming the file).
R_TAMPER='authentic|tamper|format|version|truncat|size|foreign|another vTPM|not this vTPM|corrupt|invalid|signer'
R_AUTH='authenticat|tamper'
R_SHORT='truncat|size|short'
R_GARBAGE='authentic|tamper|format|version|not an svtpm'
R_FOREIGN='another vTPM|foreign|not this vTPM|different vTPM|belongs to'

nv_check() {   # nv_check EXPECTED_FILE WHAT : the NV index holds EXPECTED_FILE's bytes
  run_ok "nvread ($2)" tpm2_nvread "$NVIDX" -C o -s 32 -o nvread.bin
  assert_files_equal "$1" nvread.bin "NV content ($2)"
}

# --- a state in which both slots have been used -----------------------------------
note "creating a state: NV index $NVIDX, written 4 times"
vtpm_start
run_ok "nvdefine" tpm2_nvdefine "$NVIDX" -C o -s 32 -a "ownerread|ownerwrite"
for i in 1 2 3 4; do
  head -c 32 /dev/urandom >"nv$i.bin"
  run_ok "nvwrite $i" tpm2_nvwrite "$NVIDX" -C o -i "nv$i.bin"
done
nv_check nv4.bin "before stop"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"
assert_file_size "$P" "$SEAL_FILE_SIZE" "$ST_PERMALL after a graceful stop"

st_slots "$P"
[ "${ST_MAGIC[0]}" = 1 ] && [ "${ST_MAGIC[1]}" = 1 ] ||
  fail "after 5 updates both slots should hold a record (magic: A=${ST_MAGIC[0]} B=${ST_MAGIC[1]})"
[ "${ST_TAGZERO[ST_OLD]}" = 1 ] ||
  fail "the superseded record (slot $(st_slot_name "$ST_OLD")) still has a non-zero tag: it was not retired"
[ "${ST_SEQ[ST_CUR]}" -gt "${ST_SEQ[ST_OLD]}" ] ||
  fail "current record seq ${ST_SEQ[ST_CUR]} is not above the retired one's ${ST_SEQ[ST_OLD]}"
note "current record: slot $(st_slot_name "$ST_CUR") (seq ${ST_SEQ[ST_CUR]}, payload ${ST_PLEN[ST_CUR]} bytes);" \
     "retired: slot $(st_slot_name "$ST_OLD") (seq ${ST_SEQ[ST_OLD]}, tag zeroed)"
cp -p "$P" orig.permall
ORIG_SHA=$(sha256_hex orig.permall)
CUR_OFF=$ST_CUR_OFF OLD_OFF=$ST_OLD_OFF CUR_PLEN=${ST_PLEN[ST_CUR]} CUR_TAG=$ST_CUR_TAG OLD_PLEN=${ST_PLEN[ST_OLD]}

restore() { cp orig.permall "$P" || fail "cannot restore $P"; }

# with_server [BIN STATE_DIR LOG_DIR] : what vtpm_start starts; no argument: the defaults
DEF_BIN=$VTPM_BIN DEF_STATE=$VTPM_STATE DEF_LOG=$VTPM_LOG DEF_PIDFILE=$VTPM_PIDFILE
with_server() {
  VTPM_BIN=${1:-$DEF_BIN} VTPM_STATE=${2:-$DEF_STATE}
  VTPM_LOG=${3:+$3/vtpm.log} VTPM_PIDFILE=${3:+$3/vtpm.pid}
  VTPM_LOG=${VTPM_LOG:-$DEF_LOG} VTPM_PIDFILE=${VTPM_PIDFILE:-$DEF_PIDFILE}
}

# --- every byte of the current record's header ---------------------------------------
note "one-bit flips at each of the $SEAL_HDR_LEN header bytes of the current record"
for off in $(seq 0 $((SEAL_HDR_LEN - 1))); do
  mask=$((1 << (off % 8)))
  st_flip "$P" $((CUR_OFF + off)) "$mask"
  st_expect_refusal "header byte $off ^ $mask" "$R_TAMPER"
  # A record whose header was altered was never authenticated: the reason must not
  # call it authentic (the unauthenticated fields would make that claim false).
  if grep -qi 'authentic but' "$ST_LAST_OUT"; then
    st_bad "tampered record called authentic" \
      "header byte $off ^ $mask: $(grep -i 'authentic but' "$ST_LAST_OUT" | head -n 1 | sed 's/^[0-9TZ:.-]* //')"
  fi
  st_flip "$P" $((CUR_OFF + off)) "$mask"
done
cmp -s orig.permall "$P" || fail "test bug: $P differs from the original after the header loop"
st_time_report

# --- ciphertext and tag of the current record ----------------------------------------
note "one-bit flips in the ciphertext (sample) and in every tag byte of the current record"
ct_offs="0 1 $((CUR_PLEN / 2)) $((CUR_PLEN - 1))"
for _ in 1 2 3 4 5 6 7 8; do ct_offs+=" $(( $(e2e_rand16) % CUR_PLEN ))"; done
for o in $ct_offs; do
  st_flip "$P" $((CUR_OFF + SEAL_HDR_LEN + o)) 0x80
  st_expect_refusal "ciphertext byte $o" "$R_AUTH"
  st_flip "$P" $((CUR_OFF + SEAL_HDR_LEN + o)) 0x80
done
for o in $(seq 0 $((SEAL_TAG_LEN - 1))); do
  st_flip "$P" $((CUR_TAG + o)) 0x10
  st_expect_refusal "tag byte $o" "$R_AUTH"
  st_flip "$P" $((CUR_TAG + o)) 0x10
done
# the whole current record replaced by zeros: the retired one must not come back
dd if=/dev/zero of="$P" bs=4096 seek="$CUR_OFF" oflag=seek_bytes count=$((SEAL_HDR_LEN + CUR_PLEN + SEAL_TAG_LEN)) \
   iflag=count_bytes conv=notrunc status=none
st_expect_refusal "current record zeroed (no fallback to the retired record)" "$R_GARBAGE|no authentic record|not found"
restore
cmp -s orig.permall "$P" || fail "test bug: $P differs from the original after the record loop"

# --- the same, with no stderr ----------------------------------------------------------
# Under --daemon or a service manager stdout/stderr are /dev/null (a character
# device, not a file): the refusal must still be clean and said in the log.
note "refusals with stdin/stdout/stderr on /dev/null (as under --daemon or a service manager)"
ST_STDERR_NULL=1
st_flip "$P" $((CUR_OFF + 16)) 0x01
st_expect_refusal "header byte 16 ^ 1, stderr on /dev/null" "$R_TAMPER"
restore
st_flip "$P" $((CUR_TAG + 3)) 0x01
st_expect_refusal "tag byte 3, stderr on /dev/null" "$R_AUTH"
restore
truncate -s 160 "$P"
st_expect_refusal "truncated to 160 bytes, stderr on /dev/null" "$R_SHORT"
restore
ST_STDERR_NULL=0

# --- wrong size, garbage ---------------------------------------------------------------
note "truncated, extended, empty, zeroed and random files"
for t in 0 100 160 "$SEAL_SLOT_SIZE" $((SEAL_SLOT_SIZE + SEAL_HDR_LEN)) $((SEAL_FILE_SIZE - 1)); do
  truncate -s "$t" "$P"
  st_expect_refusal "truncated to $t bytes" "$R_SHORT"
  restore
done
head -c 4096 /dev/zero >>"$P"
st_expect_refusal "extended by 4096 bytes" "$R_SHORT|$R_GARBAGE"
rm -f "$P"; : >"$P"
st_expect_refusal "empty file" "$R_SHORT|empty"
head -c "$SEAL_FILE_SIZE" /dev/zero >"$P"
st_expect_refusal "all zeros, right size" "$R_GARBAGE|no authentic record|not found"
head -c "$SEAL_FILE_SIZE" /dev/urandom >"$P"
st_expect_refusal "random bytes, right size" "$R_GARBAGE"
restore

# --- not a readable regular file -------------------------------------------------------
note "a directory, a symlink, a FIFO in place of the file; a file svtpm cannot read"
rm -f "$P"; mkdir "$P"
st_expect_refusal "a directory in its place" 'director|not a regular file'
rmdir "$P"
ln -s "$WORK/orig.permall" "$P"    # a valid state, but reached through a symlink
st_expect_refusal "a symlink in its place" 'symlink|symbolic link|not a regular file'
rm -f "$P"; mkfifo "$P"
st_expect_refusal "a FIFO in its place" 'fifo|pipe|not a regular file'
rm -f "$P"; restore

# Unreadable: root reads any file, so svtpm runs as nobody here, on a copy of the
# state owned by nobody; mode 000 makes it unreadable. Control: mode 600 opens.
st_nobody_setup "$VTPM_BIN"
NBSTATE=$ST_NB/state
mkdir -p "$NBSTATE"; cp orig.permall "$NBSTATE/$ST_PERMALL"
chown -R "nobody:$ST_NB_GROUP" "$NBSTATE"
chmod 000 "$NBSTATE/$ST_PERMALL"
ST_BIN=$ST_NB_BIN ST_DIR=$NBSTATE ST_RDIR=$ST_NB \
  st_expect_refusal "unreadable (mode 000, svtpm run as nobody)" 'permission|denied|not readable|cannot read|unreadable'
chmod 600 "$NBSTATE/$ST_PERMALL"
with_server "$ST_NB_BIN" "$NBSTATE" "$ST_NB"
vtpm_start
nv_check nv4.bin "control: the same file, readable, svtpm run as nobody"
vtpm_stop || fail "graceful stop (nobody) failed (exit status $VTPM_EXIT)"
with_server

# --- damage to the retired slot is harmless --------------------------------------------
note "damage in the retired slot $(st_slot_name "$(( OLD_OFF / SEAL_SLOT_SIZE ))"): the state still opens with its latest content"
retired_case() {   # retired_case LABEL OFFSET-IN-RETIRED-SLOT VALUE
  restore
  st_put_u8 "$P" $((OLD_OFF + $2)) "$3"
  vtpm_start
  nv_check nv4.bin "retired slot: $1"
  vtpm_stop || fail "graceful stop failed after '$1' (exit status $VTPM_EXIT)"
}
retired_case "magic byte 0 changed" 0 $(( $(st_u8 orig.permall "$OLD_OFF") ^ 0x01 ))
retired_case "seq made huge (looks newer)" 17 0x7f
retired_case "a ciphertext byte flipped" $((SEAL_HDR_LEN + 7)) $(( $(st_u8 orig.permall $((OLD_OFF + SEAL_HDR_LEN + 7))) ^ 0x80 ))
retired_case "zeroed tag made non-zero" $((SEAL_HDR_LEN + OLD_PLEN)) 0x5a
restore

# --- another vTPM's state -----------------------------------------------------------------
note "two vTPMs with different --vtpm-id: files and records swapped between them"
UA=$(st_new_uuid) UB=$(st_new_uuid) UC=$(st_new_uuid)
make_vtpm() {   # make_vtpm DIR UUID DATAFILE
  head -c 32 /dev/urandom >"$3"
  with_server "$ST_SVTPM" "$1"
  vtpm_start --vtpm-id "$2"
  run_ok "nvdefine ($2)" tpm2_nvdefine "$NVIDX" -C o -s 32 -a "ownerread|ownerwrite"
  run_ok "nvwrite ($2)" tpm2_nvwrite "$NVIDX" -C o -i "$3"
  run_ok "nvwrite again ($2)" tpm2_nvwrite "$NVIDX" -C o -i "$3"
  vtpm_stop || fail "graceful stop of vTPM $2 failed (exit status $VTPM_EXIT)"
  with_server
  st_slots "$1/$ST_PERMALL"
  assert_eq "$(uuid_hex "$2")" "$(st_hexat "$1/$ST_PERMALL" $((ST_CUR_OFF + 24)) 16)" \
    "vtpm_id in the header of $1/$ST_PERMALL (--vtpm-id $2)"
}
DA=$WORK/vtpmA DB=$WORK/vtpmB
make_vtpm "$DA" "$UA" dataA.bin
make_vtpm "$DB" "$UB" dataB.bin
PA=$DA/$ST_PERMALL PB=$DB/$ST_PERMALL
cp "$PA" A.permall; cp "$PB" B.permall
st_slots A.permall; A_CUR=$ST_CUR_OFF
st_slots B.permall; B_CUR=$ST_CUR_OFF B_OLD=$ST_OLD_OFF

# (a) whole files
cp A.permall "$PB"
ST_BIN=$ST_SVTPM ST_DIR=$DB st_expect_refusal "vTPM A's file in B's directory, --vtpm-id B" "$R_FOREIGN" --vtpm-id "$UB"
ST_BIN=$ST_SVTPM ST_DIR=$DB st_expect_refusal "vTPM A's file, --vtpm-id of a third vTPM" "$R_FOREIGN" --vtpm-id "$UC"
cp B.permall "$PB"
ST_BIN=$ST_SVTPM ST_DIR=$DB st_expect_refusal "vTPM B's own file, --vtpm-id A" "$R_FOREIGN" --vtpm-id "$UA"

# (b) records copied between the files
cp B.permall "$PB"; st_copy_range A.permall "$A_CUR" "$PB" "$B_OLD" "$SEAL_SLOT_SIZE"
ST_BIN=$ST_SVTPM ST_DIR=$DB st_expect_refusal "A's current record in B's retired slot, --vtpm-id B" "$R_FOREIGN" --vtpm-id "$UB"
ST_BIN=$ST_SVTPM ST_DIR=$DB st_expect_refusal "A's current record in B's retired slot, no --vtpm-id" "$R_FOREIGN"
cp B.permall "$PB"; st_copy_range A.permall "$A_CUR" "$PB" "$B_CUR" "$SEAL_SLOT_SIZE"
ST_BIN=$ST_SVTPM ST_DIR=$DB st_expect_refusal "A's current record over B's current one, --vtpm-id B" "$R_FOREIGN" --vtpm-id "$UB"
# B's record with A's vtpm_id pasted into its header: not authentic
cp B.permall "$PB"; st_copy_range A.permall $((A_CUR + 24)) "$PB" $((B_CUR + 24)) 16
ST_BIN=$ST_SVTPM ST_DIR=$DB st_expect_refusal "B's record relabelled with A's vtpm_id, --vtpm-id A" "$R_TAMPER" --vtpm-id "$UA"

# both vTPMs, restored, still open with their own data
cp B.permall "$PB"
for v in A B; do
  if [ "$v" = A ]; then with_server "$ST_SVTPM" "$DA"; u=$UA; else with_server "$ST_SVTPM" "$DB"; u=$UB; fi
  vtpm_start --vtpm-id "$u"
  nv_check "data$v.bin" "vTPM $v after the swaps"
  vtpm_stop || fail "graceful stop of vTPM $v failed (exit status $VTPM_EXIT)"
done
with_server

# --- the original still opens -------------------------------------------------------------
# (orig.permall was also the target of the symlink case: nothing may have written through it)
assert_eq "$ORIG_SHA" "$(sha256_hex orig.permall)" "sha256 of the saved original (symlink target)"
restore
cmp -s orig.permall "$P" || fail "test bug: $P is not the original"
note "the restored original state opens and holds its NV data"
vtpm_start
nv_check nv4.bin "restored original"
vtpm_stop || fail "graceful stop failed (exit status $VTPM_EXIT)"

st_time_report
if [ "$ST_TIMES_N" -gt 0 ]; then
  mean=$((ST_TIMES_SUM / ST_TIMES_N))
  [ "$mean" -lt 300 ] || st_bad "slow refusal" "refusing took $mean ms on average (bound 300 ms)"
  [ "$ST_TIMES_MAX" -lt 2000 ] || st_bad "slow refusal" "one refusal took $ST_TIMES_MAX ms ($ST_TIMES_MAX_LABEL; bound 2000 ms)"
fi
st_finish
