#!/usr/bin/env python3
"""An independent implementation of docs/formats.md (sealed state file and
the soft platform's key derivation), to check that what svtpm writes is what
the document says. Usage: verify_sealed.py STATE_FILE PLATFORM_KEY MRSIGNER_HEX

Prints one line per slot and exits 0 if exactly the newest authentic record is
current and every other slot is empty or retired (tag zeroed)."""
import hashlib
import hmac
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SLOT = 256 * 1024
HDR = 192


def hkdf(ikm, salt, info, n):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    t, out, c = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([c]), hashlib.sha256).digest()
        out, c = out + t, c + 1
    return out[:n]


def main():
    data = open(sys.argv[1], "rb").read()
    pk = open(sys.argv[2], "rb").read()
    mrsigner = bytes.fromhex(sys.argv[3])
    assert pk[:8] == b"SVTPMPK1" and len(pk) == 56, "platform key format"
    secret = pk[8:40]
    assert len(data) == 2 * SLOT, "file size %d" % len(data)
    slots = []
    for i in range(2):
        base = i * SLOT
        h = data[base:base + HDR]
        if h == bytes(HDR):
            print("slot %s: empty" % "AB"[i])
            slots.append(None)
            continue
        assert h[:8] == b"SVTPMSL1", "magic"
        ver, hlen, kind, seq = struct.unpack(">HHIQ", h[8:24])
        vtpm_id, key_id = h[24:40], h[40:72]
        policy, svn, prod = struct.unpack(">HHH", h[72:78])
        cpu_svn, signer, iv = h[80:96], h[96:128], h[128:140]
        plen = struct.unpack(">I", h[140:144])[0]
        tenant, bind_gen = h[144:176], struct.unpack(">I", h[176:180])[0]
        flags = struct.unpack(">I", h[180:184])[0]
        assert (ver, hlen) == (2, 192) and h[78:80] == b"\0\0" and h[184:192] == bytes(8)
        assert flags & ~1 == 0, "flags: only bit 0 (rollback-protected) is defined"
        assert policy == 2 and signer == mrsigner, "MRSIGNER policy, this signer"
        tag = data[base + HDR + plen:base + HDR + plen + 16]
        if tag == bytes(16):
            print("slot %s: retired record, version %d" % ("AB"[i], seq))
            slots.append(("retired", seq))
            continue
        # EGETKEY (soft), then HKDF, as docs/formats.md
        req = (b"svtpm-soft-egetkey-v1" + struct.pack(">HHH", 4, policy, prod) + bytes(32) +
               mrsigner + struct.pack(">H", svn) + cpu_svn + key_id)
        k16 = hmac.new(secret, req, hashlib.sha256).digest()[:16]
        key = hkdf(k16, key_id, b"svtpm/v2/seal" + struct.pack(">I", kind) + vtpm_id + tenant, 32)
        ct = data[base + HDR:base + HDR + plen]
        try:
            pt = AESGCM(key).decrypt(iv, ct + tag, h)
        except Exception:
            print("slot %s: NOT authentic (version %d)" % ("AB"[i], seq))
            slots.append(("bad", seq))
            continue
        # libtpms PERSISTENT_ALL: u16 version 3? then magic 0xAB364723
        ok = kind != 1 or pt[2:6] == bytes.fromhex("ab364723")
        print("slot %s: authentic, kind %d, version %d, %d bytes%s" %
              ("AB"[i], kind, seq, len(pt), "" if ok else " (NOT a libtpms permall)"))
        slots.append(("ok" if ok else "bad", seq))
    good = [s for s in slots if s and s[0] == "ok"]
    bad = [s for s in slots if s and s[0] == "bad"]
    if len(good) < 1 or bad:
        return 1
    newest = max(s[1] for s in slots if s)
    return 0 if max(s[1] for s in good) == newest else 1


if __name__ == "__main__":
    sys.exit(main())
