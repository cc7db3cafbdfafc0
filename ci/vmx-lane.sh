#!/usr/bin/env bash
# The VMX lane: the project's programs as L2 on kvm_intel.
#
# Boots Debian's stock kernel (L1) in Bochs, which emulates Intel VMX with EPT
# (CPU model corei7_skylake_x), loads kvm_intel, and runs a smoke set
# (ci/vmx-smoke.plan: boot on 1 and 2 vCPUs, the `syscall` path, fork, vfork,
# clone, signals, copy-on-write, scheduling, busybox; each program compared with
# L1's Linux where it runs there) or, with --full, every test binary as the SVM
# lane does. Bochs is slow (about 2 minutes to boot L1, a second or more per
# small L2 program): the smoke set is the CI lane, the whole suite an on-demand
# one. Any failure, crash or timeout fails the lane. docs/hwvirt-lanes.md
# explains the lane and what it does not cover.
#
#   ci/vmx-lane.sh                 # the smoke set (CI)
#   ci/vmx-lane.sh --full          # every test binary (about 16 minutes)
#   ci/vmx-lane.sh --full boot sched -- --test-threads=1
#
# Environment (defaults in brackets):
#   VMX_CPU       Bochs CPU model, with VMX and EPT [corei7_skylake_x]
#   VMX_IPS       Bochs instructions per second; L1 boots with tsc_early_khz =
#                 VMX_IPS/1000 so that its clock follows the emulated time [60000000]
#   VMX_MEGS      L1's memory, MiB [1536; 2048 with --full]
#   LANE_TIMEOUT  the whole run, seconds [480; 7200 with --full]
#   JOB_TIMEOUT   one test binary with --full, seconds [1800]
#   HB_DEAD, BOOT_DEAD  seconds without L1's heartbeat before it counts as hung,
#                 after and before the first one [180, 420]
#   LANE_WORK     scratch directory [target/vmx-lane]; KVMFORK_CACHE the kernel
#                 cache [${XDG_CACHE_HOME:-~/.cache}/kvmfork]
# Exit status: 0 every job passed, 1 something failed, 2 the lane could not run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LANE_NAME=vmx-lane
W=${LANE_WORK:-$ROOT/target/vmx-lane}
# shellcheck source=lib/l1.sh
. "$ROOT/ci/lib/l1.sh"

full=0 want="" targs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --full) full=1; shift ;;
        --) shift; targs=("$@"); break ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) lane_fail "unknown option $1 (see --help)" ;;
        *) want+="$1"$'\n'; shift ;;
    esac
done
want=${want%$'\n'}
[ $full = 1 ] || [ -z "$want" ] || lane_fail "naming test binaries needs --full"

VMX_CPU=${VMX_CPU:-corei7_skylake_x}
VMX_IPS=${VMX_IPS:-60000000}
if [ $full = 1 ]; then
    VMX_MEGS=${VMX_MEGS:-2048} LANE_TIMEOUT=${LANE_TIMEOUT:-7200}
else
    VMX_MEGS=${VMX_MEGS:-1536} LANE_TIMEOUT=${LANE_TIMEOUT:-480}
fi
JOB_TIMEOUT=${JOB_TIMEOUT:-1800}
HB_DEAD=${HB_DEAD:-180}
BOOT_DEAD=${BOOT_DEAD:-420}
LANE_BOOTS=1 # Bochs is single-threaded: nothing to retry

t_start=$(now)
deadline=$((t_start + LANE_TIMEOUT))
for t in bochs:bochs mkfs.fat:dosfstools syslinux:syslinux mcopy:mtools strip:binutils gzip:gzip jq:jq; do
    need "${t%%:*}" "${t#*:}"
done
for f in /usr/share/bochs/BIOS-bochs-latest:bochsbios /usr/share/vgabios/vgabios.bin:vgabios; do
    [ -e "${f%%:*}" ] || lane_fail "missing ${f%%:*}: run ci/setup.sh (apt-get install ${f#*:})"
done
mkdir -p "$W"

l1_build_tests
t_built=$(now)
l1_kernel
l1_root kvm-intel "dump_invalid_vmcs=1"
l1_plan_begin
if [ $full = 1 ]; then
    l1_plan_tests "$JOB_TIMEOUT" 1 "$want" "${targs[@]}"
    l1_copy_test_support
else
    # The vmm binary and the test programs only: Bochs reads the initramfs
    # through the BIOS, so it is kept small.
    l1_copy "$VMM_BIN"
    l1_copy "$PROGRAMS"
    # What vfork executes, at the same path in L1 as in the guest.
    cp "$PROGRAMS/exitcode" "$W/root/bin/exitcode"
    cp "$ROOT/ci/vmx-smoke.plan" "$PLAN"
    sed -n 's/^\(same\|expect\) \([^ ]*\) .*/\2/p' "$PLAN" > "$W/planned.txt"
fi
{
    echo "LANE=vmx"
    echo "LANE_HB=10"
    printf 'VMM=%q\n' "$VMM_BIN"
    printf 'P=%q\n' "$PROGRAMS"
} > "$W/root/lane/config"
l1_pack 6
t_packed=$(now)
log "$(wc -l < "$W/planned.txt") jobs; initramfs $(du -m "$W/initrd.gz" | cut -f1) MB; L1 kernel $(cat "$KDIR/release"); Bochs $VMX_CPU, ips $VMX_IPS"

lane_start() {
    local need cyl
    (
        cd "$W"
        # A FAT "superfloppy" disk with SYSLINUX, the kernel and the initramfs
        # (Bochs cannot load a kernel itself; no loop mounts needed).
        need=$(($(stat -c %s "$KDIR/vmlinuz") + $(stat -c %s initrd.boot.gz) + 4 * 1024 * 1024))
        cyl=$((need / (16 * 63 * 512) + 2))
        rm -f disk.img disk.img.lock # a killed Bochs leaves the lock behind
        truncate -s $((cyl * 16 * 63 * 512)) disk.img
        mkfs.fat -F 16 -n L1 disk.img > /dev/null 2>&1 || mkfs.fat -n L1 disk.img > /dev/null
        syslinux --install disk.img
        cat > syslinux.cfg << CFG
DEFAULT l1
PROMPT 0
TIMEOUT 0
LABEL l1
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0,115200 panic=-1 nokaslr rdinit=/init quiet loglevel=4 mitigations=off tsc_early_khz=$((VMX_IPS / 1000))
CFG
        mcopy -o -i disk.img "$KDIR/vmlinuz" ::vmlinuz
        mcopy -o -i disk.img initrd.boot.gz ::initrd.gz
        mcopy -o -i disk.img syslinux.cfg ::syslinux.cfg
        # Debian's Bochs has no "nogui" display: rfb, never waiting for a
        # viewer. Its debugger stops at a prompt: -rc continues. Its sound
        # mixer thread aborts ("buffer overflow detected") on a machine
        # without a sound card unless the driver is the dummy one.
        cat > bochsrc << CFG
display_library: rfb, options="timeout=0"
megs: $VMX_MEGS
cpu: model=$VMX_CPU, count=1, ips=$VMX_IPS, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path=disk.img, mode=flat, cylinders=$cyl, heads=16, spt=63
boot: disk
com1: enabled=1, mode=file, dev=$CONSOLE
com2: enabled=1, mode=file, dev=$RESULTS_RAW
clock: sync=none, time0=local
speaker: enabled=0
sound: driver=dummy
log: bochs.$boot.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
CFG
        printf 'c\nquit\n' > dbgcmds
    )
    (cd "$W" && exec bochs -q -f bochsrc -rc dbgcmds < /dev/null > "bochs.$boot.out" 2>&1) &
    EMU_PID=$!
}

lane_cpus() { :; }

l1_run
t_end=$(now)
status=0
what="smoke set"
[ $full = 0 ] || what="whole suite"
l1_report "kvm_intel in Bochs $(dpkg-query -W -f '${Version}' bochs 2> /dev/null) $VMX_CPU; L1 $(cat "$KDIR/release"), 1 CPU; $what" || status=1
echo "$LANE_NAME: wall $(( t_end - t_start )) s: build $(( t_built - t_start )) s, initramfs $(( t_packed - t_built )) s, L1 $(( t_end - t_packed )) s"
if [ $status = 0 ]; then echo "$LANE_NAME: PASS"; else echo "$LANE_NAME: FAIL"; fi
exit $status
