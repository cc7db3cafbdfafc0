# Redirections to files in /tmp: >, >>, <, 2>, 2>&1, numbered descriptors,
# noclobber, and what the files hold afterwards.
d=/tmp/redir.$$
busybox mkdir $d
echo first > $d/f
echo second >> $d/f
busybox cat < $d/f
busybox wc -l < $d/f
busybox ls /nonexistent 2> $d/err
echo "ls status $?, error lines: $(busybox wc -l < $d/err)"
{ echo out; echo err >&2; } > $d/both 2>&1
busybox sort $d/both
exec 3> $d/fd3
echo "via fd 3" >&3
echo "again" >&3
exec 3>&-
busybox cat $d/fd3
exec 4< $d/f
read line <&4
echo "read from fd 4: $line"
read line <&4
echo "then: $line"
exec 4<&-
: > $d/empty
[ -s $d/empty ] || echo "truncated to empty"
set -C
( echo clobber > $d/f ) 2>/dev/null || echo "noclobber refused"
echo clobber >| $d/f
set +C
busybox cat $d/f
busybox seq 1 1000 > $d/big
echo "big: $(busybox wc -c < $d/big) bytes, sum $(busybox awk '{ s += $1 } END { print s }' $d/big)"
busybox cp $d/big $d/copy && busybox cmp $d/big $d/copy && echo "cp and cmp agree"
busybox ls $d | busybox tr '\n' ' '
echo
busybox rm -r $d
[ -e $d ] || echo "removed"
