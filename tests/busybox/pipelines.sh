# Pipelines: several stages, the status of the last one, `!`, pipefail, and a
# writer that outlives its reader (SIGPIPE).
busybox seq 1 20 | busybox grep 1 | busybox wc -l
echo "hello world" | busybox tr a-z A-Z | busybox sed 's/WORLD/THERE/'
busybox seq 1 5 | busybox sort -r | busybox head -n 3 | busybox tr '\n' ' '
echo
printf 'banana\napple\ncherry\n' | busybox sort | busybox cat -n
false | true; echo "false | true: $?"
true | false; echo "true | false: $?"
! false; echo "! false: $?"
! true; echo "! true: $?"
set -o pipefail
false | true; echo "pipefail, false | true: $?"
busybox sh -c 'exit 3' | busybox sh -c 'exit 0'; echo "pipefail, 3 | 0: $?"
set +o pipefail
echo "first of many: $(busybox seq 1 100000 | busybox head -n 1)"
busybox seq 1 100000 | busybox head -n 2
echo "bytes through 4 stages: $(busybox seq 1 30000 | busybox cat | busybox cat | busybox wc -c)"
x=0
busybox seq 1 3 | while read n; do x=$((x + n)); echo "in the loop: $x"; done
echo "the loop ran in a subshell: x=$x"
