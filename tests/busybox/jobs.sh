# Background jobs and `wait`: statuses by pid, waiting for all, pids of jobs
# and their order, a job killed by a signal, orphans reaped by pid 1.
d=/tmp/jobs.$$
busybox mkdir -p $d
busybox sleep 0.2 & a=$!
( exit 7 ) & b=$!
busybox sh -c 'exit 9' & c=$!
wait $b; echo "( exit 7 ) &: $?"
wait $c; echo "sh -c 'exit 9' &: $?"
wait $a; echo "sleep &: $?"
[ $a -gt $$ ] && [ $b -gt $a ] && [ $c -gt $b ] && echo "job pids increase from the shell's"
for i in 1 2 3 4 5 6; do
    ( echo "job $i" > $d/$i ) &
done
wait
echo "all waited: $?"
busybox cat $d/1 $d/2 $d/3 $d/4 $d/5 $d/6
# The shell reports a job killed by a signal ("Terminated", "Killed") on
# stderr or not, depending on when it notices the death (the SVM lane once
# had Linux's "Terminated" missing): the statuses are compared, not that.
busybox sleep 5 & s=$!
{ kill $s; wait $s; } 2>/dev/null; echo "killed sleep: $?"
busybox sleep 5 & s=$!
{ kill -9 $s; wait $s; } 2>/dev/null; echo "SIGKILLed sleep: $?"
# A grandchild outlives its parent: reparented and reaped, never waited here.
busybox sh -c 'busybox sleep 0.1 & echo parent done'
busybox sleep 0.3
wait; echo "nothing left: $?"
busybox rm -r $d
