#!/usr/bin/env bash
# test_migrate.sh on a bound vTPM (policy strict, counter store): a real QEMU
# migration to file and back must pass rollback protection (the blob carries
# the recorded version; the source writes nothing after handing it over). One
# TPM front end (tpm-crb) by default, to keep the suite's time down.
export MIGRATE_BOUND=1
export VM_TPM_DEVICES=${VM_TPM_DEVICES:-tpm-crb}
exec bash "$(dirname "$0")/test_migrate.sh"
