#!/usr/bin/env bash
# Fail early, with a clear message, when /dev/kvm cannot be used: every VM test
# needs it.
set -euo pipefail
if [ ! -e /dev/kvm ]; then
    echo "ci: /dev/kvm does not exist: this machine has no KVM (the VM tests need it)" >&2
    exit 1
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "ci: /dev/kvm is not readable and writable by $(id -un): add the user to group 'kvm'" >&2
    exit 1
fi
echo "ci: /dev/kvm is usable"
