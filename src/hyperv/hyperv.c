// SPDX-License-Identifier: GPL-2.0
/*
 * Hyper-V personality.  kvm.ko's own Hyper-V emulation serves the
 * synthetic MSRs and hypercalls; this file makes it coexist with the Xen
 * personality on one VM, as Xen itself does for Viridian guests.
 */
#include <linux/kvm_host.h>
#include <asm/hyperv-tlfs.h>

#include "hyperv.h"
#include "../kvm/boundary.h"

/* Hyper-V hypercalls made through the Xen-aware page set EAX bit 31. */
#define PERSONA_HV_HCALL_BIT	0x80000000ul

bool persona_hv_claims_hypercall(struct kvm_vcpu *vcpu)
{
	return (persona_kvm_reg_read(vcpu, PERSONA_RAX) &
		PERSONA_HV_HCALL_BIT) &&
	       persona_kvm_hv_hypercall_enabled(vcpu);
}

/*
 * kvm.ko has just written the Hyper-V hypercall page ("vmcall; ret").
 * The caller has Xen interception on, with which a bare vmcall would be
 * taken for a Xen hypercall, so prefix it with "orl $0x80000000, %eax": bit 31 is reserved
 * in the 32-bit Hyper-V ABI and unused in the 64-bit one.
 */
void persona_hv_hypercall_msr_written(struct kvm_vcpu *vcpu, u64 data)
{
	static const u8 orl_bit31[] = { 0x0d, 0x00, 0x00, 0x00, 0x80 };
	u8 insn[sizeof(orl_bit31) + 4];
	u64 gpa;

	if (!(data & HV_X64_MSR_HYPERCALL_ENABLE))
		return;
	/* kvm.ko ignores the write until the guest OS ID is set. */
	if (persona_kvm_hv_hypercall_msr(vcpu) != data)
		return;

	memcpy(insn, orl_bit31, sizeof(orl_bit31));
	persona_kvm_patch_hypercall(vcpu, insn + sizeof(orl_bit31));
	insn[sizeof(orl_bit31) + 3] = 0xc3;

	gpa = data & HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_MASK;
	if (kvm_vcpu_write_guest(vcpu, gpa, insn, sizeof(insn)))
		pr_debug("cannot rewrite Hyper-V hypercall page at %#llx\n",
			 gpa);
}
