#!/usr/bin/env bash
# Seeds for fuzz_timetoken (tests/fuzz/corpus/timetoken/), made with the
# authority's tool and a throw-away key (run from anywhere, after `make`):
#   bash tests/fuzz/gen/gen_timetoken.sh [CORPUS_DIR (tests/fuzz/corpus/timetoken)]
# tt_*: valid tokens from `svtpm-timeauth sign`; bad_*: one defect each,
# edited from tt_basic. The key is new on every run, so the authority id and
# signature bytes change (not the meaning). found-* files are kept.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-$top/tests/fuzz/corpus/timetoken}
tool=$top/${BUILD:-build}/svtpm-timeauth
[ -x "$tool" ] || { echo "gen_timetoken: $tool is not built (make all)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
rm -f "$out"/tt_* "$out"/bad_*
"$tool" keygen --out "$tmp/key.pem" >/dev/null

nonce_seq=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
zeros=$(printf '%064d' 0)
ffs=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
sign() {   # sign NAME NONCE TIME ACCURACY
  "$tool" sign --key "$tmp/key.pem" --nonce "$2" --time-ms "$3" --accuracy-ms "$4" --out "$out/$1"
}
sign tt_basic "$nonce_seq" 1700000000000 0
sign tt_accuracy_1s "$nonce_seq" 1700000000123 1000
sign tt_accuracy_max "$nonce_seq" 1700000000000 4294967295
sign tt_time_1 "$zeros" 1 0
sign tt_time_max "$ffs" 18446744073709551615 4294967295
sign tt_nonce_zero "$zeros" 1700000000000 250
sign tt_nonce_ff "$ffs" 1700000000000 250

# bad_*: edit a copy of tt_basic. Offsets as in src/common/timetoken.h.
python3 - "$out" <<'EOF'
import sys, os
out = sys.argv[1]
good = open(os.path.join(out, "tt_basic"), "rb").read()
assert len(good) == 156 and good[:8] == b"SVTPMTT1"

def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

def edit(name, off, new):
    b = bytearray(good)
    b[off:off + len(new)] = new
    assert len(b) == 156
    put(name, bytes(b))

def flip(name, off):
    b = bytearray(good)
    b[off] ^= 0x01
    put(name, bytes(b))

# length
put("bad_empty", b"")
put("bad_truncated", good[:155])
put("bad_body_only", good[:92])
put("bad_magic_only", good[:8])
put("bad_trailing_byte", good + b"\0")
put("bad_twice", good + good)
# header fields
edit("bad_magic", 7, b"2")                      # SVTPMTT2
edit("bad_magic_manifest", 0, b"SVTPMBM1")
edit("bad_magic_restore_auth", 0, b"SVTPMRA1")
edit("bad_version_0", 8, b"\0\0")
edit("bad_version_2", 8, b"\0\2")
edit("bad_version_0101", 8, b"\1\1")
edit("bad_flags_1", 10, b"\0\1")
edit("bad_flags_8000", 10, b"\x80\0")
edit("bad_reserved_1", 56, b"\0\0\0\1")
edit("bad_reserved_80000000", 56, b"\x80\0\0\0")
edit("bad_time_0", 44, b"\0" * 8)
# well-formed, but the signature no longer verifies (they parse)
flip("bad_nonce_flipped", 12)
flip("bad_time_flipped", 51)
flip("bad_accuracy_flipped", 55)
flip("bad_authority_flipped", 60)
flip("bad_signature_flipped", 92)
flip("bad_signature_last_flipped", 155)
EOF
echo "$(ls "$out" | wc -l) files in $out"
