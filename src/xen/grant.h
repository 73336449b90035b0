/* SPDX-License-Identifier: GPL-2.0 */
/* Grant tables between domains (grant.c). */
#ifndef _PERSONA_XEN_GRANT_H
#define _PERSONA_XEN_GRANT_H

#include "xen.h"

/* What persona_hcall_grant_table_op() did with the hypercall. */
enum persona_gnt_action {
	PERSONA_GNT_VMM,	/* not ours: exit to the VMM */
	PERSONA_GNT_DONE,	/* answered: the result is in *r */
	PERSONA_GNT_RESTART,	/* preempted: the guest makes it again */
};

enum persona_gnt_action
persona_hcall_grant_table_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			     bool longmode, const u64 *params, u64 *r);
void persona_gnt_memory_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			   bool longmode, const u64 *params);
void persona_gnt_reset(struct persona_xen_vm *pvm);
void persona_gnt_complete(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			  u64 result, bool abandoned);
void persona_gnt_init(struct persona_xen_vm *pvm);
void persona_gnt_teardown(struct persona_xen_vm *pvm);
void persona_gnt_free(struct persona_xen_vm *pvm);

#endif /* _PERSONA_XEN_GRANT_H */
