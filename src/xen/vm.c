// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM personality state: created when userspace first enables Xen on a
 * VM, freed when kvm.ko destroys the VM.
 *
 * Each such VM holds a reference on this module: its vCPUs may point
 * kvm.ko's completion callback at our code, so the module must stay until
 * the last of them is gone.  The state hangs off the VM itself (see
 * persona_kvm_install_vm()): VMs that never enable a personality are not
 * tracked.
 */
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "../kvm/boundary.h"
#include "debugfs.h"
#include "domain.h"
#include "evtchn.h"
#include "grant.h"
#include "shinfo.h"
#include "timer.h"
#include "vm.h"

static void persona_vm_mm_release(struct mmu_notifier *mn,
				  struct mm_struct *mm)
{
	persona_shinfo_mm_release(container_of(mn, struct persona_xen_vm,
					       mm_notifier));
}

static const struct mmu_notifier_ops persona_vm_mm_ops = {
	.release = persona_vm_mm_release,
};

static struct persona_xen_vm *persona_vm_alloc(struct kvm *kvm)
{
	struct persona_xen_vm *pvm;

	/* About 10 KiB with the per-vCPU pointers: kvzalloc(). */
	pvm = kvzalloc(sizeof(*pvm), GFP_KERNEL_ACCOUNT);
	if (!pvm)
		return NULL;
	pvm->vm.ops = &persona_xen_ops;
	pvm->kvm = kvm;
	pvm->vmm_pid = task_tgid_nr(current);
	persona_domain_init_vm(pvm);
	mutex_init(&pvm->lock);
	spin_lock_init(&pvm->vcpu_init_lock);
	persona_gpc_init(kvm, &pvm->shinfo_cache);
	xa_init(&pvm->evtchn_ports);
	xa_init(&pvm->idc_ports);
	persona_gnt_init(pvm);
	pvm->mm_notifier.ops = &persona_vm_mm_ops;
	/* Only the VMM's own ioctls get here: kvm.ko checks current->mm. */
	if (mmu_notifier_register(&pvm->mm_notifier, kvm->mm)) {
		kvfree(pvm);
		return NULL;
	}
	return pvm;
}

static void persona_vm_unregister(struct persona_xen_vm *pvm)
{
	mmu_notifier_unregister(&pvm->mm_notifier, pvm->kvm->mm);
}

static void persona_vm_free(struct persona_xen_vm *pvm)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pvm->vcpus); i++)
		kfree(pvm->vcpus[i]);
	persona_gnt_free(pvm);
	mutex_destroy(&pvm->lock);
	kvfree(pvm);
}

/* The last reference to this module may go here: see persona_vm_exit(). */
static void persona_vm_free_rcu(struct rcu_head *head)
{
	persona_vm_free(container_of(head, struct persona_xen_vm, rcu));
	module_put(THIS_MODULE);
}

/*
 * Called from the ioctls that enable a personality.  The VM cannot be
 * destroyed concurrently (the caller holds its fd), but two ioctls may race
 * to create the state.
 */
struct persona_xen_vm *persona_vm_get_or_create(struct kvm *kvm)
{
	struct persona_vm *other = NULL;
	struct persona_xen_vm *pvm;
	int r;

	pvm = persona_xen_vm_of(kvm);
	if (pvm)
		return pvm;

	/* Refused while the module is on its way out. */
	if (!try_module_get(THIS_MODULE))
		return ERR_PTR(-ENODEV);

	pvm = persona_vm_alloc(kvm);
	if (!pvm) {
		module_put(THIS_MODULE);
		return ERR_PTR(-ENOMEM);
	}

	r = persona_domain_register(pvm);
	if (r)
		goto fail_domain;
	r = persona_vm_hooks_get();
	if (r)
		goto fail_hooks;

	/* Fully initialised before the hooks can see it. */
	other = persona_kvm_install_vm(kvm, &pvm->vm);
	if (other) {
		persona_vm_hooks_put();
		r = 0;
		goto fail_hooks;
	}
	persona_debugfs_vm_add(pvm);
	return pvm;

fail_hooks:
	mutex_lock(&persona_domain_mutex);
	persona_domain_unregister(pvm);
	mutex_unlock(&persona_domain_mutex);
fail_domain:
	persona_vm_unregister(pvm);
	persona_vm_free(pvm);
	module_put(THIS_MODULE);
	if (r)
		return ERR_PTR(r);
	return IS_ERR(other) ? ERR_CAST(other) : persona_xen_vm_of(kvm);
}

/*
 * Before kvm.ko frees the vCPUs: stop what could still reach them (timers,
 * guest memory caches linked into the VM).
 */
void persona_vm_teardown(struct persona_xen_vm *pvm)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	kvm_for_each_vcpu(i, vcpu, pvm->kvm)
		if (persona_vcpu_xen_ready(pvm, vcpu)) {
			persona_timer_stop(vcpu);
			persona_vcpu_xen_teardown(vcpu);
		}
	persona_evtchn_ports_free(pvm);
	persona_gnt_teardown(pvm);
	persona_gpc_deactivate(pvm->kvm, &pvm->shinfo_cache);
	/* Runs the release callback if the mm outlived the fds. */
	persona_vm_unregister(pvm);
}

/* kvm.ko has destroyed the vCPUs; nothing can reach @kvm's state now. */
void persona_vm_destroy(struct kvm *kvm)
{
	struct persona_vm *vm = persona_kvm_remove_vm(kvm);
	struct persona_xen_vm *pvm;

	if (!vm)
		return;
	pvm = container_of(vm, struct persona_xen_vm, vm);

	persona_vm_hooks_put();
	/*
	 * Freed after a grace period: cheap insurance for a lockless reader
	 * outside the vCPUs (an irqfd's routing callback, say) that looked
	 * the pointer up just before it went.
	 */
	call_rcu(&pvm->rcu, persona_vm_free_rcu);
}

void persona_vm_exit(void)
{
	/*
	 * Each Xen VM holds a module reference, so none is left; but the
	 * last one's RCU callback may still be returning.
	 */
	rcu_barrier();
}
