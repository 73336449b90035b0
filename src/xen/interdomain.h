/* SPDX-License-Identifier: GPL-2.0 */
/* Event channels between two domains, i.e. two VMs (interdomain.c). */
#ifndef _PERSONA_XEN_INTERDOMAIN_H
#define _PERSONA_XEN_INTERDOMAIN_H

#include "xen.h"

struct seq_file;

bool persona_hcall_evtchn_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			     u64 *params, u64 *r);
u64 persona_idc_complete(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			 u64 result, bool abandoned);
void persona_idc_reset(struct persona_xen_vm *pvm);
void persona_idc_vm_teardown(struct persona_xen_vm *pvm);
void persona_idc_ports_show(struct persona_xen_vm *pvm, struct seq_file *m);

#endif /* _PERSONA_XEN_INTERDOMAIN_H */
