#!/usr/bin/env python3
"""Seeds for fuzz_ctrl: the control-channel requests QEMU 7.2, swtpm_setup,
the tpm2-tss swtpm TCTI and swtpm_ioctl send (shared/reference/
swtpm-interface.md §1.2, §1.7, §3.7, §6), whole sequences of them, and
malformed requests. Usage: gen_ctrl.py OUTDIR"""
import os
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def u32(*v):
    return b"".join(struct.pack(">I", x) for x in v)


def u64(v):
    return struct.pack(">Q", v)


# A small body for SET_STATEBLOB: the start of an svtpm sealed migration blob.
blob = b"SVTPMSL1" + struct.pack(">HHI", 2, 192, 3) + bytes(range(48))

seeds = {
    # QEMU 7.2, object creation and every reset (§1.7)
    "qemu_set_datafd": u32(0x10),
    "qemu_get_capability": u32(0x01),
    "qemu_stop": u32(0x0E),
    "qemu_set_buffersize_query": u32(0x11, 0),
    "qemu_set_buffersize_tis": u32(0x11, 0x1000),
    "qemu_set_buffersize_crb": u32(0x11, 0x0F80),
    "qemu_init": u32(0x02, 0),
    "qemu_init_delete_volatile": u32(0x02, 1),
    "qemu_get_tpmestablished": u32(0x04),
    "qemu_set_locality_0": u32(0x05) + bytes([0, 0, 0, 0]),
    "qemu_set_locality_3": u32(0x05) + bytes([3, 0, 0, 0]),
    "qemu_reset_tpmestablished_3": u32(0x0B) + bytes([3, 0, 0, 0]),
    "qemu_cancel": u32(0x09),
    "qemu_shutdown": u32(0x03),
    "qemu_get_stateblob_permanent": u32(0x0C, 1, 1, 0),
    "qemu_get_stateblob_volatile": u32(0x0C, 1, 2, 0),
    "qemu_get_stateblob_savestate": u32(0x0C, 1, 3, 0),
    "qemu_set_stateblob_permanent": u32(0x0D, 0, 1, len(blob)) + blob,
    "qemu_lock_storage": u32(0x13, 300),
    # whole sequences on one stream
    "qemu_seq_reset": u32(0x0E) + u32(0x11, 0) + u32(0x0E) + u32(0x11, 0x1000) + u32(0x02, 0)
                      + u32(0x04) + u32(0x05) + bytes([0, 0, 0, 0]),
    "qemu_seq_incoming": u32(0x0E) + u32(0x0D, 0, 1, len(blob)) + blob
                         + u32(0x0D, 0, 2, 16) + bytes(16) + u32(0x02, 1),
    "qemu_seq_save": u32(0x0C, 1, 1, 0) + u32(0x0C, 1, 2, 0) + u32(0x0C, 1, 3, 0) + u32(0x13, 300),
    # swtpm_setup 0.7.1 (§1.2, §3.6)
    "swtpm_setup_get_info": u32(0x12) + u64(3) + u32(0, 0),
    # tpm2-tss swtpm TCTI (§6)
    "tss_set_locality": u32(0x05) + bytes([0]),
    "tss_reset": u32(0x02, 1),
    # swtpm_ioctl (§3.7)
    "ioctl_get_config": u32(0x0F),
    "ioctl_store_volatile": u32(0x0A),
    "ioctl_hash": u32(0x06) + u32(0x07, 4) + b"abcd" + u32(0x08),
    "ioctl_info_features": u32(0x12) + u64(4) + u32(0, 0),
    "ioctl_save_flags0": u32(0x0C, 0, 1, 0),
    "ioctl_set_locality_4": u32(0x05) + bytes([4]),
    # malformed
    "bad_short_code": bytes([0, 0, 0]),
    "bad_init_short": u32(0x02) + bytes([0, 0]),
    "bad_init_trailing": u32(0x02, 0) + bytes([0]),
    "bad_hash_data_over_limit": u32(0x07, 4097) + b"x" * 8,
    "bad_hash_data_empty": u32(0x07, 0),
    "bad_set_stateblob_over_limit": u32(0x0D, 0, 1, 0x00100000),
    "bad_set_stateblob_cut": u32(0x0D, 0, 1, 64) + blob[:20],
    "bad_unknown_code": u32(0x99),
    "bad_code_zero": u32(0),
    "bad_code_ffffffff": u32(0xFFFFFFFF) + b"junk",
    "bad_set_locality_5_bytes": u32(0x05) + bytes([0, 0, 0, 0, 0]),
    "bad_get_info_short": u32(0x12) + u64(3),
    "bad_get_stateblob_short": u32(0x0C, 1, 1),
}

for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}")
