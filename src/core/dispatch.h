/* SPDX-License-Identifier: GPL-2.0 */
/* The dispatch from hooked kvm.ko entry points to personalities. */
#ifndef _PERSONA_DISPATCH_H
#define _PERSONA_DISPATCH_H

/* Once the personalities have registered (persona_register()). */
int persona_dispatch_init(void);
void persona_dispatch_exit(void);

#endif /* _PERSONA_DISPATCH_H */
