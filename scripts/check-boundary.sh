#!/bin/sh
# Fails when a source reaches across the trust boundary:
#   src/common   may include only system headers and src/common;
#   src/enclave  only system, common and enclave headers — never host code;
#   src/host     only system, common and host headers — never enclave code.
# The per-side -I paths already make a cross include fail to compile; this
# catches relative paths ("../host/x.h") that -I would not stop.
bad=0
check() { # dir forbidden-regex
  for f in "$1"/*.[ch]; do
    [ -e "$f" ] || continue
    if grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*('"$2"')' "$f"; then
      echo "boundary: $f includes across the trust boundary" >&2
      bad=1
    fi
  done
}
check src/common '\.\./|/'
check src/enclave '\.\./host|host/|\.\./tools|\.\./kmc'
check src/host '\.\./enclave|enclave/|\.\./kmc'
exit $bad
