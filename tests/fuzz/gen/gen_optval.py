#!/usr/bin/env python3
"""Seeds for fuzz_optval: byte 0 picks the name list (the order of `lists` in
tests/fuzz/fuzz_optval.c), the rest is an option value as QEMU/libvirt,
swtpm_setup, the README and users write them, plus malformed ones.
Usage: gen_optval.py OUTDIR"""
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
CTRL, SRV, STATE, LOG, FLAGS, PID, LOC, KEY, NONE, ODD = range(10)
seeds = {
    "ctrl_unixio_path": (CTRL, "type=unixio,path=/run/vm1-tpm.sock"),
    "ctrl_libvirt": (CTRL, "type=unixio,path=/run/libvirt/qemu/swtpm/1-vm-swtpm.sock,mode=0600"),
    "ctrl_swtpm_setup_clientfd": (CTRL, "type=unixio,clientfd=4"),
    "ctrl_tcp_port": (CTRL, "type=tcp,port=2322"),
    "ctrl_tcp_bindaddr": (CTRL, "type=tcp,port=2322,bindaddr=0.0.0.0"),
    "ctrl_fd_terminate": (CTRL, "type=unixio,fd=5,terminate"),
    "ctrl_uid_gid": (CTRL, "type=unixio,path=/tmp/c,uid=tss,gid=115,mode=660"),
    "ctrl_ifname": (CTRL, "type=tcp,port=1,ifname=eth0"),
    "server_tcp": (SRV, "type=tcp,port=2321"),
    "server_swtpm_setup_fd": (SRV, "type=tcp,fd=3"),
    "server_unixio_disconnect": (SRV, "type=unixio,path=/tmp/srv,disconnect"),
    "server_disconnect_true": (SRV, "type=tcp,port=24321,disconnect=true"),
    "tpmstate_dir": (STATE, "dir=/var/lib/svtpm/vm1"),
    "tpmstate_backend_uri": (STATE, "backend-uri=dir:///var/lib/swtpm/x"),
    "tpmstate_mode_lock": (STATE, "dir=/x,mode=0640,lock"),
    "log_file": (LOG, "file=/var/log/vm1-tpm.log"),
    "log_swtpm_setup": (LOG, "file=/var/log/swtpm/libvirt/qemu/vm1-swtpm.log,level=20"),
    "log_fd_prefix_truncate": (LOG, "fd=2,level=100,prefix=[svtpm] ,truncate"),
    "log_level_over": (LOG, "file=/x,level=101"),
    "log_level_huge": (LOG, "file=/x,level=99999999999999999999999"),
    "log_level_negative": (LOG, "file=/x,level= -5"),
    "flags_swtpm_setup": (FLAGS, "not-need-init,startup-clear"),
    "flags_state_auto": (FLAGS, "startup-state,disable-auto-shutdown=1"),
    "flags_none_deactivated": (FLAGS, "startup-none,startup-deactivated"),
    "pid_file": (PID, "file=/tmp/.swtpm_setup.pidfile.abc123"),
    "pid_fd": (PID, "fd=5"),
    "locality": (LOC, "reject-locality-4,allow-set-locality"),
    "locality_bools": (LOC, "reject-locality-4=TRUE,allow-set-locality=0"),
    "key_pwdfile_aes256": (KEY, "pwdfile=/etc/svtpm/pw,mode=aes-256-cbc"),
    "key_file_binary_remove": (KEY, "file=/etc/key,format=binary,mode=aes-256-cbc,remove"),
    "key_pwdfile_sha512": (KEY, "pwdfile=/x,kdf=sha512"),
    "key_fd_hex": (KEY, "fd=7,format=hex,mode=aes-cbc"),
    "bad_empty": (CTRL, ""),
    "bad_only_commas": (CTRL, ",,,"),
    "bad_no_name": (STATE, "=value"),
    "bad_unknown_name": (SRV, "type=tcp,bogus=1"),
    "bad_too_many": (CTRL, ",".join(["type=unixio"] * 17)),
    "last_wins": (CTRL, "mode=0600,mode=0777,type=tcp,type=unixio"),
    "mode_bad_octal": (STATE, "dir=/x,mode=0800"),
    "mode_negative": (STATE, "dir=/x,mode=-1"),
    "mode_spaces": (STATE, "dir=/x,mode=   7"),
    "value_with_equals": (CTRL, "type=a=b=c,path=/x=y"),
    "none_allowed": (NONE, "anything"),
    "odd_names": (ODD, "mode=7,a=b,x"),
}
for name, (lst, val) in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([lst]) + val.encode())
print(f"{len(seeds)} seeds in {out}")
