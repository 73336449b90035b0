// SPDX-License-Identifier: GPL-2.0
/*
 * Where a VM's personality state hangs (kvm/boundary.h), on kernels whose
 * struct kvm_arch has no room for it (6.12 built without CONFIG_KVM_XEN
 * has no struct kvm_xen): a small hash table keyed by the VM.
 *
 * persona_kvm_vm() runs in the hook engine's ftrace callback, for every
 * VM's calls while a VM with a personality exists, so it takes no lock and
 * calls nothing traceable: readers are preempt-disabled sections (RCU
 * readers), writers take persona_vm_table_lock and free after a grace
 * period.  A VM without a personality costs a hash and one bucket walk.
 */
#include <linux/hashtable.h>
#include <linux/kvm_host.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "boundary.h"

struct persona_vm_entry {
	struct hlist_node node;
	struct kvm *kvm;
	struct persona_vm *pvm;
	struct rcu_head rcu;
};

static DEFINE_HASHTABLE(persona_vm_table, 6);
static DEFINE_SPINLOCK(persona_vm_table_lock);

static struct persona_vm_entry *persona_vm_entry(struct kvm *kvm)
{
	struct persona_vm_entry *e;

	hash_for_each_possible_rcu_notrace(persona_vm_table, e, node,
					   (unsigned long)kvm)
		if (e->kvm == kvm)
			return e;
	return NULL;
}

struct persona_vm *persona_kvm_vm(struct kvm *kvm)
{
	struct persona_vm_entry *e;
	struct persona_vm *pvm;

	preempt_disable_notrace();
	e = persona_vm_entry(kvm);
	pvm = e ? READ_ONCE(e->pvm) : NULL;
	preempt_enable_notrace();
	/*
	 * Valid after the section: the state lives as long as the VM, and
	 * every caller holds a reference to the VM (as with the 6.1 slot).
	 */
	return pvm;
}

/* Publish @pvm for @kvm; returns the state already there, if any. */
struct persona_vm *persona_kvm_install_vm(struct kvm *kvm,
					  struct persona_vm *pvm)
{
	struct persona_vm_entry *e, *new;
	struct persona_vm *other = NULL;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return ERR_PTR(-ENOMEM);
	new->kvm = kvm;
	new->pvm = pvm;

	spin_lock(&persona_vm_table_lock);
	e = persona_vm_entry(kvm);
	if (e)
		other = e->pvm;
	else
		hash_add_rcu(persona_vm_table, &new->node, (unsigned long)kvm);
	spin_unlock(&persona_vm_table_lock);
	if (other)
		kfree(new);
	return other;
}

struct persona_vm *persona_kvm_remove_vm(struct kvm *kvm)
{
	struct persona_vm_entry *e;
	struct persona_vm *pvm = NULL;

	spin_lock(&persona_vm_table_lock);
	e = persona_vm_entry(kvm);
	if (e) {
		pvm = e->pvm;
		hash_del_rcu(&e->node);
	}
	spin_unlock(&persona_vm_table_lock);
	if (e)
		kfree_rcu(e, rcu);
	return pvm;
}
