#!/usr/bin/env bash
# The SVM lane: the whole test suite as L2 on kvm_amd.
#
# Boots Debian's stock kernel (L1) in QEMU with software-emulated AMD SVM (TCG),
# loads kvm_amd, and runs every test binary `cargo test --workspace` builds inside
# it, at the same absolute paths as on the host, so the VMM under test runs on a
# KVM with hardware-virtualization semantics (ring 0 native, the `syscall`
# instruction working, vCPUs truly parallel) and the programs' Linux comparisons
# compare with L1's Linux. Any failed test, crash or timeout fails the lane; the
# summary names them and the failing tests' output comes first. docs/hwvirt-lanes.md
# explains the lane, its costs and what it does not cover.
#
#   ci/svm-lane.sh                          # the whole suite
#   ci/svm-lane.sh programs_in_guest sched  # only these test binaries (jobs)
#   ci/svm-lane.sh --repeat 5 programs_in_guest -- reused_frames_are_zeroed
#   ci/svm-lane.sh --list                   # the jobs
#   ci/svm-lane.sh --plan my.plan --copy ./tool   # your own jobs instead
#
# A plan is a shell fragment ci/l1/init runs in L1 with its job functions
# (`expect`, `same`, `libtest`; see ci/vmx-smoke.plan), $VMM the vmm binary and
# $P the test programs at their host paths; --copy puts host files into L1 at
# the same absolute paths (with their shared libraries).
#
# Arguments after `--` go to every test binary (libtest: a filter, --exact, ...).
# Environment (defaults in brackets):
#   SVM_TCG       QEMU TCG threading: single (one host thread runs both L1
#                 CPUs, interleaved) or multi (in parallel) [single]. Under
#                 multi, QEMU 7.2's nested SVM breaks L1 itself now and then:
#                 L1 triple faults and hangs with an L1 CPU that never leaves
#                 L2 (docs/hwvirt-lanes.md, "thread=single")
#   SVM_KEEPER    1: hold an idle VM in L1 for the whole run, so that test VMs
#                 coming and going never patch L1's kernel text (QEMU's
#                 multi-threaded TCG livelocks in that patching) [1]
#   SVM_SMP, SVM_MEM  L1's CPUs and memory [2, 3G]
#   LANE_TIMEOUT  the whole run, every L1 boot included, seconds [840]
#   JOB_TIMEOUT   one test binary, seconds [420]
#   HB_DEAD       seconds without L1's heartbeat before L1 counts as hung [90]
#   LANE_BOOTS    L1 boots at most: a livelocked L1 is booted again for the
#                 jobs it did not finish, and the summary says so [3]
#   LANE_WORK     scratch directory [target/svm-lane]; KVMFORK_CACHE the kernel
#                 cache [${XDG_CACHE_HOME:-~/.cache}/kvmfork]
# Exit status: 0 every job passed, 1 something failed, 2 the lane could not run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LANE_NAME=svm-lane
W=${LANE_WORK:-$ROOT/target/svm-lane}
# shellcheck source=lib/l1.sh
. "$ROOT/ci/lib/l1.sh"

SVM_TCG=${SVM_TCG:-single}
SVM_KEEPER=${SVM_KEEPER:-1}
SVM_SMP=${SVM_SMP:-2}
SVM_MEM=${SVM_MEM:-3G}
LANE_TIMEOUT=${LANE_TIMEOUT:-840}
JOB_TIMEOUT=${JOB_TIMEOUT:-420}
HB_DEAD=${HB_DEAD:-90}
BOOT_DEAD=${BOOT_DEAD:-120}
LANE_BOOTS=${LANE_BOOTS:-3}

repeat=1 list=0 want="" targs=() own_plan="" copies=()
while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) repeat=$2; shift 2 ;;
        --list) list=1; shift ;;
        --plan) own_plan=$(readlink -f "$2"); shift 2 ;;
        --copy) copies+=("$2"); shift 2 ;;
        --) shift; targs=("$@"); break ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) lane_fail "unknown option $1 (see --help)" ;;
        *) want+="$1"$'\n'; shift ;;
    esac
done
want=${want%$'\n'}

t_start=$(now)
deadline=$((t_start + LANE_TIMEOUT))
for t in qemu-system-x86_64:qemu-system-x86 cc:gcc strip:binutils gzip:gzip jq:jq; do
    need "${t%%:*}" "${t#*:}"
done
mkdir -p "$W"

l1_build_tests
t_built=$(now)
if [ $list = 1 ]; then
    cut -f1 <<< "$TESTS"
    exit 0
fi
while IFS= read -r j; do
    [ -z "$j" ] || cut -f1 <<< "$TESTS" | grep -qxF "$j" || lane_fail "no test binary named $j (see --list)"
done <<< "$want"

l1_kernel
l1_root kvm-amd ""
l1_plan_begin
if [ -n "$own_plan" ]; then
    cp "$own_plan" "$PLAN"
    sed -n 's/^ *\(same\|expect\|libtest\) \([^ ]*\) .*/\2/p' "$PLAN" > "$W/planned.txt"
else
    l1_plan_tests "$JOB_TIMEOUT" "$repeat" "$want" "${targs[@]}"
fi
l1_copy_test_support
[ ${#copies[@]} = 0 ] || l1_copy "${copies[@]}"
cc -static -O2 -o "$W/root/lane/kvm-hold" "$ROOT/ci/l1/kvm-hold.c" ||
    lane_fail "cannot build ci/l1/kvm-hold.c statically (apt-get install libc6-dev)"
kallsyms=0
[ -s "$KDIR/kallsyms" ] || kallsyms=1
{
    printf 'LANE=svm\nLANE_HB=5\nLANE_KEEPER=%s\nLANE_KALLSYMS=%s\n' "$SVM_KEEPER" $kallsyms
    printf 'VMM=%q\n' "$VMM_BIN"
    printf 'P=%q\n' "$PROGRAMS"
} > "$W/root/lane/config"
l1_pack 1
t_packed=$(now)
log "$(wc -l < "$W/planned.txt") jobs; initramfs $(du -m "$W/initrd.gz" | cut -f1) MB; L1 kernel $(cat "$KDIR/release"); QEMU TCG thread=$SVM_TCG, keeper VM $([ "$SVM_KEEPER" = 1 ] && echo on || echo off); $(( t_packed - t_start )) s so far"

lane_start() {
    EMU_LOG="$W/qemu.$boot.log"
    rm -f "$W/mon.in" "$W/mon.out"
    mkfifo "$W/mon.in" "$W/mon.out"
    qemu-system-x86_64 -accel "tcg,thread=$SVM_TCG" -cpu max -smp "$SVM_SMP" -m "$SVM_MEM" \
        -kernel "$KDIR/vmlinuz" -initrd "$W/initrd.boot.gz" \
        -append "console=ttyS0 panic=-1 nokaslr rdinit=/init quiet loglevel=4" \
        -display none -no-reboot -nic none -d cpu_reset \
        -chardev "file,id=con,path=$CONSOLE" -serial chardev:con \
        -chardev "file,id=res,path=$RESULTS_RAW" -serial chardev:res \
        -chardev "file,id=ksyms,path=$W/kallsyms.$boot" -serial chardev:ksyms \
        -monitor "pipe:$W/mon" > "$EMU_LOG" 2>&1 &
    EMU_PID=$!
}

# QEMU's monitor (a pair of FIFOs): the kernel function each L1 CPU is in,
# from `info registers -a`, sampled $1 times: "CPU#N SYMBOL[,SYMBOL]; ...".
lane_cpus() {
    local _
    for _ in $(seq 1 "$1"); do
        echo "info registers -a" > "$W/mon.in"
        sleep 1
        timeout 2 cat "$W/mon.out" 2> /dev/null | tee -a "$W/regs.$boot" |
            awk '/^CPU#/ { cpu = $1 } /^RIP=/ { sub(/^RIP=/, "", $1); print cpu, $1 }' || true
    done | while read -r cpu rip; do echo "$cpu $(l1_symbolize <<< "$rip" | cut -d' ' -f2)"; done |
        sort -u | awk '{ s[$1] = s[$1] (s[$1] ? "," : "") $2 } END { for (c in s) printf "%s %s; ", c, s[c] }'
}

# The first boot on a kernel writes its symbols to ttyS2: keep them.
lane_booted() {
    local k=$W/kallsyms.$boot
    if [ ! -s "$KDIR/kallsyms" ] && grep -q '^@@end' "$k" 2> /dev/null; then
        grep -v '^@@end' "$k" | tr -d '\r' | sort > "$KDIR/kallsyms.tmp" && mv "$KDIR/kallsyms.tmp" "$KDIR/kallsyms"
    fi
    rm -f "$k"
}

l1_run
t_end=$(now)
status=0
qemu=$(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')
l1_report "kvm_amd in QEMU $qemu TCG thread=$SVM_TCG, keeper VM $([ "$SVM_KEEPER" = 1 ] && echo on || echo off); L1 $(cat "$KDIR/release"), $SVM_SMP CPUs" || status=1
echo "$LANE_NAME: wall $(( t_end - t_start )) s: build $(( t_built - t_start )) s, initramfs $(( t_packed - t_built )) s, L1 $(( t_end - t_packed )) s in $boot boot(s)"
if [ $status = 0 ]; then echo "$LANE_NAME: PASS"; else echo "$LANE_NAME: FAIL"; fi
exit $status
