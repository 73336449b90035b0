// SPDX-License-Identifier: GPL-2.0
/*
 * hold_xen_vm: helper for run.sh.
 *
 *   hold_xen_vm          create a Xen VM whose vCPU has filled the
 *                        hypercall page and stopped in KVM_EXIT_XEN, print
 *                        "READY" on stdout, then sleep until killed
 *   hold_xen_vm --caps   print KVM_CAP_XEN_HVM (in hex) and exit
 *
 * Exit status: 4 (KSFT_SKIP) without KVM_CAP_XEN_HVM interception,
 * nonzero on any other failure.
 */
#include <signal.h>
#include <stdio.h>

#include "persona_util.h"

static void guest_code(void)
{
	struct hcall_regs r;

	wrmsr(XEN_HCALL_MSR, HCALL_REGION_GPA);
	hcall_regs_fill(&r, 0, 1);
	guest_call_stub(HCALL_REGION_GPA + XEN_HC_xen_version * XEN_STUB_SIZE,
			&r);
	GUEST_DONE();
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int caps;

	caps = kvm_check_cap(KVM_CAP_XEN_HVM);
	if (argc > 1 && !strcmp(argv[1], "--caps")) {
		printf("%#x\n", caps);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--caps]\n", argv[0]);
		return 2;
	}
	if (!(caps & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL)) {
		printf("SKIP: KVM_CAP_XEN_HVM is %#x\n", caps);
		return KSFT_SKIP;
	}

	vm = guest_create(&vcpu, guest_code);
	guest_map_hcall_region(vm);
	TEST_ASSERT(!xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR),
		    "KVM_XEN_HVM_CONFIG: %s", strerror(errno));
	TEST_ASSERT(!xen_set_version(vm, 0x0004000a),
		    "KVM_XEN_HVM_SET_ATTR: %s", strerror(errno));

	vcpu_run(vcpu);
	TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_XEN,
		    "expected KVM_EXIT_XEN, got exit %u (%s)",
		    vcpu->run->exit_reason,
		    exit_reason_str(vcpu->run->exit_reason));

	printf("READY\n");
	fflush(stdout);

	for (;;)
		pause();
	return 0;
}
