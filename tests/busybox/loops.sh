# Loops with command substitution: for over $(...), while read, until, case,
# arithmetic, and functions called in loops.
s=0
for i in $(busybox seq 1 10); do
    s=$((s + $(echo $i)))
done
echo "sum 1..10: $s"
for w in $(echo "alpha beta gamma" | busybox tr a-z A-Z); do
    printf '%s:%d ' "$w" "$(printf %s "$w" | busybox wc -c)"
done
echo
i=0
while [ $i -lt 5 ]; do
    i=$((i + 1))
    [ $i -eq 3 ] && continue
    echo "while $i: $(busybox expr $i \* 11)"
done
until [ $i -le 0 ]; do i=$((i - 2)); done
echo "until: $i"
count() { busybox seq 1 "$1" | busybox wc -l; }
for n in 1 10 100 1000; do
    echo "count $n = $(count $n)"
done
for f in a.txt b.sh c; do
    case $f in
        *.txt) echo "$f: text" ;;
        *.sh) echo "$f: script" ;;
        *) echo "$f: other" ;;
    esac
done
busybox seq 1 5 | while read n; do
    echo "$n squared is $((n * n)) and in hex $(printf %x $((n * n)))"
done
j=0
for a in 1 2 3; do
    for b in 1 2 3; do
        [ $b -gt $a ] && break
        j=$((j + a * b))
    done
done
echo "nested with break: $j"
