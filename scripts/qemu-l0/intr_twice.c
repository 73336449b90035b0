// SPDX-License-Identifier: GPL-2.0
/*
 * intr_twice: does the CPU below KVM deliver an injected interrupt twice?
 *
 * A reproducer for the flaw in QEMU's TCG emulation of SVM that
 * scripts/qemu-l0/0001-*.patch fixes ("Nested SVM under TCG" in
 * Documentation/testing.rst).  Runs in a test host (L1), on its KVM; the
 * guest is a KVM selftest guest (L2), built against the upstream KVM
 * selftest library like selftests/.
 *
 * The guest sends itself N fixed interrupts with its x2APIC, one at a
 * time.  KVM injects each with VMRUN's EVENTINJ.  The handler runs, as
 * any interrupt gate does, with IF=0; it spins for a while, then EOIs.
 * On a correct CPU every interrupt is delivered exactly once and never
 * inside its own handler.  Counted: deliveries, and entries into the
 * handler while it was already running (a delivery at IF=0).
 *
 * The window for the flaw opens at each injection and stays open until
 * the CPU below takes an exception, an interrupt or a #VMEXIT; what turns
 * it into a second delivery is the L0 vCPU thread being asked to leave
 * its execution loop meanwhile (a kick without an interrupt for it, e.g.
 * TCG's cross-vCPU TLB/memory-map updates).  With -p, a second thread on
 * another L1 CPU provokes such kicks: it toggles the memory-decode bit of
 * a PCI device's command register (a memory map update in L0).
 *
 * Usage: intr_twice [-n N] [-s SPIN] [-p /sys/bus/pci/devices/D/config]
 * Prints one line of counts; exit status 0 when no interrupt was
 * delivered twice, 1 when one was, 4 (KSFT_SKIP) without /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "repro.h"
#include "apic.h"

#define VECTOR 0xec		/* Linux's LOCAL_TIMER_VECTOR, for what it is worth */

static uint64_t n_intr = 2000;
static uint64_t spin = 200000;

/* Guest state; the host reads it back at the end. */
static uint64_t g_sent, g_delivered, g_nested, g_max_depth, g_depth;
#define V(x) (*(volatile uint64_t *)&(x))

static void guest_handler(struct ex_regs *regs)
{
	uint64_t i, d = ++V(g_depth);

	if (d > 1)
		V(g_nested)++;
	if (d > V(g_max_depth))
		V(g_max_depth) = d;
	V(g_delivered)++;
	/* A window with IF=0, no exception and no exit. */
	for (i = 0; i < spin; i++)
		asm volatile("" ::: "memory");
	V(g_depth)--;
	x2apic_write_reg(APIC_EOI, 0);
}

static void guest_code(void)
{
	uint64_t i;

	x2apic_enable();
	for (i = 0; i < n_intr; i++) {
		asm volatile("cli");
		x2apic_write_reg(APIC_ICR, APIC_DEST_SELF | APIC_INT_ASSERT |
				 APIC_DM_FIXED | VECTOR);
		V(g_sent)++;
		/* KVM injects it at the interrupt window that sti opens. */
		asm volatile("sti; nop");
		while (V(g_delivered) < V(g_sent))
			asm volatile("" ::: "memory");
	}
	GUEST_DONE();
}

static volatile int stop;
static const char *pci_config;

/* Toggle PCI_COMMAND_MEMORY of one device until told to stop. */
static void *kicker(void *arg)
{
	uint64_t *toggles = arg;
	uint16_t cmd;
	int fd;

	pin(1);
	fd = open(pci_config, O_RDWR);
	TEST_ASSERT(fd >= 0, "open %s: %s", pci_config, strerror(errno));
	TEST_ASSERT(pread(fd, &cmd, 2, 4) == 2, "read PCI_COMMAND");
	while (!stop) {
		uint16_t off = cmd & ~2, on = cmd | 2;

		TEST_ASSERT(pwrite(fd, &off, 2, 4) == 2, "write PCI_COMMAND");
		TEST_ASSERT(pwrite(fd, &on, 2, 4) == 2, "write PCI_COMMAND");
		(*toggles)++;
	}
	TEST_ASSERT(pwrite(fd, &cmd, 2, 4) == 2, "restore PCI_COMMAND");
	close(fd);
	return NULL;
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	pthread_t thread;
	uint64_t toggles = 0;
	struct timespec t0, t1;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:p:")) != -1) {
		switch (opt) {
		case 'n':
			n_intr = strtoull(optarg, NULL, 0);
			break;
		case 's':
			spin = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			pci_config = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-s SPIN] [-p PCI-CONFIG]\n",
				argv[0]);
			return 2;
		}
	}

	pin(0);
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	vm_init_descriptor_tables(vm);
	vcpu_init_descriptor_tables(vcpu);
	vm_install_exception_handler(vm, VECTOR, guest_handler);
	sync_global_to_guest(vm, n_intr);
	sync_global_to_guest(vm, spin);

	if (pci_config)
		pthread_create(&thread, NULL, kicker, &toggles);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		vcpu_run(vcpu);
		TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_IO,
			    "unexpected exit %u (%s)", vcpu->run->exit_reason,
			    exit_reason_str(vcpu->run->exit_reason));
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_DONE:
			goto done;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
done:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	stop = 1;
	if (pci_config)
		pthread_join(thread, NULL);

	sync_global_from_guest(vm, g_sent);
	sync_global_from_guest(vm, g_delivered);
	sync_global_from_guest(vm, g_nested);
	sync_global_from_guest(vm, g_max_depth);
	printf("intr_twice: sent %lu delivered %lu extra %lu nested-at-IF=0 %lu max-depth %lu spin %lu kicker-toggles %lu seconds %.1f\n",
	       g_sent, g_delivered, g_delivered - g_sent, g_nested,
	       g_max_depth, spin, toggles,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	kvm_vm_free(vm);
	return g_delivered != g_sent || g_nested ? 1 : 0;
}
