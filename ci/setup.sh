#!/usr/bin/env bash
# Prepare a fresh Debian machine to build and test the project: the Debian
# packages the tests use, and a check that KVM is usable. The Rust toolchain and
# the guest target come from rust-toolchain.toml; vmm/build.rs adds the target
# with rustup when the pinned toolchain lacks it (a fresh machine here).
set -euo pipefail

need=()
command -v setpriv >/dev/null || need+=(util-linux)   # tests run the VMM as an unprivileged user
command -v cc >/dev/null || need+=(gcc)               # builds the C test programs (vmm/build.rs)
[ -e /usr/include/linux/sched.h ] || need+=(linux-libc-dev) # Linux's headers: uapi's tests check its values
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)  # tests/busybox.rs: the static /bin/busybox
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}"
fi

ci/check-kvm.sh
