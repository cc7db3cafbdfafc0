# #! scripts the shell runs: the kernel starts the interpreter named on the
# first line (Linux fs/binfmt_script.c) with its one optional argument, the
# script's path as the shell passed it, then the arguments. busybox itself
# as `echo` shows the argv; as `sh`, $0 and the arguments; the argument is
# one string with its spaces (busybox has no applet "echo one  arg"); a
# missing interpreter is the shell's "not found". (A line the kernel refuses,
# ENOEXEC, busybox runs as a script by execing /proc/self/exe: no /proc here
# yet, so that case is in the `shebang` program instead.)
d=/tmp/shebang-sh
busybox mkdir $d
cd $d
printf '#!/bin/busybox echo\n' > echo1
printf '#!/bin/busybox echo one  arg \n' > onearg
printf '#!/bin/busybox sh\necho "sh: 0=$0 1=$1 2=$2 n=$#"\nexit 3\n' > sh1
printf '#!/tmp/nothere\necho unreachable\n' > missing
printf '#!%s/sh1 nested\n' $d > nested
busybox chmod +x echo1 onearg sh1 missing nested
./echo1 a "b c"
./sh1 x "y z"
echo "status $?"
$d/echo1
./onearg
echo "status $?"
./missing 2>/dev/null
echo "missing interpreter: status $?"
./nested q
cd /
busybox rm -r $d
