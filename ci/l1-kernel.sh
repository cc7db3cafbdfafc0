#!/usr/bin/env bash
# Print the directory of the lanes' L1 kernel (Debian's linux-image-*-amd64:
# vmlinuz and the KVM modules), downloading and unpacking it the first time.
# ci/setup.sh runs it; the lanes do the same themselves.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LANE_NAME=l1-kernel
W=${LANE_WORK:-$ROOT/target/l1-kernel}
# shellcheck source=lib/l1.sh
. "$ROOT/ci/lib/l1.sh"
l1_kernel
echo "$KDIR"
