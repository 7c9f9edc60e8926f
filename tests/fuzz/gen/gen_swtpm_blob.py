#!/usr/bin/env python3
"""Seeds for fuzz_swtpm_blob from the real swtpm 0.7.1 state files that
gen_swtpm.sh made: each file bare (imported without a key), each file as an
ECALL_IMPORT_SWTPM request with its key material (src/enclave/import.h), and
tampered variants. Usage: gen_swtpm_blob.py SWTPMDIR OUTDIR"""
import os
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
NONE, BINARY, HEX, PBKDF2, SHA512 = 0, 1, 2, 3, 4
PERMALL, VOLATILE = 1, 2


def rd(*p):
    with open(os.path.join(src, *p), "rb") as f:
        return f.read()


written = 0


def put(name, data):
    global written
    written += 1
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def req(file, kind, keylen, secret, blob):
    return struct.pack(">IIII", file, kind, keylen, len(secret)) + secret + blob


def tlvs(blob):
    """(tag, value) list of a v2 blob"""
    off, res = 10, []
    while off < len(blob):
        tag, n = struct.unpack(">HI", blob[off:off + 6])
        res.append((tag, blob[off + 6:off + 6 + n]))
        off += 6 + n
    return res


def build(flags, items, version=2, min_version=1, hdrsize=10, totlen=None):
    body = b"".join(struct.pack(">HI", t, len(v)) + v for t, v in items)
    n = 10 + len(body) if totlen is None else totlen
    return struct.pack(">BBHHI", version, min_version, hdrsize, flags, n) + body


pw = rd("secrets", "passphrase")
hexkey = rd("secrets", "key-hex-aes128")
binkey = rd("secrets", "key-bin-aes256")
setups = {
    "plain": (NONE, 0, b""),
    "pwd-aes256": (PBKDF2, 32, pw),
    "pwd-sha512-aes128": (SHA512, 16, pw),
    "keyfile-hex-aes128": (HEX, 16, hexkey),
    "keyfile-bin-aes256": (BINARY, 32, binkey),
}
perm = {k: rd(k, "tpm2-00.permall") for k in setups}

# bare files
put("file_plain_permall", perm["plain"])
put("file_plain_volatilestate", rd("plain", "tpm2-00.volatilestate"))
put("file_pwd_aes256_permall", perm["pwd-aes256"])
# requests with the right key
for k, (kind, keylen, secret) in setups.items():
    put(f"req_{k}_permall", req(PERMALL, kind, keylen, secret, perm[k]))
put("req_keyfile-hex-aes128_volatilestate",
    req(VOLATILE, HEX, 16, hexkey, rd("keyfile-hex-aes128", "tpm2-00.volatilestate")))
put("req_hex_key_0x_prefix", req(PERMALL, HEX, 16, b"0x" + hexkey, perm["keyfile-hex-aes128"]))

# refusals
e = perm["pwd-sha512-aes128"]
put("req_wrong_passphrase", req(PERMALL, SHA512, 16, b"not the passphrase", e))
put("req_wrong_kdf", req(PERMALL, PBKDF2, 16, pw, e))
put("req_key_length_mismatch", req(PERMALL, SHA512, 32, pw, e))
put("req_key_for_plain_file", req(PERMALL, HEX, 16, hexkey, perm["plain"]))
put("req_no_key_for_encrypted_file", req(PERMALL, NONE, 0, b"", e))
put("req_hex_key_too_short", req(PERMALL, HEX, 16, b"0011223344", e))
put("req_hex_key_bad_digit", req(PERMALL, HEX, 16, b"0011223344556677889900aabbccddgg", e))
put("req_binary_key_15_bytes", req(PERMALL, BINARY, 16, binkey[:15], e))
put("req_binary_16_of_aes256", req(PERMALL, BINARY, 32, binkey[:16], e))
put("req_secret_len_over_limit", struct.pack(">IIII", PERMALL, HEX, 16, 0x10000) + hexkey)

# tampered encrypted files (with the right key)
t = tlvs(e)
enc, mac, iv = (dict(t)[x] for x in (2, 3, 6))
flip = lambda b, i: b[:i] + bytes([b[i] ^ 1]) + b[i + 1:]
put("req_tampered_hmac", req(PERMALL, SHA512, 16, pw, build(1, [(2, enc), (3, flip(mac, 0)), (6, iv)])))
put("req_tampered_ciphertext", req(PERMALL, SHA512, 16, pw, build(1, [(2, flip(enc, 40)), (3, mac), (6, iv)])))
put("req_tampered_iv", req(PERMALL, SHA512, 16, pw, build(1, [(2, enc), (3, mac), (6, flip(iv, 3))])))
put("req_tlv_order_and_unknown", req(PERMALL, SHA512, 16, pw,
                                     build(1, [(9, b"x" * 7), (6, iv), (3, mac), (2, enc), (2, b"dup")])))
put("req_missing_iv", req(PERMALL, SHA512, 16, pw, build(1, [(2, enc), (3, mac)])))
put("req_short_iv", req(PERMALL, SHA512, 16, pw, build(1, [(2, enc), (3, mac), (6, iv[:8])])))
put("req_enc_not_block_multiple", req(PERMALL, SHA512, 16, pw, build(1, [(2, enc[:-3]), (3, mac), (6, iv)])))

# malformed plain files
d = dict(tlvs(perm["plain"]))[1]
put("file_totlen_too_big", build(0, [(1, d[:64])], totlen=10 + 6 + 64 + 1))
put("file_totlen_too_small", build(0, [(1, d[:64])], totlen=10 + 6 + 63))
cut = build(0, [(1, d[:64])])[:-10]
put("file_tlv_runs_past_end", cut[:6] + struct.pack(">I", len(cut)) + cut[10:])
put("file_min_version_3", build(0, [(1, d[:64])], min_version=3))
put("file_version_1", build(0, [(1, d[:64])], version=1))
put("file_hdrsize_12", build(0, [(1, d[:64])], hdrsize=12))
put("file_no_data_tlv", build(0, [(3, b"m" * 32)]))
put("file_empty_data_tlv", build(0, [(1, b"")]))
put("file_header_only", build(0, []))
put("file_migration_flags", build(0x04, [(4, build(0, [(1, d[:32])]))]))
print(f"{written} seeds in {out}")
