# The script that crashed the kernel in issue 10 (kvm_amd, 2 vCPUs: a #GP in
# the idle loop after "sub 3"): a loop of pipelines, a subshell, then a
# background job waited for by its pid.
for i in 1 2 3; do
    echo "pipe $i" | busybox cat | busybox wc -c
done
( echo "sub 3" )
busybox true & wait $!
echo "waited: status $?"
