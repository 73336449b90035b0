// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM personality state: created when userspace first enables Xen on a
 * VM, freed when kvm.ko destroys the VM.
 *
 * Each such VM holds a reference on this module: its vCPUs may point
 * kvm.ko's completion callback at our code, so the module must stay until
 * the last of them is gone.  VMs that never enable a personality are not
 * tracked and cost the exit paths one static branch.
 */
#include <linux/hashtable.h>
#include <linux/jump_label.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "persona.h"

#define PERSONA_VM_HASH_BITS	6

static DEFINE_HASHTABLE(persona_vm_table, PERSONA_VM_HASH_BITS);
static DEFINE_SPINLOCK(persona_vm_table_lock);
static unsigned int persona_nr_vms;
static DEFINE_STATIC_KEY_FALSE(persona_have_vms);

bool persona_vms_exist(void)
{
	return static_branch_unlikely(&persona_have_vms);
}

unsigned int persona_vm_count(void)
{
	return READ_ONCE(persona_nr_vms);
}

/*
 * The result stays valid without RCU once found: the state lives exactly
 * as long as the VM, and callers hold a reference to the VM.
 */
struct persona_vm *persona_vm_find(struct kvm *kvm)
{
	struct persona_vm *pvm;

	rcu_read_lock();
	hash_for_each_possible_rcu(persona_vm_table, pvm, node,
				   (unsigned long)kvm) {
		if (pvm->kvm == kvm) {
			rcu_read_unlock();
			return pvm;
		}
	}
	rcu_read_unlock();
	return NULL;
}

static struct persona_vm *persona_vm_alloc(struct kvm *kvm)
{
	struct persona_vm *pvm;

	pvm = kzalloc(sizeof(*pvm), GFP_KERNEL_ACCOUNT);
	if (!pvm)
		return NULL;
	pvm->kvm = kvm;
	mutex_init(&pvm->lock);
	xa_init(&pvm->vcpus);
	return pvm;
}

/*
 * Called from the VM ioctls that enable a personality.  The VM cannot be
 * destroyed concurrently (the caller holds its fd), but two ioctls may race
 * to create the state.
 */
struct persona_vm *persona_vm_get_or_create(struct kvm *kvm)
{
	struct persona_vm *pvm, *other;

	pvm = persona_vm_find(kvm);
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

	spin_lock(&persona_vm_table_lock);
	hash_for_each_possible(persona_vm_table, other, node,
			       (unsigned long)kvm) {
		if (other->kvm == kvm) {
			spin_unlock(&persona_vm_table_lock);
			kfree(pvm);
			module_put(THIS_MODULE);
			return other;
		}
	}
	hash_add_rcu(persona_vm_table, &pvm->node, (unsigned long)kvm);
	persona_nr_vms++;
	spin_unlock(&persona_vm_table_lock);

	/* Not under the spinlock: enabling a static key may sleep. */
	static_branch_inc(&persona_have_vms);
	return pvm;
}

struct persona_vcpu *persona_vcpu_get(struct persona_vm *pvm,
				      struct kvm_vcpu *vcpu)
{
	struct persona_vcpu *pv, *old;

	pv = xa_load(&pvm->vcpus, vcpu->vcpu_idx);
	if (pv)
		return pv;

	pv = kzalloc(sizeof(*pv), GFP_KERNEL_ACCOUNT);
	if (!pv)
		return NULL;
	old = xa_cmpxchg(&pvm->vcpus, vcpu->vcpu_idx, NULL, pv,
			 GFP_KERNEL_ACCOUNT);
	if (old) {
		kfree(pv);
		return xa_is_err(old) ? NULL : old;
	}
	return pv;
}

static void persona_vm_free(struct persona_vm *pvm)
{
	struct persona_vcpu *pv;
	unsigned long i;

	xa_for_each(&pvm->vcpus, i, pv)
		kfree(pv);
	xa_destroy(&pvm->vcpus);
	mutex_destroy(&pvm->lock);
	kfree(pvm);
}

/* kvm.ko has destroyed the vCPUs; nothing can reach @kvm's state now. */
void persona_vm_destroy(struct kvm *kvm)
{
	struct persona_vm *pvm;

	spin_lock(&persona_vm_table_lock);
	pvm = NULL;
	hash_for_each_possible(persona_vm_table, pvm, node,
			       (unsigned long)kvm) {
		if (pvm->kvm == kvm)
			break;
	}
	if (pvm && pvm->kvm == kvm) {
		hash_del_rcu(&pvm->node);
		persona_nr_vms--;
	} else {
		pvm = NULL;
	}
	spin_unlock(&persona_vm_table_lock);

	if (!pvm)
		return;

	static_branch_dec(&persona_have_vms);
	/* Lock-free lookups on other VMs' exit paths may still see it. */
	synchronize_rcu();
	persona_vm_free(pvm);
	module_put(THIS_MODULE);
}

int persona_vm_init(void)
{
	return 0;
}

void persona_vm_exit(void)
{
	/* Each VM holds a module reference, so none can be left. */
	WARN_ON(persona_nr_vms);
}
