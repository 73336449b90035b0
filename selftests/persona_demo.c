// SPDX-License-Identifier: GPL-2.0
/*
 * make demo: a small Xen HVM guest on stock KVM, narrated.
 *
 * One VM enables the Xen personality the way QEMU's Xen mode does; its
 * guest writes the hypercall page and makes hypercalls, some answered by
 * kvm-persona in the kernel, others handed to this VMM as KVM_EXIT_XEN.
 * A second VM in the same process never enables Xen and keeps KVM's own
 * hypercall ABI.
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"

#define HCALL_GPA		0xc0000000ULL
#define HCALL_SLOT		10
#define XEN_MSR			0x40000200
#define XEN_VERSION_4_10	0x4000a

#define HYPERVISOR_console_io	18
#define HYPERVISOR_xen_version	17
#define CONSOLEIO_write		0
#define XENVER_version		0
#define XENVER_extraversion	1

#define KVM_ENOSYS		1000

static const char greeting[] = "hello from a Xen HVM guest on stock KVM";
static char extraversion[16];

/* Call hypercall @nr through its stub in the hypercall page. */
static long xen_page_call(unsigned long nr, unsigned long a1,
			  unsigned long a2, unsigned long a3)
{
	long ret;

	asm volatile("call *%[stub]"
		     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3)
		     : [stub] "r"(HCALL_GPA + nr * 32)
		     : "memory", "rcx", "r8", "r9", "r10", "r11");
	return ret;
}

/* The same, with the instruction in the guest's own code. */
static long xen_raw_vmcall(unsigned long nr, unsigned long a1)
{
	long ret;

	asm volatile("vmcall" : "=a"(ret), "+D"(a1) : "a"(nr) : "memory");
	return ret;
}

static void xen_guest(void)
{
	long r;

	wrmsr(XEN_MSR, HCALL_GPA);
	ucall(UCALL_SYNC, 2, 1, 0);

	r = xen_page_call(HYPERVISOR_xen_version, XENVER_version, 0, 0);
	ucall(UCALL_SYNC, 2, 2, r);

	r = xen_page_call(HYPERVISOR_console_io, CONSOLEIO_write,
			  sizeof(greeting) - 1, (unsigned long)greeting);
	ucall(UCALL_SYNC, 2, 3, r);

	r = xen_page_call(HYPERVISOR_xen_version, XENVER_extraversion,
			  (unsigned long)extraversion, 0);
	ucall(UCALL_SYNC, 2, 4, r);

	r = xen_raw_vmcall(HYPERVISOR_xen_version, XENVER_version);
	ucall(UCALL_SYNC, 2, 5, r);

	GUEST_DONE();
}

static void kvm_guest(void)
{
	long r = xen_raw_vmcall(HYPERVISOR_xen_version, XENVER_version);

	ucall(UCALL_SYNC, 2, 1, r);
	GUEST_DONE();
}

static const char *const step_name[] = {
	[1] = "wrmsr 0x40000200: write hypercall page",
	[2] = "xen_version(XENVER_version) via page",
	[3] = "console_io(CONSOLEIO_write) via page",
	[4] = "xen_version(XENVER_extraversion)",
	[5] = "xen_version via raw vmcall",
};

/* Serve the guest's KVM_EXIT_XEN calls as a VMM would. */
static long serve_xen_exit(struct kvm_vm *vm, struct kvm_run *run)
{
	__u64 *p = run->xen.u.hcall.params;
	char *dst;

	switch (run->xen.u.hcall.input) {
	case HYPERVISOR_console_io:
		if (p[0] == CONSOLEIO_write) {
			printf("  | guest console: \"%.*s\"\n", (int)p[1],
			       (char *)addr_gva2hva(vm, p[2]));
			return p[1];
		}
		break;
	case HYPERVISOR_xen_version:
		if (p[0] == XENVER_extraversion) {
			dst = addr_gva2hva(vm, p[1]);
			strcpy(dst, ".0-persona");
			return 0;
		}
		break;
	}
	return -38;	/* Xen's -ENOSYS */
}

static void print_stub(const char *what, const u8 *stub)
{
	int i;

	printf("  %-42s %-28s stub 17:", what, "kvm-persona (kernel)");
	for (i = 0; i < 9; i++)
		printf(" %02x", stub[i]);
	printf("\n");
}

static int run_xen_vm(void)
{
	struct kvm_xen_hvm_config cfg = {
		.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
		.msr = XEN_MSR,
	};
	struct kvm_xen_hvm_attr ver = {
		.type = KVM_XEN_ATTR_TYPE_XEN_VERSION,
		.u.xen_version = XEN_VERSION_4_10,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int exits = 0;
	int failures = 0;
	struct ucall uc;
	u8 *page;

	vm = vm_create_with_one_vcpu(&vcpu, xen_guest);
	vm_ioctl(vm, KVM_XEN_HVM_CONFIG, &cfg);
	vm_ioctl(vm, KVM_XEN_HVM_SET_ATTR, &ver);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, HCALL_GPA,
				    HCALL_SLOT, 1, 0);
	virt_map(vm, HCALL_GPA, HCALL_GPA, 1);
	page = addr_gpa2hva(vm, HCALL_GPA);

	printf("Xen VM: KVM_XEN_HVM_CONFIG msr=%#x INTERCEPT_HCALL, ",
	       XEN_MSR);
	printf("XEN_VERSION=%#x\n", XEN_VERSION_4_10);
	printf("  %-42s %-28s %s\n", "guest step", "handled by", "result");

	for (;;) {
		struct kvm_run *run = vcpu->run;
		long step, val;

		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_XEN) {
			exits++;
			run->xen.u.hcall.result = serve_xen_exit(vm, run);
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			step = uc.args[0];
			val = uc.args[1];
			if (step == 1) {
				print_stub(step_name[step], page + 17 * 32);
			} else {
				printf("  %-42s %-28s %#lx%s\n", step_name[step],
				       exits ? "VMM (KVM_EXIT_XEN)" :
					       "kvm-persona (kernel)",
				       val,
				       step == 4 ? " (extraversion set)" : "");
			}
			if ((step == 2 || step == 5) &&
			    (val != XEN_VERSION_4_10 || exits))
				failures++;
			if ((step == 3 || step == 4) && exits != 1)
				failures++;
			exits = 0;
			break;
		case UCALL_DONE:
			kvm_vm_free(vm);
			return failures;
		default:
			printf("unexpected exit %u\n", run->exit_reason);
			kvm_vm_free(vm);
			return failures + 1;
		}
	}
}

static int run_kvm_vm(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int failures = 0;
	struct ucall uc;

	vm = vm_create_with_one_vcpu(&vcpu, kvm_guest);
	printf("Plain KVM VM (no Xen) in the same process:\n");
	for (;;) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			printf("  %-42s %-28s %ld (-KVM_ENOSYS)\n",
			       "vmcall with RAX=17", "kvm.ko (KVM ABI)",
			       (long)uc.args[1]);
			if ((long)uc.args[1] != -KVM_ENOSYS)
				failures++;
			break;
		case UCALL_DONE:
			kvm_vm_free(vm);
			return failures;
		default:
			kvm_vm_free(vm);
			return failures + 1;
		}
	}
}

int main(void)
{
	int caps = kvm_check_cap(KVM_CAP_XEN_HVM);
	int failures;

	printf("KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM) = %#x\n", caps);
	if (!(caps & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL)) {
		printf("no Xen personality: is kvm-persona loaded?\n");
		return 1;
	}
	failures = run_xen_vm();
	failures += run_kvm_vm();
	printf("%s\n", failures ? "demo: FAILED" :
	       "demo: all steps behaved as expected");
	return failures ? 1 : 0;
}
