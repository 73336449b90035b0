/* SPDX-License-Identifier: GPL-2.0 */
/* Xen personality lifecycle (vm.c). */
#ifndef _PERSONA_XEN_VM_H
#define _PERSONA_XEN_VM_H

#include "xen.h"

struct persona_xen_vm *persona_vm_get_or_create(struct kvm *kvm);
void persona_vm_teardown(struct persona_xen_vm *pvm);
void persona_vm_destroy(struct kvm *kvm);
void persona_vm_exit(void);

#endif /* _PERSONA_XEN_VM_H */
