// SPDX-License-Identifier: GPL-2.0
/*
 * The dispatch: the replacements of the hooked kvm.ko entry points.  Each
 * hands what belongs to a personality to that personality's operations
 * (personality.h) and calls the original for everything else.  The
 * always-on hooks ask every registered personality; the per-VM ones run
 * only for a VM with a personality (the engine filters the others out)
 * and ask that VM's.
 */
#include <linux/kvm_host.h>
#include <linux/module.h>

#include "../kvm/boundary.h"
#include "dispatch.h"
#include "hook.h"
#include "../kvm/kallsyms.h"
#include "personality.h"

#define PERSONA_MAX_PERSONALITIES	2

static const struct persona_ops *persona_personalities[PERSONA_MAX_PERSONALITIES];
static unsigned int persona_nr_personalities;

void persona_register(const struct persona_ops *ops)
{
	if (!WARN_ON_ONCE(persona_nr_personalities >=
			  ARRAY_SIZE(persona_personalities)))
		persona_personalities[persona_nr_personalities++] = ops;
}

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
static void (*orig_hv_setup_tsc_page)(struct kvm *kvm,
				      struct pvclock_vcpu_time_info *hv_clock);

/* KVM_CHECK_EXTENSION, on /dev/kvm (kvm == NULL) and on VM fds. */
static int hook_check_extension(struct kvm *kvm, long ext)
{
	unsigned int i;
	int idx, r;

	idx = persona_hook_enter();
	for (i = 0; i < persona_nr_personalities; i++)
		if (persona_personalities[i]->check_extension(ext, &r))
			goto out;
	r = orig_check_extension(kvm, ext);
out:
	persona_hook_leave(idx);
	return r;
}

/* The personality that claims @ioctl on a VM fd, or on a vCPU fd. */
static const struct persona_ops *persona_ioctl_owner(unsigned int ioctl,
						     bool vcpu)
{
	const struct persona_ops *ops;
	unsigned int i;

	for (i = 0; i < persona_nr_personalities; i++) {
		ops = persona_personalities[i];
		if (vcpu ? ops->vcpu_ioctl_claims(ioctl) :
			   ops->vm_ioctl_claims(ioctl))
			return ops;
	}
	return NULL;
}

static long hook_arch_vm_ioctl(struct file *filp, unsigned int ioctl,
			       unsigned long arg)
{
	const struct persona_ops *ops;
	long r;
	int idx;

	idx = persona_hook_enter();
	ops = persona_ioctl_owner(ioctl, false);
	if (ops)
		r = ops->vm_ioctl(filp->private_data, ioctl, (void __user *)arg);
	else
		r = orig_arch_vm_ioctl(filp, ioctl, arg);
	persona_hook_leave(idx);
	return r;
}

static long hook_arch_vcpu_ioctl(struct file *filp, unsigned int ioctl,
				 unsigned long arg)
{
	const struct persona_ops *ops;
	long r;
	int idx;

	idx = persona_hook_enter();
	ops = persona_ioctl_owner(ioctl, true);
	if (ops)
		r = ops->vcpu_ioctl(filp->private_data, ioctl,
				    (void __user *)arg);
	else
		r = orig_arch_vcpu_ioctl(filp, ioctl, arg);
	persona_hook_leave(idx);
	return r;
}

/* Types kvm.ko compiled out (Xen's 5 on 6.1) reach a personality. */
static int hook_set_routing_entry(struct kvm *kvm,
				  struct kvm_kernel_irq_routing_entry *e,
				  const struct kvm_irq_routing_entry *ue)
{
	const struct persona_ops *ops;
	unsigned int i;
	int idx, r;

	idx = persona_hook_enter();
	for (i = 0; i < persona_nr_personalities; i++) {
		ops = persona_personalities[i];
		if (ops->routing_claims(ue->type)) {
			r = ops->set_routing_entry(kvm, e, ue);
			goto out;
		}
	}
	r = orig_set_routing_entry(kvm, e, ue);
out:
	persona_hook_leave(idx);
	return r;
}

/*
 * VM teardown.  What lives in the vCPUs (timers, guest-memory caches) goes
 * before kvm.ko frees the vCPUs; the rest after, when nothing can run a
 * personality's path any more.
 */
static void hook_arch_destroy_vm(struct kvm *kvm)
{
	struct persona_vm *pvm;
	int idx;

	idx = persona_hook_enter();
	pvm = persona_kvm_vm(kvm);
	if (pvm)
		pvm->ops->vm_teardown(pvm);
	orig_arch_destroy_vm(kvm);
	if (pvm)
		pvm->ops->vm_destroy(kvm);
	persona_hook_leave(idx);
}

/*
 * The hooks below are per-VM: they sit on paths every VM takes (exits,
 * interrupt injection, scheduling), so they are armed only while a VM with
 * a personality exists, and the engine sends only such VMs' calls here
 * (a host without them pays nothing; other VMs run the original straight
 * from the ftrace trampoline).  They need no SRCU section: such a VM holds
 * a reference on this module until kvm.ko has destroyed it.  The VM's
 * state is looked up again because the engine does not pass it on; it
 * cannot have gone in between (it is withdrawn only at VM destruction).
 */

/* The VMCALL/VMMCALL exit handler of both vendor modules. */
static int hook_emulate_hypercall(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);
	int r;

	if (pvm && pvm->ops->hypercall(pvm, vcpu, &r))
		return r;
	return orig_emulate_hypercall(vcpu);
}

static int hook_set_msr_common(struct kvm_vcpu *vcpu,
			       struct msr_data *msr_info)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);
	int r;

	if (pvm && pvm->ops->set_msr(pvm, vcpu, msr_info, &r))
		return r;
	r = orig_set_msr_common(vcpu, msr_info);
	if (pvm && !r)
		pvm->ops->msr_written(pvm, vcpu, msr_info->index,
				      msr_info->data);
	return r;
}

/*
 * KVM_RUN from userspace: the VMM may have changed guest memory or
 * mappings while the vCPU was out, and this is a context where guest
 * memory caches may be refreshed.
 */
static int hook_vcpu_ioctl_run(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);
	int r;

	if (!pvm)
		return orig_vcpu_ioctl_run(vcpu);
	pvm->ops->run_enter(pvm, vcpu);
	r = orig_vcpu_ioctl_run(vcpu);
	pvm->ops->run_exit(pvm, vcpu);
	return r;
}

static void hook_vcpu_load(struct kvm_vcpu *vcpu, int cpu)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);

	orig_vcpu_load(vcpu, cpu);
	if (pvm)
		pvm->ops->vcpu_load(pvm, vcpu);
}

static void hook_vcpu_put(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);

	if (pvm)
		pvm->ops->vcpu_put(pvm, vcpu);
	orig_vcpu_put(vcpu);
}

/* A personality's interrupt source comes first among external ones. */
static u8 persona_extint(struct kvm_vcpu *vcpu, bool promise)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);

	return pvm ? pvm->ops->extint(pvm, vcpu, promise) : 0;
}

static int hook_has_injectable_intr(struct kvm_vcpu *v)
{
	return persona_extint(v, true) ? 1 : orig_has_injectable_intr(v);
}

static int hook_has_interrupt(struct kvm_vcpu *v)
{
	return persona_extint(v, false) ? 1 : orig_has_interrupt(v);
}

/*
 * kvm.ko asks whether an interrupt is injectable, then which: in between
 * the personality's source may have gone.  Had the first answer come from
 * it, the original finds nothing and returns -1, which kvm.ko queues as
 * vector 255: the personality says what to inject instead.
 */
static int hook_get_interrupt(struct kvm_vcpu *v)
{
	struct persona_vm *pvm;
	u8 vector = persona_extint(v, false);
	int r;

	if (vector)
		return vector;
	r = orig_get_interrupt(v);
	if (r != -1)
		return r;
	/* Only now look the VM up: every VM's injections pass here. */
	pvm = persona_kvm_vm(v->kvm);
	if (pvm)
		vector = pvm->ops->promised_vector(pvm, v);
	return vector ? vector : r;
}

/*
 * The run loop's "pending timer" check and injection: where work that
 * could not be done in atomic context is done in the vCPU's own, sleepable,
 * context.
 */
static int hook_has_pending_timer(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);

	if (orig_has_pending_timer(vcpu))
		return 1;
	return pvm && pvm->ops->timer_pending(pvm, vcpu);
}

static void hook_inject_pending_timer_irqs(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = persona_kvm_vm(vcpu->kvm);

	orig_inject_pending_timer_irqs(vcpu);
	if (pvm)
		pvm->ops->timer_inject(pvm, vcpu);
}

/*
 * The last step of kvm_guest_time_update() on every series, with the
 * vCPU's fresh pvclock: kvm.ko has written its own areas (kvmclock, and
 * Hyper-V's TSC page here), the personality writes its own.
 */
static void hook_hv_setup_tsc_page(struct kvm *kvm,
				   struct pvclock_vcpu_time_info *hv_clock)
{
	struct persona_vm *pvm = persona_kvm_vm(kvm);

	orig_hv_setup_tsc_page(kvm, hv_clock);
	if (pvm)
		pvm->ops->clock_update(pvm, persona_kvm_vcpu_of_clock(hv_clock),
				       hv_clock);
}

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
	PERSONA_VM_HOOK("kvm_emulate_hypercall", hook_emulate_hypercall,
			orig_emulate_hypercall),
	PERSONA_VM_HOOK("kvm_set_msr_common", hook_set_msr_common,
			orig_set_msr_common),
	PERSONA_VM_HOOK("kvm_arch_vcpu_ioctl_run", hook_vcpu_ioctl_run,
			orig_vcpu_ioctl_run),
	PERSONA_VM_HOOK("kvm_arch_vcpu_load", hook_vcpu_load,
			orig_vcpu_load),
	PERSONA_VM_HOOK("kvm_arch_vcpu_put", hook_vcpu_put, orig_vcpu_put),
	PERSONA_VM_HOOK("kvm_cpu_has_injectable_intr",
			hook_has_injectable_intr, orig_has_injectable_intr),
	PERSONA_VM_HOOK("kvm_cpu_has_interrupt", hook_has_interrupt,
			orig_has_interrupt),
	PERSONA_VM_HOOK("kvm_cpu_get_interrupt", hook_get_interrupt,
			orig_get_interrupt),
	PERSONA_VM_HOOK("kvm_cpu_has_pending_timer", hook_has_pending_timer,
			orig_has_pending_timer),
	PERSONA_VM_HOOK("kvm_inject_pending_timer_irqs",
			hook_inject_pending_timer_irqs,
			orig_inject_pending_timer_irqs),
	PERSONA_VM_HOOK_KVM("kvm_hv_setup_tsc_page", hook_hv_setup_tsc_page,
			    orig_hv_setup_tsc_page),
};

int persona_vm_hooks_get(void)
{
	return persona_hooks_arm();
}

void persona_vm_hooks_put(void)
{
	persona_hooks_disarm();
}

/*
 * After the personalities registered: find kvm.ko's functions, make sure
 * kvm.ko does not have a personality's ABI itself, and start.
 */
int persona_dispatch_init(void)
{
	const struct persona_ops *ops;
	unsigned int i;
	int r;

	r = persona_kallsyms_init();
	r = r ?: persona_kvm_init();
	r = r ?: persona_hooks_resolve(persona_hooks,
				       ARRAY_SIZE(persona_hooks));
	if (r)
		return r;

	/* A kernel with CONFIG_KVM_XEN already has the Xen personality. */
	for (i = 0; i < persona_nr_personalities; i++) {
		ops = persona_personalities[i];
		r = orig_check_extension(NULL, ops->native_cap);
		if (r) {
			pr_err("kvm.ko already implements the %s ABI (%s=%#x), not loading\n",
			       ops->name, ops->native_cap_name, r);
			return -EEXIST;
		}
	}

	r = persona_hooks_start();
	if (r)
		pr_err("not loading\n");
	return r;
}

void persona_dispatch_exit(void)
{
	persona_hooks_stop();
}
