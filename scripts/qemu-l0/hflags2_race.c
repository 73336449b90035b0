// SPDX-License-Identifier: GPL-2.0
/*
 * hflags2_race: does another vCPU's FXRSTOR corrupt the SVM state of the
 * first vCPU of the CPU below KVM?
 *
 * A reproducer for the flaw in QEMU's TCG that
 * scripts/qemu-l0/0003-*.patch fixes ("Nested SVM under TCG" in
 * Documentation/testing.rst).  Runs in a test host (L1), on its KVM; the
 * guest is a KVM selftest guest (L2), built against the upstream KVM
 * selftest library like selftests/.
 *
 * QEMU keeps IGNNE# in the first CPU's hflags2, beside the SVM bits that
 * VMRUN and #VMEXIT switch (GIF, NPT, ...), and every vCPU clears it with
 * a plain read-modify-write when it loads an FPU status word (FLDENV,
 * FRSTOR, FXRSTOR, XRSTOR).  A load on one vCPU that overlaps a VMRUN or
 * #VMEXIT on the first one stores back a stale copy of its SVM bits.
 *
 * The guest, on L1's CPU 0 (QEMU's first CPU), exits to KVM N times with
 * CPUID, which KVM handles without leaving the kernel, and counts.  A
 * thread on CPU 1 executes FXRSTOR in a loop meanwhile.  On a correct CPU
 * the guest counts to N and says it is done; the flaw makes it resume at
 * the host's RIP and RSP (a stale nested-paging bit), triple-fault, or
 * takes L1 down.
 *
 * Usage: hflags2_race [-n N] [-q]   (-q: no FXRSTOR thread)
 * Prints one line of counts; exit status 0 when the guest finished, 1
 * when it did not, 4 (KSFT_SKIP) without /dev/kvm.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "repro.h"

static uint64_t n_exits = 2000000;

/* Guest state; the host reads it back at the end. */
static uint64_t g_count;
#define V(x) (*(volatile uint64_t *)&(x))

static void guest_code(void)
{
	uint64_t i;

	for (i = 0; i < n_exits; i++) {
		uint32_t a = 0, b, c = 0, d;

		/* Intercepted by KVM and handled in the kernel: an exit. */
		asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		V(g_count) = i + 1;
	}
	GUEST_DONE();
}

static volatile int stop;

/* Load this thread's own FPU state back, again and again. */
static void *fpu_loader(void *arg)
{
	static uint8_t area[512] __attribute__((aligned(16)));
	uint64_t *loads = arg;

	pin(1);
	asm volatile("fxsave %0" : "=m"(area));
	while (!stop) {
		asm volatile("fxrstor %0" : : "m"(area));
		(*loads)++;
	}
	return NULL;
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	pthread_t thread;
	uint64_t loads = 0;
	struct timespec t0, t1;
	int opt, quiet = 0, ok = 0;

	while ((opt = getopt(argc, argv, "n:q")) != -1) {
		switch (opt) {
		case 'n':
			n_exits = strtoull(optarg, NULL, 0);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-q]\n", argv[0]);
			return 2;
		}
	}

	pin(0);
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	sync_global_to_guest(vm, n_exits);

	if (!quiet)
		pthread_create(&thread, NULL, fpu_loader, &loads);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	vcpu_run(vcpu);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	stop = 1;
	if (!quiet)
		pthread_join(thread, NULL);

	sync_global_from_guest(vm, g_count);
	if (vcpu->run->exit_reason == KVM_EXIT_IO) {
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_DONE:
			ok = g_count == n_exits;
			break;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			break;
		}
	}
	if (!ok) {
		struct kvm_regs regs;

		vcpu_regs_get(vcpu, &regs);
		printf("hflags2_race: guest stopped: exit %u (%s) rip %#llx rsp %#llx\n",
		       vcpu->run->exit_reason,
		       exit_reason_str(vcpu->run->exit_reason),
		       regs.rip, regs.rsp);
	}
	printf("hflags2_race: %s exits %lu of %lu fxrstor %lu seconds %.1f\n",
	       ok ? "ok" : "FAILED", g_count, n_exits, loads,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	kvm_vm_free(vm);
	return ok ? 0 : 1;
}
