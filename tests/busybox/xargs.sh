# xargs fan-out: -P parallel processes, -n batches, the exit status when a
# command fails, and output collected through files and sorted.
busybox seq 1 20 | busybox xargs -P 4 -n 1 busybox sh -c 'echo $(( $1 * $1 ))' sh |
    busybox sort -n | busybox tr '\n' ' '
echo
busybox seq 1 12 | busybox xargs -n 5 echo batch
d=/tmp/xargs.$$
busybox mkdir $d
busybox seq 1 16 | busybox xargs -P 8 -I N busybox sh -c 'echo N > '$d'/N'
busybox ls $d | busybox sort -n | busybox tr '\n' ' '
echo
echo "files: $(busybox cat $d/* | busybox wc -l)"
busybox seq 1 6 | busybox xargs -P 3 -n 1 busybox sh -c '[ "$1" != 4 ]' sh
echo "xargs with one failing command: $?"
busybox seq 1 3 | busybox xargs -P 2 -n 1 busybox sh -c 'exit 255' sh 2>/dev/null
echo "xargs with a command exiting 255: $?"
echo a b c | busybox xargs -n 1 busybox false
echo "xargs false: $?"
busybox rm -r $d
