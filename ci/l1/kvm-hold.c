/*
 * kvm-hold: keep one idle VM alive in L1 for the whole SVM lane run.
 *
 * L1's KVM patches kernel text (static keys, through int3-based text_poke)
 * when the number of VMs goes 0 -> 1 or 1 -> 0 (preempt_notifier_key, used in
 * __schedule) and when the number of vCPUs whose local APIC is software-disabled
 * does (apic_sw_disabled, a deferred key in kvm.ko). QEMU 7.2's multi-threaded
 * TCG sometimes livelocks L1 in that patching (docs/hwvirt-lanes.md). Holding
 * one VM with one vCPU that never runs (its APIC stays software-disabled) keeps
 * both counts above zero, so test VMs coming and going patch nothing.
 *
 * Prints "kvm-hold: holding" once the VM and vCPU exist, then sleeps until
 * killed. Exit status 1 with a message if KVM refuses.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm-hold: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvm-hold: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		fprintf(stderr, "kvm-hold: KVM_CREATE_IRQCHIP: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
		fprintf(stderr, "kvm-hold: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 1;
	}
	printf("kvm-hold: holding\n");
	fflush(stdout);
	for (;;)
		pause();
}
