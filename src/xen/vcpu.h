/* SPDX-License-Identifier: GPL-2.0 */
/* Per-vCPU personality state (vcpu.c). */
#ifndef _PERSONA_XEN_VCPU_H
#define _PERSONA_XEN_VCPU_H

#include "xen.h"

struct persona_xen_vcpu *persona_vcpu_xen(struct persona_xen_vm *pvm,
					  struct kvm_vcpu *vcpu);

#endif /* _PERSONA_XEN_VCPU_H */
