#!/usr/bin/env python3
"""Seeds for fuzz_tpmcmd (tests/fuzz/corpus/tpmcmd/): TPM 2.0 commands laid
out as the TPM 2.0 spec (Part 3) defines them, the shapes tpm2-tools sends:
  cmd_*  well-formed commands with password, HMAC and policy sessions, the
         four time-bound policy commands, commands without sessions;
  bad_*  one defect each (truncations, area sizes, unknown codes, tags).
Usage: gen_tpmcmd.py OUT_DIR (found-* files there are kept)."""
import os
import struct
import sys

PW, HMAC, POLICY = 0x40000009, 0x02000000, 0x03000000


def sess(handle, nonce=0, hmac=0, attrs=1):
    return struct.pack(">IH", handle, nonce) + bytes(nonce) + bytes([attrs]) + \
        struct.pack(">H", hmac) + b"\x5a" * hmac


def cmd(cc, handles=(), sessions=None, params=b"", tag=None):
    if tag is None:
        tag = 0x8002 if sessions is not None else 0x8001
    body = b"".join(struct.pack(">I", h) for h in handles)
    if sessions is not None:
        area = b"".join(sessions)
        body += struct.pack(">I", len(area)) + area
    body += params
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def main(out):
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.startswith(("cmd_", "bad_")):
            os.remove(os.path.join(out, f))
    obj, nv, owner = 0x80000001, 0x01500040, 0x40000001
    seeds = {
        "cmd_getrandom": cmd(0x17B, params=struct.pack(">H", 16)),
        "cmd_readclock": cmd(0x181),
        "cmd_pcr_read": cmd(0x17E, params=bytes.fromhex("00000001000b03ffffff")),
        "cmd_startup": cmd(0x144, params=b"\x00\x00"),
        "cmd_unseal_pw": cmd(0x15E, [obj], [sess(PW, hmac=5)]),
        "cmd_unseal_policy": cmd(0x15E, [obj], [sess(POLICY, 32)]),
        "cmd_unseal_hmac": cmd(0x15E, [obj], [sess(HMAC, 32, 32)]),
        "cmd_nvwrite_hmac_policy": cmd(0x137, [nv, nv], [sess(HMAC, 32, 32), sess(POLICY | 5, 16)],
                                       struct.pack(">H", 8) + b"A" * 8 + b"\x00\x00"),
        "cmd_nvread_pw": cmd(0x14E, [owner, nv], [sess(PW)], struct.pack(">HH", 8, 0)),
        "cmd_policynv": cmd(0x149, [owner, nv, POLICY], [sess(PW)], bytes(8)),
        "cmd_activatecred_3sess": cmd(0x147, [obj, obj + 1], [sess(PW), sess(PW), sess(POLICY, 32)], bytes(20)),
        "cmd_create_pw": cmd(0x153, [obj], [sess(PW, hmac=4)], bytes(60)),
        "cmd_policysecret": cmd(0x151, [owner, POLICY], [sess(PW)],
                                struct.pack(">H", 32) + bytes(32) + b"\x00\x00\x00\x00" + struct.pack(">i", 5)),
        "cmd_policysigned": cmd(0x160, [obj, POLICY], params=bytes(48)),
        "cmd_policyticket": cmd(0x172, [POLICY], params=bytes(40)),
        "cmd_policycountertimer": cmd(0x16D, [POLICY], params=struct.pack(">H", 8) + (5000).to_bytes(8, "big") +
                                     struct.pack(">HH", 8, 0x0009)),
        "cmd_empty_area": cmd(0x15E, [obj], []),
    }
    good = seeds["cmd_unseal_pw"]
    seeds.update({
        "bad_header_9": good[:9],
        "bad_header_only": good[:10],
        "bad_in_handles": good[:12],
        "bad_in_area_size": good[:16],
        "bad_in_session": good[:20],
        "bad_area_too_big": good[:14] + struct.pack(">I", 0xFFFFFFFF) + good[18:],
        "bad_nonce_past_area": good[:18] + struct.pack(">IH", PW, 40) + good[24:] + bytes(64),
        "bad_unknown_cc_sessions": cmd(0x198, [obj], [sess(PW)]),
        "bad_vendor_cc": cmd(0x20000001, [obj], [sess(POLICY)]),
        "bad_unknown_cc_nosessions": cmd(0x11E),
        "bad_tag_8003": cmd(0x15E, [obj], [sess(POLICY)], tag=0x8003),
        "bad_policy_tag_8001": cmd(0x15E, [obj], None, bytes(16), tag=0x8001),
        "bad_empty": b"",
    })
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
