#!/usr/bin/env bash
# The tests that need no /dev/kvm: the unit tests of every crate (the VMM's
# included: they exercise its logic on plain data) and the host-side tests of
# the crates that boot no VM (the guest's layer check, uapi's checks against
# Linux's headers and the C header). They run on any x86-64 Linux machine; the
# VM tests (the VMM's tests/) need KVM and are `cargo test --workspace`'s.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --lib --bins
cargo test -p uapi -p protocol -p guest -p userspace --tests
echo "host tests: passed (no /dev/kvm used)"
