/* SPDX-License-Identifier: GPL-2.0 */
/* Finding kvm.ko's non-exported symbols (kallsyms.c). */
#ifndef _PERSONA_KALLSYMS_H
#define _PERSONA_KALLSYMS_H

int persona_kallsyms_init(void);
int persona_resolve(const char *name, void **where);

#endif /* _PERSONA_KALLSYMS_H */
