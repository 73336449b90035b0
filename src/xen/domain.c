// SPDX-License-Identifier: GPL-2.0
/*
 * Xen domain IDs.  Every Xen VM on the host has one, unique on the host:
 * it is how one VM names another in EVTCHNOP_alloc_unbound and
 * EVTCHNOP_bind_interdomain (interdomain.c), and nothing else of a VM is
 * reachable from another.  The default is allocated cyclically, so that
 * a destroyed VM's ID is not handed to the next VM at once (a peer may
 * still hold a port meant for the old one); the VMM or the operator
 * may choose another (KVM_XEN_ATTR_TYPE_PERSONA_DOMID), e.g. the one
 * it gave QEMU with xen-domid.
 */
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "domain.h"

/* Xen's reserved IDs start here (DOMID_FIRST_RESERVED); 0 is dom0. */
#define PERSONA_DOMID_MIN	1
#define PERSONA_DOMID_MAX	(DOMID_FIRST_RESERVED - 1)

/* The registry below and every link between domains: locking.rst. */
DEFINE_MUTEX(persona_domain_mutex);

/* Domain ID -> struct persona_xen_vm, under persona_domain_mutex. */
static DEFINE_XARRAY_ALLOC(persona_domains);
static u32 persona_domid_next;

int persona_domain_register(struct persona_xen_vm *pvm)
{
	u32 id;
	int r;

	mutex_lock(&persona_domain_mutex);
	r = xa_alloc_cyclic(&persona_domains, &id, pvm,
			    XA_LIMIT(PERSONA_DOMID_MIN, PERSONA_DOMID_MAX),
			    &persona_domid_next, GFP_KERNEL_ACCOUNT);
	if (r >= 0) {
		pvm->domid = id;
		r = 0;
	}
	mutex_unlock(&persona_domain_mutex);
	return r == -EBUSY ? -ENOSPC : r;
}

/* The caller holds persona_domain_mutex (the VM's teardown). */
void persona_domain_unregister(struct persona_xen_vm *pvm)
{
	lockdep_assert_held(&persona_domain_mutex);
	xa_erase(&persona_domains, pvm->domid);
}

/* The VM with ID @domid, NULL if none. */
struct persona_xen_vm *persona_domain_find(u16 domid)
{
	lockdep_assert_held(&persona_domain_mutex);
	return xa_load(&persona_domains, domid);
}

/*
 * Whether @domid names the caller itself: DOMID_SELF or its own ID.  The
 * VMM's own ID for the guest (QEMU's xen-domid) is the VMM's business,
 * and so are calls that name it.
 */
bool persona_domain_is_self(struct persona_xen_vm *pvm, u16 domid)
{
	return domid == DOMID_SELF || domid == READ_ONCE(pvm->domid);
}

/*
 * KVM_XEN_ATTR_TYPE_PERSONA_DOMID.  Refused (-EBUSY) while the VM has
 * ports bound or being bound to another domain: their peers know it by
 * its ID.
 */
int persona_domain_set_id(struct persona_xen_vm *pvm, u64 domid)
{
	int r = 0;

	if (domid < PERSONA_DOMID_MIN || domid > PERSONA_DOMID_MAX)
		return -EINVAL;

	mutex_lock(&persona_domain_mutex);
	if (domid == pvm->domid)
		goto out;
	if (!xa_empty(&pvm->idc_ports) || pvm->idc_binding) {
		r = -EBUSY;
		goto out;
	}
	r = xa_insert(&persona_domains, domid, pvm, GFP_KERNEL_ACCOUNT);
	if (r) {
		r = r == -EBUSY ? -EEXIST : r;
		goto out;
	}
	xa_erase(&persona_domains, pvm->domid);
	WRITE_ONCE(pvm->domid, domid);
out:
	mutex_unlock(&persona_domain_mutex);
	return r;
}

u16 persona_domain_id(struct persona_xen_vm *pvm)
{
	return READ_ONCE(pvm->domid);
}

/*
 * The domain @domid for an operation of @pvm that may sleep: @pvm itself
 * for DOMID_SELF or its own ID, else another VM held by a reference to
 * its struct kvm until persona_domain_put().  NULL if there is none.
 */
struct persona_xen_vm *persona_domain_get(struct persona_xen_vm *pvm,
					  u16 domid)
{
	struct persona_xen_vm *other;

	if (persona_domain_is_self(pvm, domid))
		return pvm;
	mutex_lock(&persona_domain_mutex);
	other = persona_domain_find(domid);
	/* Its last reference may be gone already: it is being destroyed. */
	if (other && !kvm_get_kvm_safe(other->kvm))
		other = NULL;
	mutex_unlock(&persona_domain_mutex);
	return other;
}

void persona_domain_put(struct persona_xen_vm *pvm, struct persona_xen_vm *other)
{
	if (other && other != pvm)
		kvm_put_kvm(other->kvm);
}

struct persona_domain_work {
	struct work_struct work;
	struct completion done;
	struct persona_xen_vm *pvm;
	int (*fn)(struct persona_xen_vm *pvm, void *ctx);
	void *ctx;
	int ret;
};

static void persona_domain_work_fn(struct work_struct *work)
{
	struct persona_domain_work *dw =
		container_of(work, struct persona_domain_work, work);
	struct kvm *kvm = dw->pvm->kvm;
	int idx;

	/* Never in an address space that is gone. */
	if (!mmget_not_zero(kvm->mm)) {
		dw->ret = -ESRCH;
		goto out;
	}
	kthread_use_mm(kvm->mm);
	idx = srcu_read_lock(&kvm->srcu);
	dw->ret = dw->fn(dw->pvm, dw->ctx);
	srcu_read_unlock(&kvm->srcu, idx);
	kthread_unuse_mm(kvm->mm);
	mmput(kvm->mm);
out:
	complete(&dw->done);
}

/*
 * Run @fn on @pvm's memory: in its VMM's address space under its
 * kvm->srcu, which is where the caller is if @pvm is its own VM, and
 * otherwise in a worker that borrows that address space while the caller
 * waits.  The caller holds a reference to @pvm's VM.  Returns @fn's
 * result, or -ESRCH if the VMM's address space is gone.
 */
int persona_domain_call(struct persona_xen_vm *pvm,
			int (*fn)(struct persona_xen_vm *pvm, void *ctx),
			void *ctx)
{
	struct persona_domain_work dw = { .pvm = pvm, .fn = fn, .ctx = ctx };

	int idx;

	/* Its own VM, or another VM of the same VMM process. */
	if (current->mm == pvm->kvm->mm) {
		idx = srcu_read_lock(&pvm->kvm->srcu);
		dw.ret = fn(pvm, ctx);
		srcu_read_unlock(&pvm->kvm->srcu, idx);
		return dw.ret;
	}

	INIT_WORK_ONSTACK(&dw.work, persona_domain_work_fn);
	init_completion(&dw.done);
	queue_work(system_unbound_wq, &dw.work);
	wait_for_completion(&dw.done);
	destroy_work_on_stack(&dw.work);
	return dw.ret;
}
