// SPDX-License-Identifier: GPL-2.0
/*
 * The hook engine: redirects kvm.ko entry points into the module.
 *
 * Debian's 6.1 kvm.ko is built without CONFIG_KVM_XEN, so the places where
 * upstream KVM would call into its Xen code are stubs.  The module puts a
 * personality back by redirecting a handful of kvm.ko functions with
 * ftrace (the mechanism livepatch uses): an ftrace_ops with IPMODIFY
 * rewrites the instruction pointer to a replacement (dispatch.c), which
 * handles what belongs to the personality and calls the original for
 * everything else.  This file registers, arms and removes them, and knows
 * nothing of what they do.
 */
#include <linux/ftrace.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/srcu.h>
#include <linux/workqueue.h>

#include "../kvm/boundary.h"
#include "hook.h"
#include "../kvm/kallsyms.h"

/*
 * The always-on replacements run inside this SRCU read section
 * (persona_hook_enter()), so that unloading can wait for callers that
 * sleep inside the original function they called through us (e.g. an
 * ioctl blocked on a mutex).  The per-VM ones run for VMs with a
 * personality alone, which pin the module.
 */
DEFINE_SRCU(persona_hook_srcu);

static struct persona_hook *persona_hooks;
static unsigned int persona_nr_hooks;

/*
 * The ftrace callback.  A per-VM hook leaves calls for VMs without a
 * personality to the original: their cost is the trampoline and these few
 * loads.  Calls from
 * our own module are the replacements calling the original: let those
 * through too, redirect everything else.
 */
static void notrace persona_ftrace_thunk(unsigned long ip,
					 unsigned long parent_ip,
					 struct ftrace_ops *ops,
					 struct ftrace_regs *fregs)
{
	struct persona_hook *hook = container_of(ops, struct persona_hook, ops);
	unsigned long arg0;
	struct kvm *kvm;

	if (hook->per_vm) {
		arg0 = persona_compat_arg0(fregs);
		kvm = hook->arg0_kvm ? (struct kvm *)arg0 :
				       ((struct kvm_vcpu *)arg0)->kvm;
		if (likely(!persona_kvm_vm(kvm)))
			return;
	}
	if (!within_module(parent_ip, THIS_MODULE))
		persona_compat_set_ip(fregs,
				      (unsigned long)hook->replacement);
}

static int persona_hook_register(struct persona_hook *hook)
{
	int r;

	/*
	 * No FTRACE_OPS_FL_RECURSION: the thunk calls nothing traceable, and
	 * without it ftrace calls the thunk straight from the trampoline
	 * instead of through its recursion-guarding wrapper.  Where ftrace
	 * can pass arguments without a full pt_regs (x86 since 5.11), the
	 * lighter trampoline can redirect too, as livepatch uses it; every
	 * hooked exit pays for what the trampoline saves.  PERMANENT keeps
	 * ftrace from being switched off under running guests.
	 */
	hook->ops.func = persona_ftrace_thunk;
	hook->ops.flags = FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_PERMANENT;
	if (!IS_ENABLED(CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS))
		hook->ops.flags |= FTRACE_OPS_FL_SAVE_REGS;

	r = ftrace_set_filter_ip(&hook->ops, hook->addr, 0, 0);
	if (r)
		return r;
	r = register_ftrace_function(&hook->ops);
	if (r) {
		ftrace_set_filter_ip(&hook->ops, hook->addr, 1, 0);
		return r;
	}
	hook->registered = true;
	return 0;
}

static void persona_hook_unregister(struct persona_hook *hook)
{
	if (!hook->registered)
		return;
	WARN_ON_ONCE(unregister_ftrace_function(&hook->ops));
	ftrace_set_filter_ip(&hook->ops, hook->addr, 1, 0);
	hook->registered = false;
}

static void persona_unhook(bool per_vm)
{
	int i;

	for (i = (int)persona_nr_hooks - 1; i >= 0; i--)
		if (!per_vm || persona_hooks[i].per_vm)
			persona_hook_unregister(&persona_hooks[i]);
}

static int persona_hook_all(bool per_vm)
{
	int i, r;

	for (i = 0; i < persona_nr_hooks; i++) {
		if (persona_hooks[i].per_vm != per_vm)
			continue;
		r = persona_hook_register(&persona_hooks[i]);
		if (r) {
			pr_err("cannot hook %s (%d)\n", persona_hooks[i].name,
			       r);
			persona_unhook(per_vm);
			return r;
		}
	}
	return 0;
}

/*
 * Arming the per-VM hooks: the first VM with a personality arms them; when
 * the last one is gone they are disarmed a little later, so that a VMM creating and
 * destroying VMs in a loop does not patch kernel text each time.
 */
static DEFINE_MUTEX(persona_arm_lock);
static unsigned int persona_arm_users;
static bool persona_armed;

static void persona_disarm_fn(struct work_struct *work)
{
	mutex_lock(&persona_arm_lock);
	if (!persona_arm_users && persona_armed) {
		persona_unhook(true);
		persona_armed = false;
	}
	mutex_unlock(&persona_arm_lock);
}

static DECLARE_DELAYED_WORK(persona_disarm_work, persona_disarm_fn);

int persona_hooks_arm(void)
{
	int r = 0;

	mutex_lock(&persona_arm_lock);
	if (!persona_armed) {
		r = persona_hook_all(true);
		persona_armed = !r;
	}
	if (!r)
		persona_arm_users++;
	mutex_unlock(&persona_arm_lock);
	return r;
}

void persona_hooks_disarm(void)
{
	mutex_lock(&persona_arm_lock);
	if (!WARN_ON_ONCE(!persona_arm_users) && !--persona_arm_users)
		mod_delayed_work(system_wq, &persona_disarm_work, 2 * HZ);
	mutex_unlock(&persona_arm_lock);
}

int persona_hooks_resolve(struct persona_hook *hooks, unsigned int n)
{
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		r = persona_resolve(hooks[i].name, hooks[i].orig);
		if (r)
			return r;
		hooks[i].addr = (unsigned long)*hooks[i].orig;
	}
	persona_hooks = hooks;
	persona_nr_hooks = n;
	return 0;
}

int persona_hooks_start(void)
{
	return persona_hook_all(false);
}

void persona_hooks_stop(void)
{
	cancel_delayed_work_sync(&persona_disarm_work);
	persona_unhook(true);
	persona_unhook(false);
	/* Callers that entered a replacement before it was unhooked. */
	synchronize_srcu(&persona_hook_srcu);
	/*
	 * A caller may still be on the last instructions of a replacement,
	 * after its srcu_read_unlock(); it leaves them before it next
	 * schedules voluntarily.
	 */
	synchronize_rcu_tasks();
}
