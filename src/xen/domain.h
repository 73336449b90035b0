/* SPDX-License-Identifier: GPL-2.0 */
/* Xen domain IDs of the VMs on this host (domain.c). */
#ifndef _PERSONA_XEN_DOMAIN_H
#define _PERSONA_XEN_DOMAIN_H

#include <linux/mutex.h>
#include "xen.h"

/*
 * Serialises the registry of domain IDs and every link between two
 * domains (interdomain.c): Documentation/locking.rst.
 */
extern struct mutex persona_domain_mutex;
extern struct workqueue_struct *persona_wq;

int persona_domain_init(void);
void persona_domain_exit(void);

void persona_domain_init_vm(struct persona_xen_vm *pvm);
int persona_domain_register(struct persona_xen_vm *pvm);
void persona_domain_unregister(struct persona_xen_vm *pvm);
struct persona_xen_vm *persona_domain_find(u16 domid);
bool persona_domain_is_self(struct persona_xen_vm *pvm, u16 domid);
int persona_domain_set_id(struct persona_xen_vm *pvm, u64 domid);
u16 persona_domain_id(struct persona_xen_vm *pvm);
struct persona_xen_vm *persona_domain_get(struct persona_xen_vm *pvm,
					  u16 domid);
void persona_domain_put(struct persona_xen_vm *pvm,
			struct persona_xen_vm *other);
int persona_domain_call(struct persona_xen_vm *pvm,
			int (*fn)(struct persona_xen_vm *pvm, void *ctx),
			void *ctx);

#endif /* _PERSONA_XEN_DOMAIN_H */
