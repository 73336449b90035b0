/* SPDX-License-Identifier: GPL-2.0 */
/* shared_info, vcpu_info, pvclock, runstate (shinfo.c). */
#ifndef _PERSONA_XEN_SHINFO_H
#define _PERSONA_XEN_SHINFO_H

#include "xen.h"

int persona_shinfo_set(struct persona_xen_vm *pvm, u64 addr, bool by_hva);
u64 persona_shinfo_gfn(struct persona_xen_vm *pvm);
unsigned long persona_shinfo_hva(struct persona_xen_vm *pvm);
int persona_shinfo_set_long_mode(struct persona_xen_vm *pvm, bool lm);
int persona_vcpu_attr_set(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			  struct kvm_xen_vcpu_attr *data);
int persona_vcpu_attr_get(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			  struct kvm_xen_vcpu_attr *data);
int persona_vcpu_attr_get_fresh(struct kvm_vcpu *vcpu,
				struct kvm_xen_vcpu_attr *data);
void persona_runstate_load(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
void persona_runstate_put(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
void persona_runstate_sync(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
bool persona_upcall_pending(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			    bool may_sleep);
void persona_upcall_recheck(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
bool persona_upcall_stale(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
void persona_upcall_catch_up(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);
void persona_pvclock_update(struct persona_xen_vm *pvm,
			    struct persona_xen_vcpu *vx,
			    const struct pvclock_vcpu_time_info *clock);
void persona_vcpu_xen_teardown(struct kvm_vcpu *vcpu);
void persona_shinfo_mm_release(struct persona_xen_vm *pvm);

#endif /* _PERSONA_XEN_SHINFO_H */
