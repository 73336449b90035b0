// SPDX-License-Identifier: GPL-2.0
/*
 * The hook layer: redirects kvm.ko entry points into kvm-persona.
 *
 * Debian's 6.1 kvm.ko is built without CONFIG_KVM_XEN, so the places where
 * upstream KVM would call into its Xen code are stubs.  We put the Xen
 * personality back by redirecting a handful of kvm.ko functions with
 * ftrace (the mechanism livepatch uses): an ftrace_ops with IPMODIFY
 * rewrites the instruction pointer to our replacement, which handles what
 * belongs to the personality and calls the original for everything else.
 *
 * This is the only file that knows kvm.ko's internals: the private parts
 * of struct kvm_vcpu_arch and the non-exported symbols.
 */
#include <linux/ftrace.h>
#include <linux/kvm_host.h>
#include <linux/timekeeping.h>
#include <linux/module.h>
#include <linux/srcu.h>
#include <linux/workqueue.h>
#include <asm/hyperv-tlfs.h>

#include "persona.h"

/*
 * The always-on replacements run inside this SRCU read section, so that
 * unloading can wait for callers that sleep inside the original function
 * they called through us (e.g. an ioctl blocked on a mutex).  The Xen-only
 * ones run for Xen VMs alone, which pin the module.
 */
DEFINE_STATIC_SRCU(persona_hook_srcu);

struct persona_hook {
	const char *name;
	void *replacement;
	/* Where to store the original's address (a function pointer). */
	void **orig;
	unsigned long addr;
	struct ftrace_ops ops;
	/*
	 * Armed only while Xen VMs exist (persona_hooks_arm_xen()), and then
	 * redirected only for calls whose first argument (a vCPU) belongs to
	 * a Xen VM: see persona_ftrace_thunk().
	 */
	bool xen_only;
	bool registered;
};

static struct kvm_x86_ops *persona_x86_ops;
static u64 (*persona_get_kvmclock_ns)(struct kvm *kvm);
static int (*persona_apic_set_irq)(struct kvm_vcpu *vcpu,
				   struct kvm_lapic_irq *irq, void *dest_map);
static gpa_t (*persona_gva_to_gpa_system)(struct kvm_vcpu *vcpu, gva_t gva,
					  void *exception);

static int (*orig_check_extension)(struct kvm *kvm, long ext);
static long (*orig_arch_vm_ioctl)(struct file *filp, unsigned int ioctl,
				  unsigned long arg);
static long (*orig_arch_vcpu_ioctl)(struct file *filp, unsigned int ioctl,
				    unsigned long arg);
static int (*orig_emulate_hypercall)(struct kvm_vcpu *vcpu);
static int (*orig_set_msr_common)(struct kvm_vcpu *vcpu,
				  struct msr_data *msr_info);
static void (*orig_arch_destroy_vm)(struct kvm *kvm);
static int (*orig_set_routing_entry)(struct kvm *kvm,
				     struct kvm_kernel_irq_routing_entry *e,
				     const struct kvm_irq_routing_entry *ue);
static int (*orig_vcpu_ioctl_run)(struct kvm_vcpu *vcpu);
static void (*orig_vcpu_load)(struct kvm_vcpu *vcpu, int cpu);
static void (*orig_vcpu_put)(struct kvm_vcpu *vcpu);
static int (*orig_has_injectable_intr)(struct kvm_vcpu *v);
static int (*orig_has_interrupt)(struct kvm_vcpu *v);
static int (*orig_get_interrupt)(struct kvm_vcpu *v);
static int (*orig_has_pending_timer)(struct kvm_vcpu *vcpu);
static void (*orig_inject_pending_timer_irqs)(struct kvm_vcpu *vcpu);

/*
 * The per-VM state pointer.  kvm.ko reserves a struct kvm_xen in every VM;
 * built without CONFIG_KVM_XEN it never reads or writes it (its users are
 * all in the xen.c it does not build, and we refuse to load where it is
 * built), so its first word is ours.  One load answers "is this a Xen VM?"
 * on every hooked call, where a lookup in a table of VMs would cost a hash
 * and a walk.
 */
static_assert(sizeof(struct kvm_xen) >= sizeof(struct persona_vm *));

static __always_inline struct persona_vm **persona_kvm_slot(struct kvm *kvm)
{
	return (struct persona_vm **)&kvm->arch.xen;
}

static __always_inline struct persona_vm *persona_kvm_pvm(struct kvm *kvm)
{
	return READ_ONCE(*persona_kvm_slot(kvm));
}

/*
 * Valid without RCU once found: the state lives exactly as long as the VM
 * (it is published before the VM can use it and withdrawn when kvm.ko has
 * destroyed the vCPUs), and every caller holds a reference to the VM.
 */
struct persona_vm *persona_vm_of(struct kvm *kvm)
{
	return persona_kvm_pvm(kvm);
}

/* Publish @pvm for @kvm; returns the state already there, if any. */
struct persona_vm *persona_kvm_install_vm(struct kvm *kvm,
					  struct persona_vm *pvm)
{
	return cmpxchg_release(persona_kvm_slot(kvm), NULL, pvm);
}

struct persona_vm *persona_kvm_remove_vm(struct kvm *kvm)
{
	return xchg(persona_kvm_slot(kvm), NULL);
}

/*
 * KVM_CHECK_EXTENSION, on /dev/kvm (kvm == NULL) and on VM fds.
 */
static int hook_check_extension(struct kvm *kvm, long ext)
{
	int idx, r;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (ext == KVM_CAP_XEN_HVM)
		r = persona_xen_caps();
	else
		r = orig_check_extension(kvm, ext);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

static long hook_arch_vm_ioctl(struct file *filp, unsigned int ioctl,
			       unsigned long arg)
{
	struct kvm *kvm = filp->private_data;
	long r;
	int idx;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (persona_vm_ioctl_claims(ioctl))
		r = persona_vm_ioctl(kvm, ioctl, (void __user *)arg);
	else
		r = orig_arch_vm_ioctl(filp, ioctl, arg);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

static long hook_arch_vcpu_ioctl(struct file *filp, unsigned int ioctl,
				 unsigned long arg)
{
	struct kvm_vcpu *vcpu = filp->private_data;
	long r;
	int idx;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (persona_vcpu_ioctl_claims(ioctl))
		r = persona_vcpu_ioctl(vcpu, ioctl, (void __user *)arg);
	else
		r = orig_arch_vcpu_ioctl(filp, ioctl, arg);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

/* Routing type 5 (KVM_IRQ_ROUTING_XEN_EVTCHN) is compiled out of 6.1. */
static int hook_set_routing_entry(struct kvm *kvm,
				  struct kvm_kernel_irq_routing_entry *e,
				  const struct kvm_irq_routing_entry *ue)
{
	int idx, r;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (ue->type == KVM_IRQ_ROUTING_XEN_EVTCHN)
		r = persona_evtchn_setup_route(kvm, e, ue);
	else
		r = orig_set_routing_entry(kvm, e, ue);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

/*
 * VM teardown.  Timers and guest-memory caches that live in the vCPUs go
 * before kvm.ko frees the vCPUs; the rest after, when nothing can run a
 * Xen path any more.
 */
static void hook_arch_destroy_vm(struct kvm *kvm)
{
	int idx;

	idx = srcu_read_lock(&persona_hook_srcu);
	persona_vm_teardown(kvm);
	orig_arch_destroy_vm(kvm);
	persona_vm_destroy(kvm);
	srcu_read_unlock(&persona_hook_srcu, idx);
}

/*
 * The hooks below are armed only while at least one VM has a Xen
 * personality: they sit on paths every VM takes (exits, interrupt
 * injection, scheduling), so a host without Xen guests pays nothing, and
 * the thunk sends only Xen VMs' calls here; other VMs run the original
 * straight from the ftrace trampoline.  They need no SRCU section: a Xen
 * VM holds a reference on this module until kvm.ko has destroyed it.
 */

/* The VMCALL/VMMCALL exit handler of both vendor modules. */
static int hook_emulate_hypercall(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);

	if (pvm && persona_xen_intercepts(pvm) &&
	    !persona_hv_claims_hypercall(vcpu))
		return persona_xen_hypercall(pvm, vcpu);
	return orig_emulate_hypercall(vcpu);
}

static int hook_set_msr_common(struct kvm_vcpu *vcpu,
			       struct msr_data *msr_info)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);
	u32 index = msr_info->index;
	int r;

	if (pvm && index && index == READ_ONCE(pvm->msr))
		return persona_xen_write_hypercall_page(pvm, vcpu,
							msr_info->data);
	r = orig_set_msr_common(vcpu, msr_info);
	if (pvm && !r && index == HV_X64_MSR_HYPERCALL)
		persona_hv_hypercall_msr_written(pvm, vcpu, msr_info->data);
	return r;
}

/*
 * KVM_RUN from userspace: the VMM may have changed guest memory (e.g. set
 * evtchn_upcall_pending) or mappings while the vCPU was out, and this is a
 * context where guest memory caches may be refreshed.
 */
static int hook_vcpu_ioctl_run(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);
	int r;

	if (!pvm)
		return orig_vcpu_ioctl_run(vcpu);
	if (persona_vcpu_xen_ready(pvm, vcpu)) {
		persona_runstate_sync(pvm, vcpu);
		persona_upcall_recheck(pvm, vcpu);
	}
	/* vcpu->mutex serialises KVM_RUN: the bit is ours alone. */
	set_bit(vcpu->vcpu_idx, pvm->in_run);
	r = orig_vcpu_ioctl_run(vcpu);
	clear_bit(vcpu->vcpu_idx, pvm->in_run);
	return r;
}

/*
 * Runstate accounting: scheduled in (running), preempted (runnable).  As
 * upstream, a vCPU becomes "running" only on its way into the guest
 * (KVM_RUN, which loads it first), not because another vCPU ioctl of the
 * VMM loaded it: a VMM that marked it blocked and then reads its
 * registers must find it still blocked.
 */
static void hook_vcpu_load(struct kvm_vcpu *vcpu, int cpu)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);

	orig_vcpu_load(vcpu, cpu);
	if (pvm && test_bit(vcpu->vcpu_idx, pvm->in_run) &&
	    persona_vcpu_xen_ready(pvm, vcpu))
		persona_runstate_load(pvm, vcpu);
}

static void hook_vcpu_put(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);

	if (pvm && vcpu->preempted && persona_vcpu_xen_ready(pvm, vcpu))
		persona_runstate_put(pvm, vcpu);
	orig_vcpu_put(vcpu);
}

/*
 * The VM-wide callback vector (HVM_PARAM_CALLBACK_IRQ type 2) is injected
 * the way ExtINT is, while evtchn_upcall_pending is set: it bypasses the
 * LAPIC, so the guest does not EOI it.  Upstream checks it first among
 * external interrupt sources; so do we.  Returns the vector, or 0.
 */
static u8 persona_xen_extint(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);
	u8 vector;

	if (!pvm || !vcpu->arch.apic)
		return 0;
	vector = READ_ONCE(pvm->upcall_vector);
	if (!vector || !persona_vcpu_xen_ready(pvm, vcpu) ||
	    !persona_upcall_pending(pvm, vcpu))
		return 0;
	return vector;
}

static int hook_has_injectable_intr(struct kvm_vcpu *v)
{
	u8 vector = persona_xen_extint(v);

	if (vector) {
		/* Only Xen VMs get a vector: persona_xen_extint(). */
		WRITE_ONCE(persona_kvm_pvm(v->kvm)->promised_vector[v->vcpu_idx],
			   vector);
		return 1;
	}
	return orig_has_injectable_intr(v);
}

static int hook_has_interrupt(struct kvm_vcpu *v)
{
	return persona_xen_extint(v) ? 1 : orig_has_interrupt(v);
}

/*
 * kvm.ko asks whether an interrupt is injectable, then which: between the
 * two, the VMM or another vCPU may clear evtchn_upcall_pending, or the
 * VMM may change the callback vector.  Had the first answer come from
 * the upcall, the original finds nothing and returns -1, which kvm.ko
 * queues as vector 255.  Deliver the vector that was found injectable
 * instead: a spurious upcall finds no pending event and returns, for Xen
 * guests as for Xen itself.  (Found by xen_fuzz_guest.)
 */
static int hook_get_interrupt(struct kvm_vcpu *v)
{
	struct persona_vm *pvm;
	u8 vector = persona_xen_extint(v);
	int r;

	if (vector)
		return vector;
	r = orig_get_interrupt(v);
	if (r != -1)
		return r;
	/* Only now look the VM up: every VM's injections pass here. */
	pvm = persona_kvm_pvm(v->kvm);
	if (pvm)
		vector = READ_ONCE(pvm->promised_vector[v->vcpu_idx]);
	return vector ? vector : r;
}

/*
 * The run loop's "pending timer" check and injection: where the Xen timer
 * and events that could not be delivered from atomic context are
 * delivered from the vCPU's own, sleepable, context.
 */
static int hook_has_pending_timer(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);

	if (orig_has_pending_timer(vcpu))
		return 1;
	return pvm && persona_vcpu_xen_ready(pvm, vcpu) &&
	       (persona_timer_pending(vcpu) ||
		persona_evtchn_has_deferred(pvm, vcpu));
}

static void hook_inject_pending_timer_irqs(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_pvm(vcpu->kvm);

	orig_inject_pending_timer_irqs(vcpu);
	if (pvm && persona_vcpu_xen_ready(pvm, vcpu)) {
		persona_timer_inject(pvm, vcpu);
		persona_evtchn_inject_deferred(pvm, vcpu);
	}
}

#define PERSONA_HOOK(sym, fn, o)					\
	{ .name = (sym), .replacement = (fn), .orig = (void **)&(o) }
#define PERSONA_XEN_HOOK(sym, fn, o)					\
	{ .name = (sym), .replacement = (fn), .orig = (void **)&(o),	\
	  .xen_only = true }

static struct persona_hook persona_hooks[] = {
	PERSONA_HOOK("kvm_vm_ioctl_check_extension", hook_check_extension,
		     orig_check_extension),
	PERSONA_HOOK("kvm_arch_vm_ioctl", hook_arch_vm_ioctl,
		     orig_arch_vm_ioctl),
	PERSONA_HOOK("kvm_arch_vcpu_ioctl", hook_arch_vcpu_ioctl,
		     orig_arch_vcpu_ioctl),
	PERSONA_HOOK("kvm_set_routing_entry", hook_set_routing_entry,
		     orig_set_routing_entry),
	PERSONA_HOOK("kvm_arch_destroy_vm", hook_arch_destroy_vm,
		     orig_arch_destroy_vm),
	PERSONA_XEN_HOOK("kvm_emulate_hypercall", hook_emulate_hypercall,
			 orig_emulate_hypercall),
	PERSONA_XEN_HOOK("kvm_set_msr_common", hook_set_msr_common,
			 orig_set_msr_common),
	PERSONA_XEN_HOOK("kvm_arch_vcpu_ioctl_run", hook_vcpu_ioctl_run,
			 orig_vcpu_ioctl_run),
	PERSONA_XEN_HOOK("kvm_arch_vcpu_load", hook_vcpu_load,
			 orig_vcpu_load),
	PERSONA_XEN_HOOK("kvm_arch_vcpu_put", hook_vcpu_put, orig_vcpu_put),
	PERSONA_XEN_HOOK("kvm_cpu_has_injectable_intr",
			 hook_has_injectable_intr, orig_has_injectable_intr),
	PERSONA_XEN_HOOK("kvm_cpu_has_interrupt", hook_has_interrupt,
			 orig_has_interrupt),
	PERSONA_XEN_HOOK("kvm_cpu_get_interrupt", hook_get_interrupt,
			 orig_get_interrupt),
	PERSONA_XEN_HOOK("kvm_cpu_has_pending_timer", hook_has_pending_timer,
			 orig_has_pending_timer),
	PERSONA_XEN_HOOK("kvm_inject_pending_timer_irqs",
			 hook_inject_pending_timer_irqs,
			 orig_inject_pending_timer_irqs),
};

/*
 * The ftrace callback.  A Xen-only hook leaves calls for other VMs to the
 * original: their cost is the trampoline and these few loads.  Calls from
 * our own module are the replacements calling the original: let those
 * through too, redirect everything else.
 */
static void notrace persona_ftrace_thunk(unsigned long ip,
					 unsigned long parent_ip,
					 struct ftrace_ops *ops,
					 struct ftrace_regs *fregs)
{
	struct persona_hook *hook = container_of(ops, struct persona_hook, ops);
	struct kvm_vcpu *vcpu;

	if (hook->xen_only) {
		vcpu = (struct kvm_vcpu *)persona_compat_arg0(fregs);
		if (likely(!persona_kvm_pvm(vcpu->kvm)))
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
	 * ftrace from being switched off under running Xen guests.
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

static void persona_unhook(bool xen_only)
{
	int i;

	for (i = ARRAY_SIZE(persona_hooks) - 1; i >= 0; i--)
		if (!xen_only || persona_hooks[i].xen_only)
			persona_hook_unregister(&persona_hooks[i]);
}

static int persona_hook_all(bool xen_only)
{
	int i, r;

	for (i = 0; i < ARRAY_SIZE(persona_hooks); i++) {
		if (persona_hooks[i].xen_only != xen_only)
			continue;
		r = persona_hook_register(&persona_hooks[i]);
		if (r) {
			pr_err("cannot hook %s (%d)\n", persona_hooks[i].name,
			       r);
			persona_unhook(xen_only);
			return r;
		}
	}
	return 0;
}

/*
 * Arming the Xen-only hooks: the first Xen VM arms them; when the last one
 * is gone they are disarmed a little later, so that a VMM creating and
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

int persona_hooks_arm_xen(void)
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

void persona_hooks_disarm_xen(void)
{
	mutex_lock(&persona_arm_lock);
	if (!WARN_ON_ONCE(!persona_arm_users) && !--persona_arm_users)
		mod_delayed_work(system_wq, &persona_disarm_work, 2 * HZ);
	mutex_unlock(&persona_arm_lock);
}

int persona_hooks_init(void)
{
	struct persona_hook *hook;
	int i, r;

	r = persona_kallsyms_init();
	if (r)
		return r;

	for (i = 0; i < ARRAY_SIZE(persona_hooks); i++) {
		hook = &persona_hooks[i];
		r = persona_resolve(hook->name, hook->orig);
		if (r)
			return r;
		hook->addr = (unsigned long)*hook->orig;
	}

	r = persona_resolve("kvm_x86_ops", (void **)&persona_x86_ops);
	r = r ?: persona_resolve("get_kvmclock_ns",
				 (void **)&persona_get_kvmclock_ns);
	r = r ?: persona_resolve("kvm_apic_set_irq",
				 (void **)&persona_apic_set_irq);
	r = r ?: persona_resolve("kvm_mmu_gva_to_gpa_system",
				 (void **)&persona_gva_to_gpa_system);
	if (r)
		return r;

	/* A kernel with CONFIG_KVM_XEN already has the personality. */
	r = orig_check_extension(NULL, KVM_CAP_XEN_HVM);
	if (r) {
		pr_err("kvm.ko already implements the Xen ABI (KVM_CAP_XEN_HVM=%#x), not loading\n",
		       r);
		return -EEXIST;
	}

	r = persona_hook_all(false);
	if (r)
		pr_err("not loading\n");
	return r;
}

void persona_hooks_exit(void)
{
	cancel_delayed_work_sync(&persona_disarm_work);
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

/* Accessors to kvm.ko's private vCPU state. */

static const enum kvm_reg persona_reg_map[] = {
	[PERSONA_RAX] = VCPU_REGS_RAX, [PERSONA_RCX] = VCPU_REGS_RCX,
	[PERSONA_RDX] = VCPU_REGS_RDX, [PERSONA_RBX] = VCPU_REGS_RBX,
	[PERSONA_RSP] = VCPU_REGS_RSP, [PERSONA_RBP] = VCPU_REGS_RBP,
	[PERSONA_RSI] = VCPU_REGS_RSI, [PERSONA_RDI] = VCPU_REGS_RDI,
	[PERSONA_R8] = VCPU_REGS_R8, [PERSONA_R9] = VCPU_REGS_R9,
	[PERSONA_R10] = VCPU_REGS_R10, [PERSONA_R11] = VCPU_REGS_R11,
};

unsigned long persona_kvm_reg_read(struct kvm_vcpu *vcpu, enum persona_reg r)
{
	enum kvm_reg reg = persona_reg_map[r];

	if (!test_bit(reg, (unsigned long *)&vcpu->arch.regs_avail))
		persona_x86_ops->cache_reg(vcpu, reg);
	return vcpu->arch.regs[reg];
}

void persona_kvm_reg_write(struct kvm_vcpu *vcpu, enum persona_reg r,
			   unsigned long val)
{
	enum kvm_reg reg = persona_reg_map[r];

	vcpu->arch.regs[reg] = val;
	__set_bit(reg, (unsigned long *)&vcpu->arch.regs_avail);
	__set_bit(reg, (unsigned long *)&vcpu->arch.regs_dirty);
}

bool persona_kvm_is_long_mode(struct kvm_vcpu *vcpu)
{
	return !!(vcpu->arch.efer & EFER_LMA);
}

bool persona_kvm_is_64bit_hypercall(struct kvm_vcpu *vcpu)
{
	int db, l;

	/* Protected guests can only make hypercalls in 64-bit mode. */
	if (vcpu->arch.guest_state_protected)
		return true;
	if (!persona_kvm_is_long_mode(vcpu))
		return false;
	persona_x86_ops->get_cs_db_l_bits(vcpu, &db, &l);
	return l;
}

int persona_kvm_get_cpl(struct kvm_vcpu *vcpu)
{
	return persona_x86_ops->get_cpl(vcpu);
}

void persona_kvm_patch_hypercall(struct kvm_vcpu *vcpu, u8 *insn)
{
	persona_x86_ops->patch_hypercall(vcpu, insn);
}

void persona_kvm_set_complete_userspace(struct kvm_vcpu *vcpu,
					int (*fn)(struct kvm_vcpu *vcpu))
{
	vcpu->arch.complete_userspace_io = fn;
}

bool persona_kvm_hv_hypercall_enabled(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.hyperv_enabled &&
	       READ_ONCE(vcpu->kvm->arch.hyperv.hv_guest_os_id);
}

u64 persona_kvm_hv_hypercall_msr(struct kvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->kvm->arch.hyperv.hv_hypercall);
}

/*
 * kvm.ko reserves a struct kvm_vcpu_xen in every vCPU even when built
 * without CONFIG_KVM_XEN.  We keep the per-vCPU Xen state there: it costs
 * no allocation, and kvm_guest_time_update() already refreshes the pvclock
 * in its vcpu_info_cache and vcpu_time_info_cache whenever they are active.
 */
struct kvm_vcpu_xen *persona_kvm_vcpu_xen(struct kvm_vcpu *vcpu)
{
	return &vcpu->arch.xen;
}

bool persona_kvm_lapic_in_kernel(struct kvm_vcpu *vcpu)
{
	return !!vcpu->arch.apic;
}

/* The guest's kvmclock, the time base of Xen's system time. */
u64 persona_kvm_clock_ns(struct kvm *kvm)
{
	return persona_get_kvmclock_ns(kvm);
}

/*
 * The real time at which @kvm's kvmclock read 0 (Xen's wallclock), from
 * one clock read: the real and raw time of one snapshot, and kvmclock as
 * kvm.ko counts it, raw time since boot plus the VM's offset.  Reading
 * the real time and then kvmclock would put the epoch in the past by
 * whatever delay came between the two reads (upstream 6.1 does; later
 * kernels take one reading too).
 */
u64 persona_kvm_wall_clock_epoch(struct kvm *kvm)
{
	struct system_time_snapshot snap;
	s64 kvmclock;

	ktime_get_snapshot(&snap);
	kvmclock = ktime_to_ns(ktime_add(snap.raw,
					 ktime_mono_to_any(0, TK_OFFS_BOOT))) +
		   READ_ONCE(kvm->arch.kvmclock_offset);
	return ktime_to_ns(snap.real) - kvmclock;
}

int persona_kvm_apic_set_irq(struct kvm_vcpu *vcpu, struct kvm_lapic_irq *irq)
{
	return persona_apic_set_irq(vcpu, irq, NULL);
}

/* Translation as the guest kernel sees it; 0 when unmapped. */
gpa_t persona_kvm_gva_to_gpa(struct kvm_vcpu *vcpu, u64 gva)
{
	gpa_t gpa = persona_gva_to_gpa_system(vcpu, gva, NULL);

	return gpa == INVALID_GPA ? 0 : gpa;
}

void persona_kvm_set_mp_state(struct kvm_vcpu *vcpu, u32 state)
{
	vcpu->arch.mp_state = state;
}
