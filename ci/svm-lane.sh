#!/usr/bin/env bash
# The SVM lane: the whole test suite as L2 on kvm_amd.
#
# Boots Debian's stock kernel (L1) in QEMU with software-emulated AMD SVM (TCG),
# loads kvm_amd, and runs every test binary `cargo test --workspace` builds inside
# it, at the same absolute paths as on the host, so the VMM under test runs on a
# KVM with hardware-virtualization semantics (ring 0 native, the `syscall`
# instruction working, vCPUs truly parallel) and the programs' Linux comparisons
# compare with L1's Linux. Any failed test, crash or timeout fails the lane; the
# summary names them and the failing tests' output follows. docs/hwvirt-lanes.md
# explains the lane, its costs and what it does not cover.
#
#   ci/svm-lane.sh                          # the whole suite
#   ci/svm-lane.sh programs_in_guest sched  # only these test binaries (jobs)
#   ci/svm-lane.sh --repeat 5 programs_in_guest -- reused_frames_are_zeroed
#   ci/svm-lane.sh --list                   # the jobs
#
# Arguments after `--` go to every test binary (libtest: a filter, --exact, ...).
# Environment (defaults in brackets):
#   SVM_TCG       QEMU TCG threading: multi (L2's vCPUs run in parallel) or single [multi]
#   SVM_KEEPER    1: hold an idle VM in L1 for the whole run, so that test VMs
#                 coming and going never patch L1's kernel text (QEMU's
#                 multi-threaded TCG livelocks in that patching) [1]
#   SVM_SMP, SVM_MEM  L1's CPUs and memory [2, 3G]
#   LANE_TIMEOUT  the whole run, every L1 boot included, seconds [840]
#   JOB_TIMEOUT   one test binary, seconds [300]
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

SVM_TCG=${SVM_TCG:-multi}
SVM_KEEPER=${SVM_KEEPER:-1}
SVM_SMP=${SVM_SMP:-2}
SVM_MEM=${SVM_MEM:-3G}
LANE_TIMEOUT=${LANE_TIMEOUT:-840}
JOB_TIMEOUT=${JOB_TIMEOUT:-300}
HB_DEAD=${HB_DEAD:-90}
LANE_BOOTS=${LANE_BOOTS:-3}

repeat=1 list=0 want=() targs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) repeat=$2; shift 2 ;;
        --list) list=1; shift ;;
        --) shift; targs=("$@"); break ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) lane_fail "unknown option $1 (see --help)" ;;
        *) want+=("$1"); shift ;;
    esac
done

t_start=$(now)
deadline=$((t_start + LANE_TIMEOUT))
for t in qemu-system-x86_64:qemu-system-x86 cc:gcc strip:binutils gzip:gzip jq:jq; do
    need "${t%%:*}" "${t#*:}"
done
mkdir -p "$W"
rm -f "$W"/results.* "$W"/console.* "$W"/regs.* "$W"/boots.txt "$W"/failures.txt "$W"/summary.txt

l1_build_tests
t_built=$(now)
if [ $list = 1 ]; then
    cut -f1 <<< "$TESTS"
    exit 0
fi
if [ ${#want[@]} -gt 0 ]; then
    for j in "${want[@]}"; do
        cut -f1 <<< "$TESTS" | grep -qxF "$j" || lane_fail "no test binary named $j (see --list)"
    done
fi

l1_kernel
l1_root kvm-amd ""

# The plan: every test binary (or those named), each its own job.
: > "$W/planned.txt"
: > "$W/lists.tsv"
plan=$W/root/lane/plan
: > "$plan"
while IFS=$'\t' read -r name dir exe; do
    if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qxF "$name"; then continue; fi
    l1_copy "$exe"
    mkdir -p "$W/root$dir"
    tests=$(cd "$dir" && "$exe" --list --format terse "${targs[@]}" 2> /dev/null | sed -n 's/: test$//p') || true
    for r in $(seq 1 "$repeat"); do
        job=$name
        [ "$repeat" = 1 ] || job="$name#$r"
        echo "$job" >> "$W/planned.txt"
        [ -z "$tests" ] || sed "s|^|$job\t|" <<< "$tests" >> "$W/lists.tsv"
        printf 'libtest %q %q %q %q' "$job" "$JOB_TIMEOUT" "$dir" "$exe" >> "$plan"
        for a in "${targs[@]}"; do printf ' %q' "$a" >> "$plan"; done
        echo >> "$plan"
    done
done <<< "$TESTS"
l1_copy "$VMM_BIN"
# shellcheck disable=SC2086
l1_copy $OUT_DIRS
# Host programs the tests run besides the project's: a dynamically linked
# /bin/ls (to check it is refused), util-linux's setpriv and unshare.
for tool in /bin/ls setpriv unshare; do
    p=$(command -v "$tool" || true)
    [ -z "$p" ] || l1_copy "$p"
done
cc -static -O2 -o "$W/root/lane/kvm-hold" "$ROOT/ci/l1/kvm-hold.c" ||
    lane_fail "cannot build ci/l1/kvm-hold.c statically (apt-get install libc6-dev)"
cat > "$W/root/lane/config" << EOF
LANE=svm
LANE_HB=5
LANE_KEEPER=$SVM_KEEPER
EOF
l1_pack 1
t_packed=$(now)
njobs=$(wc -l < "$W/planned.txt")
log "$njobs jobs; initramfs $(du -m "$W/initrd.gz" | cut -f1) MB; L1 kernel $(cat "$KDIR/release"); QEMU TCG thread=$SVM_TCG, keeper VM ${SVM_KEEPER/1/on}; $(( t_packed - t_start )) s so far"

# QEMU's monitor on a pair of FIFOs: `info registers -a` when L1 stops responding.
monitor() {
    echo "$1" > "$W/mon.in"
    sleep 1
    timeout 2 cat "$W/mon.out" 2> /dev/null || true
}

# The kernel functions each L1 CPU is in, sampled $1 times: "cpuN SYMBOL ...".
l1_cpu_symbols() {
    local i
    for i in $(seq 1 "$1"); do
        monitor "info registers -a" | tee -a "$W/regs.$boot" |
            awk '/^CPU#/ { cpu = $1 } /^RIP=/ { sub(/^RIP=/, "", $1); print cpu, $1 }'
    done | while read -r cpu rip; do echo "$cpu $(l1_symbolize <<< "$rip" | cut -d' ' -f2)"; done |
        sort | uniq | awk '{ s[$1] = s[$1] (s[$1] ? "," : "") $2 } END { for (c in s) printf "%s %s; ", c, s[c] }'
}

current_job() {
    awk '/^@@job begin/ { j = $3 } /^@@job end/ { j = "" } END { print j }' "$W/results.$boot"
}

# One L1 boot. Sets outcome (done, error, crashed, timeout, hung, livelock) and detail.
run_boot() {
    local results=$W/results.$boot console=$W/console.$boot qpid tpid hb=0 hb_at c rc
    echo "@@boot $boot" > "$results"
    : > "$console"
    # The jobs earlier boots finished: an extra cpio archive, appended.
    mkdir -p "$W/skip/lane"
    cat "$W"/results.* | sed -n 's/^@@job end \([^ ]*\) .*/\1/p' > "$W/skip/lane/skip"
    (cd "$W/skip" && echo lane/skip | cpio -o -H newc --quiet | gzip -1) | cat "$W/initrd.gz" - > "$W/initrd.boot.gz"
    rm -f "$W/mon.in" "$W/mon.out"
    mkfifo "$W/mon.in" "$W/mon.out"
    qemu-system-x86_64 -accel "tcg,thread=$SVM_TCG" -cpu max -smp "$SVM_SMP" -m "$SVM_MEM" \
        -kernel "$KDIR/vmlinuz" -initrd "$W/initrd.boot.gz" \
        -append "console=ttyS0 panic=-1 nokaslr rdinit=/init quiet loglevel=5" \
        -display none -no-reboot -nic none \
        -chardev "file,id=con,path=$console" -serial chardev:con \
        -chardev "file,id=res,path=$results,append=on" -serial chardev:res \
        -monitor "pipe:$W/mon" > "$W/qemu.$boot.log" 2>&1 &
    qpid=$!
    tail --pid=$qpid -n +1 -F "$console" 2> /dev/null | grep --line-buffered -av '^@@hb' | sed -u 's/^/  L1| /' &
    tpid=$!
    hb_at=$(now)
    outcome=""
    while kill -0 $qpid 2> /dev/null; do
        sleep 2
        c=$(grep -ac '^@@hb' "$console" || true)
        if [ "$c" != "$hb" ]; then hb=$c hb_at=$(now); fi
        if [ "$(now)" -ge "$deadline" ]; then
            outcome=timeout
            detail="the whole-run timeout (LANE_TIMEOUT=$LANE_TIMEOUT s) fired during $(current_job); L1 CPUs in: $(l1_cpu_symbols 1)"
            break
        fi
        if [ $(( $(now) - hb_at )) -ge "$HB_DEAD" ]; then
            local job syms
            job=$(current_job)
            syms=$(l1_cpu_symbols 3)
            # A CPU in the int3 handler or in text patching: the livelock of
            # QEMU's multi-threaded TCG (docs/hwvirt-lanes.md), not a test's doing.
            if grep -qE 'int3|text_poke|kprobe|do_sync_core' <<< "$syms"; then
                outcome=livelock
                detail="L1 livelocked in kernel text patching during ${job:-set-up} (no heartbeat for $HB_DEAD s; L1 CPUs in: $syms)"
            else
                outcome=hung
                detail="L1 stopped responding during ${job:-set-up} (no heartbeat for $HB_DEAD s; L1 CPUs in: $syms)"
            fi
            break
        fi
    done
    if [ -n "$outcome" ]; then
        kill $qpid 2> /dev/null || true
    fi
    rc=0
    wait $qpid || rc=$?
    sleep 0.5
    kill $tpid 2> /dev/null || true
    wait $tpid 2> /dev/null || true
    if [ -n "$outcome" ]; then return; fi
    if grep -q '^@@lane done' "$results"; then
        outcome=done detail=""
    elif grep -q '^@@lane error' "$results"; then
        outcome=error detail=$(sed -n 's/^@@lane error //p' "$results" | head -1)
    else
        outcome=crashed
        detail="L1 ended during $(current_job) without finishing (QEMU exit $rc; console: $console)"
    fi
}

boot=0
: > "$W/boots.txt"
while :; do
    boot=$((boot + 1))
    log "L1 boot $boot"
    t_boot=$(now)
    run_boot
    log "L1 boot $boot: $outcome after $(( $(now) - t_boot )) s${detail:+: $detail}"
    if [ "$outcome" = livelock ] && [ $boot -lt "$LANE_BOOTS" ] && [ $(( deadline - $(now) )) -gt 60 ]; then
        printf '%s\tretried\t%s\n' $boot "$detail" >> "$W/boots.txt"
        continue
    fi
    printf '%s\t%s\t%s\n' $boot "$outcome" "$detail" >> "$W/boots.txt"
    break
done
t_end=$(now)

status=0
l1_report "$W/lists.tsv" "$W/planned.txt" "$W/boots.txt" $(ls "$W"/results.* | sort -t. -k2 -n) || status=1
if [ -s "$W/failures.txt" ]; then
    echo
    echo "$LANE_NAME: output of the jobs that did not pass (also in $W/failures.txt):"
    head -n "${LANE_PRINT_LINES:-3000}" "$W/failures.txt"
fi
echo
echo "$LANE_NAME: SUMMARY (kvm_amd in QEMU $(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') TCG thread=$SVM_TCG, keeper VM ${SVM_KEEPER/1/on}; L1 $(cat "$KDIR/release"), $SVM_SMP CPUs)"
cat "$W/summary.txt"
echo "$LANE_NAME: wall $(( t_end - t_start )) s: build $(( t_built - t_start )) s, initramfs $(( t_packed - t_built )) s, L1 $(( t_end - t_packed )) s in $boot boot(s)"
if [ $status = 0 ]; then echo "$LANE_NAME: PASS"; else echo "$LANE_NAME: FAIL"; fi
exit $status
