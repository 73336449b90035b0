/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one seam for kernel-version differences.  Force-included into every
 * object (see src/Kbuild), in the manner of WireGuard's out-of-tree compat
 * layer: code in src/ is written against the 6.1 API, and what moved in
 * other kernels is mapped back here, by testing for the feature rather
 * than the version where that is possible.
 */
#ifndef _KVM_PERSONA_COMPAT_H
#define _KVM_PERSONA_COMPAT_H

/* Every message names the module; set before any header pulls printk.h. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>

/* Setting the resume address from an ftrace callback (renamed in 6.6). */
#if defined(ftrace_regs_set_instruction_pointer)
#define persona_compat_set_ip(fregs, ip) \
	ftrace_regs_set_instruction_pointer((fregs), (ip))
#else
#define persona_compat_set_ip(fregs, ip) \
	ftrace_instruction_pointer_set((fregs), (ip))
#endif

/*
 * The first argument of a hooked function, from an ftrace callback.  The
 * accessor came after 6.1, where x86's struct ftrace_regs is a pt_regs
 * with the argument registers saved.
 */
#if defined(ftrace_regs_get_argument)
#define persona_compat_arg0(fregs) ftrace_regs_get_argument((fregs), 0)
#else
#define persona_compat_arg0(fregs) ((fregs)->regs.di)
#endif

/*
 * eventfd_signal() lost its count argument in 6.8; src/Kbuild probes the
 * kernel's <linux/eventfd.h> for the old form.
 */
#ifdef PERSONA_HAVE_EVENTFD_SIGNAL_COUNT
#define persona_compat_eventfd_signal(ctx) eventfd_signal((ctx), 1)
#else
#define persona_compat_eventfd_signal(ctx) eventfd_signal(ctx)
#endif

#endif /* _KVM_PERSONA_COMPAT_H */
