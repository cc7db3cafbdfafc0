# procfs as busybox's process tools read it: ps, top, pidof, mount, and the
# files themselves (/proc/self, PID/comm, PID/cmdline, PID/stat).
busybox sleep 1000 &
pid=$!
until [ "$(busybox cut -d' ' -f3 /proc/$pid/stat)" = S ]; do :; done
busybox ps -o pid,ppid,stat,comm | busybox awk -v p=$pid -v me=$$ \
    '$1 == p { print "ps:", ($2 == me ? "child of the shell" : "ppid " $2), $3, $4 }'
busybox ps | busybox awk -v p=$pid '$1 == p { print "ps:", $3, $4, $5 }'
case "$(busybox readlink /proc/self)" in
'' | *[!0-9]*) echo "/proc/self: not a pid" ;;
*) echo "/proc/self: a pid" ;;
esac
echo "comm: $(busybox cat /proc/$pid/comm)"
echo "cmdline: $(busybox tr '\0' ' ' < /proc/$pid/cmdline)"
busybox cut -d' ' -f2,3 /proc/$pid/stat
busybox awk '$1 == "State:" || $1 == "Threads:" || $1 == "Umask:" { print }' /proc/$pid/status
busybox pidof busybox | busybox tr ' ' '\n' | busybox grep -qx $pid && echo "pidof finds it"
busybox top -b -n 1 | busybox awk -v p=$pid '$1 == p { print "top:", $4, $NF }'
busybox top -b -n 1 | busybox awk 'NR <= 3 { print $1, $2 == "" ? "" : "..." }'
echo "proc mounted: $(busybox mount | busybox grep -c '^proc on /proc type proc ')"
[ "$(busybox ls /proc/$pid/task)" = "$pid" ] && echo "task: its one thread"
echo "self task: $(busybox ls /proc/self/task | busybox wc -l)"
# The shell may report the killed job ("Terminated") on stderr, or not,
# depending on when it notices the death: not part of what is compared.
exec 2>/dev/null
kill $pid
wait $pid
echo "killed: $?"
[ -d /proc/$pid ] || echo "gone once reaped"
