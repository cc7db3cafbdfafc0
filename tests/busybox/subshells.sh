# Subshells: their variables, directory and exit status stay theirs;
# command substitution, nesting, brace groups and $$.
v=outer
( v=inner; echo "in the subshell: $v" )
echo "after it: $v"
( cd /tmp && pwd )
pwd
( exit 3 ); echo "( exit 3 ): $?"
{ echo "brace group"; false; }; echo "{ false; }: $?"
echo "nested: $(echo "a$(echo "b$(echo c)")")"
echo "depth: $( ( ( echo three ) ) )"
outer=$$
[ "$(echo $$)" = "$outer" ] && echo "\$\$ in a command substitution is the shell's"
( [ "$$" = "$outer" ] && echo "\$\$ in a subshell is the shell's" )
[ "$(busybox sh -c 'echo $$')" -gt "$outer" ] && echo "a new shell has a larger pid"
r=$( (echo out; echo err >&2) 2>&1 )
echo "captured both:" $r
( set -e; false; echo "not reached" ); echo "set -e subshell: $?"
n=$(busybox sh -c 'exit 42'; echo $?)
echo "status inside \$(...): $n"
f() { local x=$1; echo "f got $x"; return $(( x + 1 )); }
f 4; echo "f returned $?"
echo "$(f 9)"
