#!/usr/bin/env bash
# Prepare a fresh Debian machine to build and test the project: the Debian
# packages the tests and the hardware-virtualization lanes use (only those
# missing are installed), the lanes' L1 kernel (downloaded once, cached), and a
# check that KVM is usable (a warning, not a failure: see .ci/run). The Rust toolchain and the guest target come from
# rust-toolchain.toml; vmm/build.rs adds the target with rustup when the pinned
# toolchain lacks it (a fresh machine here).
set -euo pipefail
cd "$(dirname "$0")/.."

# package: what it is for
packages=(
    "util-linux" # setpriv and unshare: tests run the VMM as another user, compare namespaces
    "gcc" # the C test programs (vmm/build.rs); the SVM lane's kvm-hold
    "libc6-dev" # kvm-hold is linked statically
    "linux-libc-dev" # Linux's headers: uapi's tests check its values against them
    "binutils" # strip: the lanes copy test binaries without debug information
    "jq" # the lanes read cargo's JSON messages
    "cpio" # the lanes' initramfs
    "busybox-static" # tests/busybox.rs: the static /bin/busybox; L1's userland in the lanes
    "xz-utils" # kernel modules may be compressed
    "zstd"
    "qemu-system-x86" # the SVM lane: QEMU's TCG emulates AMD SVM
    "bochs" # the VMX lane: Bochs emulates Intel VMX with EPT
    "bochsbios"
    "vgabios"
    "syslinux" # the VMX lane boots L1 from a FAT disk image
    "mtools"
    "dosfstools"
)
need=()
for entry in "${packages[@]}"; do
    p=${entry%% *}
    dpkg-query -W -f '${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || need+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
updated=0
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    $sudo apt-get update -qq
    updated=1
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# The lanes' L1 kernel: the package linux-image-amd64 depends on, downloaded
# once into the cache (apt needs its package lists for that).
if ! ci/l1-kernel.sh > /dev/null 2>&1; then
    [ $updated = 1 ] || $sudo apt-get update -qq
    ci/l1-kernel.sh > /dev/null
fi
echo "setup: L1 kernel for the lanes in $(ci/l1-kernel.sh)"

# Without a usable /dev/kvm the host unit tests and the lanes still run; the
# VM tests cannot (.ci/run reports them as not run, and fails).
ci/check-kvm.sh || echo "setup: WARNING: no usable /dev/kvm: the VM tests cannot run here" >&2
