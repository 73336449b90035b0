/* SPDX-License-Identifier: GPL-2.0 */
/* Each Xen VM's state for the operator, in debugfs (debugfs.c). */
#ifndef _PERSONA_XEN_DEBUGFS_H
#define _PERSONA_XEN_DEBUGFS_H

#include "xen.h"

void persona_debugfs_vm_add(struct persona_xen_vm *pvm);
void persona_debugfs_vm_remove(struct persona_xen_vm *pvm);
void persona_debugfs_init(void);
void persona_debugfs_exit(void);

#endif /* _PERSONA_XEN_DEBUGFS_H */
