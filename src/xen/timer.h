/* SPDX-License-Identifier: GPL-2.0 */
/* The Xen singleshot timer (timer.c). */
#ifndef _PERSONA_XEN_TIMER_H
#define _PERSONA_XEN_TIMER_H

#include "xen.h"

void persona_timer_init(struct persona_xen_vcpu *vx);
int persona_timer_attr_set(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			   const struct kvm_xen_vcpu_attr *data);
void persona_timer_attr_get(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			    struct kvm_xen_vcpu_attr *data);
bool persona_hcall_vcpu_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			   bool longmode, int cmd, int vcpu_id, u64 param,
			   u64 *r);
bool persona_hcall_set_timer_op(struct persona_xen_vm *pvm,
				struct kvm_vcpu *vcpu, u64 timeout, u64 *r);
bool persona_timer_pending(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
void persona_timer_inject(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
void persona_timer_stop(struct kvm_vcpu *vcpu);

#endif /* _PERSONA_XEN_TIMER_H */
