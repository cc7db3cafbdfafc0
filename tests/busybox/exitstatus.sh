# Exit statuses: of commands, of failures to run them, of signals, and of
# the script itself (the VM's exit status is pid 1's).
busybox true; echo "true: $?"
busybox false; echo "false: $?"
busybox sh -c 'exit 300'; echo "exit 300: $?"
busybox sh -c 'exit -1' 2>/dev/null; echo "exit -1: $?"
nosuchcommand 2>/dev/null; echo "not found: $?"
d=/tmp/exit.$$
busybox mkdir $d
echo 'echo hi' > $d/noexec
$d/noexec 2>/dev/null; echo "not executable: $?"
busybox chmod +x $d/noexec
busybox sh $d/noexec; echo "run with sh: $?"
busybox sh -c 'kill -9 $$'; echo "killed: $?"
busybox sh -c 'busybox sh -c "exit 17"; exit $?'; echo "propagated: $?"
busybox test 1 -lt 2; echo "test 1 -lt 2: $?"
busybox test 2 -lt 1; echo "test 2 -lt 1: $?"
busybox grep -q nothing /dev/null; echo "grep without a match: $?"
busybox rm -r $d
exit 5
