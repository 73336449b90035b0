/* SPDX-License-Identifier: GPL-2.0 */
/* 2-level event channels, ports, SCHEDOP_poll (evtchn.c). */
#ifndef _PERSONA_XEN_EVTCHN_H
#define _PERSONA_XEN_EVTCHN_H

#include <linux/list.h>
#include <linux/timer.h>
#include "xen.h"

struct seq_file;

int persona_evtchn_set(struct persona_xen_vm *pvm, struct kvm_xen_evtchn *xe);
int persona_evtchn_set_fast(struct persona_xen_vm *pvm,
			    struct kvm_xen_evtchn *xe);
int persona_evtchn_send_ioctl(struct persona_xen_vm *pvm,
			      const struct kvm_irq_routing_xen_evtchn *uxe);
int persona_evtchn_attr_set(struct persona_xen_vm *pvm,
			    const struct kvm_xen_hvm_attr *data,
			    struct list_head *doomed);
void persona_evtchn_free_doomed(struct persona_xen_vm *pvm,
				struct list_head *doomed);
void persona_evtchn_ports_free(struct persona_xen_vm *pvm);
int persona_evtchn_route_check(const struct kvm_irq_routing_entry *ue);
int persona_evtchn_setup_route(struct persona_xen_vm *pvm,
			       struct kvm_kernel_irq_routing_entry *e,
			       const struct kvm_irq_routing_entry *ue);
bool persona_evtchn_send_port(struct persona_xen_vm *pvm, u32 port, u64 *r);
bool persona_hcall_sched_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			    bool longmode, int cmd, u64 param, u64 *r);
bool persona_evtchn_has_deferred(struct persona_xen_vm *pvm,
				 struct kvm_vcpu *vcpu);
void persona_evtchn_inject_deferred(struct persona_xen_vm *pvm,
				    struct kvm_vcpu *vcpu);
void persona_poll_timer_fn(struct timer_list *t);
unsigned int persona_evtchn_max_port(struct persona_xen_vm *pvm);
void persona_evtchn_ports_show(struct persona_xen_vm *pvm, struct seq_file *m);

#endif /* _PERSONA_XEN_EVTCHN_H */
