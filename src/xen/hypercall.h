/* SPDX-License-Identifier: GPL-2.0 */
/* Hypercall page and dispatch (hypercall.c). */
#ifndef _PERSONA_XEN_HYPERCALL_H
#define _PERSONA_XEN_HYPERCALL_H

#include "xen.h"

int persona_xen_write_hypercall_page(struct persona_xen_vm *pvm,
				     struct kvm_vcpu *vcpu, u64 data);
int persona_xen_hypercall(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu);

#endif /* _PERSONA_XEN_HYPERCALL_H */
