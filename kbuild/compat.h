/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one seam for kernel-version differences.  Force-included into every
 * object (see src/Kbuild), in the manner of WireGuard's out-of-tree compat
 * layer: code in src/ is written against the 6.1 API, and what moved in
 * other kernels is mapped back here.
 */
#ifndef _KVM_PERSONA_COMPAT_H
#define _KVM_PERSONA_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "kvm-persona needs Linux 6.1 or later"
#endif

/* Setting the resume address from an ftrace callback. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define persona_compat_set_ip(fregs, ip) \
	ftrace_regs_set_instruction_pointer((fregs), (ip))
#else
#define persona_compat_set_ip(fregs, ip) \
	ftrace_instruction_pointer_set((fregs), (ip))
#endif

#endif /* _KVM_PERSONA_COMPAT_H */
