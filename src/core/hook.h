/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hook engine (hook.c): redirects kvm.ko functions to replacements
 * with ftrace, as livepatch does.  It knows no personality: the caller
 * (dispatch.c) gives it a table of hooks.
 */
#ifndef _PERSONA_HOOK_H
#define _PERSONA_HOOK_H

#include <linux/ftrace.h>
#include <linux/srcu.h>
#include <linux/types.h>

struct persona_hook {
	const char *name;
	void *replacement;
	/* Where to store the original's address (a function pointer). */
	void **orig;
	/*
	 * Armed only while VMs with a personality exist
	 * (persona_hooks_arm()), and then redirected only for calls whose
	 * first argument, a vCPU, belongs to such a VM.
	 */
	bool per_vm;
	/* A per-VM hook's first argument is the VM, not a vCPU. */
	bool arg0_kvm;
	/* The engine's. */
	unsigned long addr;
	struct ftrace_ops ops;
	bool registered;
};

#define PERSONA_HOOK(sym, fn, o)					\
	{ .name = (sym), .replacement = (fn), .orig = (void **)&(o) }
#define PERSONA_VM_HOOK(sym, fn, o)					\
	{ .name = (sym), .replacement = (fn), .orig = (void **)&(o),	\
	  .per_vm = true }
#define PERSONA_VM_HOOK_KVM(sym, fn, o)					\
	{ .name = (sym), .replacement = (fn), .orig = (void **)&(o),	\
	  .per_vm = true, .arg0_kvm = true }

/* Resolve every hook's original; nothing is redirected yet. */
int persona_hooks_resolve(struct persona_hook *hooks, unsigned int n);
/* Redirect the always-on hooks. */
int persona_hooks_start(void);
/* Undo everything and wait until no caller is inside a replacement. */
void persona_hooks_stop(void);

/* The per-VM hooks, armed while at least one user holds them. */
int persona_hooks_arm(void);
void persona_hooks_disarm(void);

/*
 * Always-on replacements run inside this read section, so that unloading
 * waits for callers that sleep in the original they called through us.
 */
extern struct srcu_struct persona_hook_srcu;

static inline int persona_hook_enter(void)
{
	return srcu_read_lock(&persona_hook_srcu);
}

static inline void persona_hook_leave(int idx)
{
	srcu_read_unlock(&persona_hook_srcu, idx);
}

#endif /* _PERSONA_HOOK_H */
