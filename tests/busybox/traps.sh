# trap and kill: handlers run for signals sent to the shell, ignored signals,
# the EXIT trap, signals to children, kill -0, and exit statuses by signal.
trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after USR1"
trap 'echo "got USR2"; n=$((n + 1))' USR2
n=0
kill -USR2 $$; kill -USR2 $$; kill -USR2 $$
echo "USR2 handled $n times"
trap - USR1
trap '' TERM
kill -TERM $$
echo "survived an ignored TERM"
trap - TERM
kill -0 $$ && echo "kill -0: the shell exists"
busybox sh -c 'kill -0 99999' 2>/dev/null || echo "kill -0 of no process fails"
busybox sh -c 'trap "echo child got INT; exit 4" INT; kill -INT $$; busybox sleep 5'
echo "child's INT handler exited: $?"
busybox sh -c 'kill -TERM $$; echo not reached'
echo "child killed by TERM: $?"
busybox sh -c 'kill -KILL $$'
echo "child killed by KILL: $?"
busybox sleep 5 &
p=$!
# The shell reports the job killed by HUP on stderr when its death comes
# during the `wait` (a slow host), not when it came before: not compared.
kill -HUP $p; wait $p 2>/dev/null; echo "sleep killed by HUP: $?"
trap 'echo "EXIT trap runs last"' EXIT
echo "end of script"
