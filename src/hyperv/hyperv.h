/* SPDX-License-Identifier: GPL-2.0 */
/* Coexistence with kvm.ko's own Hyper-V emulation (hyperv.c). */
#ifndef _PERSONA_HYPERV_H
#define _PERSONA_HYPERV_H

#include <linux/kvm_host.h>

bool persona_hv_claims_hypercall(struct kvm_vcpu *vcpu);
void persona_hv_hypercall_msr_written(struct kvm_vcpu *vcpu, u64 data);

#endif /* _PERSONA_HYPERV_H */
