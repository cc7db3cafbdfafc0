#!/usr/bin/env bash
# Checks ci/lib/report.awk, the lanes' judge, on made-up L1 results: a passing
# job passes; a user program's fault logged by L1 ("traps: NAME[PID] ...") is
# not a kernel failure; a kernel fault, a failed test and a job that never ran
# each fail the report. Run by .ci/run before the lanes.
set -euo pipefail
AWK=$(cd "$(dirname "$0")" && pwd)/report.awk
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
failed=0

# expect NAME WANT_RC: runs the report on lists.tsv planned.txt boots.txt results.1
expect() {
    local rc=0
    awk -v failures="$T/failures.txt" -f "$AWK" lists.tsv planned.txt boots.txt results.1 > out.txt || rc=$?
    if [ "$rc" != "$2" ]; then
        echo "report-test: $1: report exit $rc, expected $2; it said:"
        cat out.txt
        failed=1
    fi
}

printf 'signals\tcatches_segv\n' > lists.tsv
printf 'signals\n' > planned.txt
printf '1\tdone\t\n' > boots.txt
pass='@@job begin signals\ntest catches_segv ... ok\n@@job end signals status=pass rc=0 secs=2.2\n'

printf "$pass" > results.1
expect "a passing job" 0

printf "$pass"'@@dmesg [ 60.8] traps: signals[1232] general protection fault ip:8000000000000000 sp:7ffd error:0\n' > results.1
expect "a user program's fault logged by L1" 0

printf "$pass"'@@dmesg [ 1.0] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP\n' > results.1
expect "a kernel general protection fault" 1

printf "$pass"'@@dmesg [ 1.0] WARNING: CPU: 0 PID: 1 at arch/x86/kvm/x86.c:1 kvm_foo\n' > results.1
expect "a kernel WARNING" 1

printf '@@job begin signals\ntest catches_segv ... FAILED\n@@job end signals status=fail rc=101 secs=2.2\n' > results.1
expect "a failed test" 1

: > results.1
expect "a job that never ran" 1

[ $failed = 0 ] && echo "report-test: ok (6 cases)"
exit $failed
